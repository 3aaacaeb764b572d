"""Ingestion of single files and batches: junk is refused by content, nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publications.catalogue import Catalogue
from publications.check import check_consistency
from publications.errors import IngestError
from publications.extract import ExtractionPool, ExtractLimits
from publications.ingest import Ingester, Job
from publications.sniff import sniff_pdf
from tests import pdfs

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


def _ingest(cat: Catalogue, paths: list[Path], **kw):  # type: ignore[no-untyped-def]
    with Ingester(cat, **kw) as ingester:
        return {Path(o.path).name: o for o in ingester.run(Job(str(p), p) for p in paths)}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "JPEG image"),
        (b"PK\x03\x04" + b"\0" * 100, "ZIP"),
        (b"just some words in a text file\n", "plain text"),
    ],
)
def test_not_a_pdf_is_refused_by_content(tmp_path: Path, data: bytes, reason: str) -> None:
    path = pdfs.write(tmp_path / "report.pdf", data)
    with pytest.raises(IngestError, match=reason):
        sniff_pdf(path)


def test_a_report_is_stored_described_and_journalled(catalogue: Catalogue, tmp_path: Path) -> None:
    path = pdfs.write(
        tmp_path / "draft3.pdf",
        pdfs.report_pdf("Volunteer-run libraries in Westmoor", "Libraries", pages=3),
    )
    out = _ingest(catalogue, [path], publish=True)["draft3.pdf"]
    assert out.status == "added", out.error
    assert out.title == "Volunteer-run libraries in Westmoor"
    assert out.pages == 3
    assert out.flags == ()
    with catalogue.reading() as s:
        pub = catalogue.get(s, out.slug)
        assert pub.status == "published"
        assert pub.provenance["title"] == "first-page"
        sha = pub.current_version.file.sha256
        assert catalogue.page_text(s, pub.id, 2).startswith("Libraries page 2")
    assert catalogue.files.path_for(sha).read_bytes() == path.read_bytes()
    assert check_consistency(catalogue) == []


def test_same_bytes_twice_is_one_file(catalogue: Catalogue, tmp_path: Path) -> None:
    data = pdfs.report_pdf("Health commissioning in practice")
    a = pdfs.write(tmp_path / "a.pdf", data)
    b = pdfs.write(tmp_path / "b" / "copy.pdf", data)
    first = _ingest(catalogue, [a])["a.pdf"]
    again = _ingest(catalogue, [a, b])
    assert first.status == "added"
    assert again["a.pdf"].status == "duplicate" and again["a.pdf"].id == first.id
    assert again["copy.pdf"].status == "duplicate"
    assert len(list(catalogue.files.all_hashes())) == 1


def test_a_bad_file_does_not_stop_the_batch(catalogue: Catalogue, tmp_path: Path) -> None:
    good = [
        pdfs.write(tmp_path / f"good{i}.pdf", pdfs.report_pdf(f"Community wellbeing study {i}"))
        for i in range(4)
    ]
    bad = [
        pdfs.write(tmp_path / "empty.pdf", b""),
        pdfs.write(tmp_path / "page.pdf", b"<html><body>Error 404</body></html>"),
        pdfs.write(tmp_path / "truncated.pdf", pdfs.report_pdf("Cut short")[:300]),
        pdfs.write(tmp_path / "loop.pdf", pdfs.looping_pdf()),
    ]
    out = _ingest(catalogue, good + bad, jobs=2)
    assert [out[p.name].status for p in good] == ["added"] * 4
    for p in bad:
        assert out[p.name].status == "failed"
        assert out[p.name].error and "Traceback" not in out[p.name].error
    assert "empty" in out["empty.pdf"].error
    assert "HTML" in out["page.pdf"].error
    assert "loops" in out["loop.pdf"].error
    assert check_consistency(catalogue) == []


def test_scanned_pdf_is_kept_and_flagged(catalogue: Catalogue, tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "scan.pdf", pdfs.blank_pdf(3))
    out = _ingest(catalogue, [path])["scan.pdf"]
    assert out.status == "added"
    assert "no-text-layer" in out.flags
    assert out.pages == 3


def test_huge_title_is_bounded(catalogue: Catalogue, tmp_path: Path) -> None:
    path = pdfs.write(
        tmp_path / "long.pdf",
        pdfs.text_pdf([[(20, "Housing and homelessness review"), (11, "body text here")]],
                      title="A" * 100_000),
    )
    out = _ingest(catalogue, [path])["long.pdf"]
    assert out.status == "added"
    assert len(out.title) <= 1000


@pytest.mark.slow
def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "bomb.pdf", pdfs.bomb_pdf(300))
    with ExtractionPool(1, ExtractLimits(timeout=60, memory_mb=1024)) as pool:
        with pytest.raises(IngestError) as err:
            pool.extract(path)
    assert "decompress" in str(err.value) or "memory" in str(err.value)


def test_a_worker_that_overruns_is_stopped_and_replaced(tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "bomb.pdf", pdfs.bomb_pdf(300))
    ok = pdfs.write(tmp_path / "ok.pdf", pdfs.report_pdf("Digital inclusion"))
    with ExtractionPool(1, ExtractLimits(timeout=0.05)) as pool:
        with pytest.raises(IngestError, match="longer than"):
            pool.extract(path)
        pool.limits = ExtractLimits(timeout=30)
        assert pool.extract(ok).page_count == 2


def test_outcome_json_shape(catalogue: Catalogue, tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "x.pdf", pdfs.report_pdf("Further education funding"))
    bad = pdfs.write(tmp_path / "y.pdf", b"")
    out = _ingest(catalogue, [path, bad])
    added = json.loads(json.dumps(out["x.pdf"].as_json()))
    assert set(added) == {"path", "status", "id", "slug", "title", "pages", "flags"}
    failed = out["y.pdf"].as_json()
    assert set(failed) == {"path", "status", "error"}
