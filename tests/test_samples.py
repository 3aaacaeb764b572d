"""The sample collection: scripts/make_samples.py turns samples/*.md into PDFs + a manifest."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("fpdf")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_samples.py"

ALLOWED_KEYS = {
    "title", "subtitle", "authors", "organisations", "date", "type", "series",
    "series_number", "topics", "keywords", "abstract", "language", "licence", "doi",
    "isbn", "issn", "url", "external_link", "file",
}
ALLOWED_TYPES = {
    "report", "working paper", "briefing", "article", "book", "chapter", "newsletter",
    "presentation", "video", "other",
}
ALLOWED_ROLES = {"publisher", "commissioned by", "partner", "funder"}


def _build(outdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(outdir), "--quiet"],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    result = _build(out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def records(built) -> list[dict]:
    lines = (built / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(autouse=True)
def _quiet_pypdf():
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def _pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(str(path))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def test_enough_records(records):
    assert len(records) >= 15


def test_only_allowed_keys_and_values(records):
    for rec in records:
        assert set(rec) <= ALLOWED_KEYS, set(rec) - ALLOWED_KEYS
        assert rec["title"].strip()
        assert rec["type"] in ALLOWED_TYPES
        assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", rec["date"])
        for org in rec.get("organisations", []):
            assert set(org) == {"name", "role"} and org["role"] in ALLOWED_ROLES
        for author in rec.get("authors", []):
            assert isinstance(author, (str, dict))
            if isinstance(author, dict):
                assert set(author) <= {"name", "affiliation"} and author["name"]
        for key in ("topics", "keywords"):
            assert isinstance(rec.get(key, []), list)
        if "doi" in rec:
            # the reserved example prefix only: these identifiers must never resolve
            assert rec["doi"].startswith("10.5555/")


def test_every_record_is_marked_as_sample(records):
    for rec in records:
        assert "sample" in rec["keywords"], rec["title"]


def test_files_exist_and_are_readable_pdfs_with_their_title(built, records):
    with_files = [r for r in records if "file" in r]
    assert len(with_files) >= 15
    for rec in with_files:
        path = built / rec["file"]
        assert rec["file"].startswith("files/") and path.is_file(), rec["file"]
        assert path.read_bytes()[:5] == b"%PDF-"
        text = _pdf_text(path)
        words = set(_words(text))
        missing = [w for w in _words(rec["title"]) if w not in words]
        assert not missing, (rec["file"], missing)
        assert "sample publication" in " ".join(_words(text)), rec["file"]


def test_reports_have_executive_summary_and_several_pages(built, records):
    reports = [r for r in records if r["type"] == "report"]
    assert len(reports) >= 4
    for rec in reports:
        reader = pypdf.PdfReader(str(built / rec["file"]))
        assert 6 <= len(reader.pages) <= 15, (rec["file"], len(reader.pages))
        assert "executive summary" in _pdf_text(built / rec["file"]).lower()


def test_working_papers_have_an_abstract(built, records):
    papers = [r for r in records if r["type"] == "working paper"]
    assert papers
    for rec in papers:
        assert rec.get("abstract")
        assert "Abstract" in _pdf_text(built / rec["file"])


def test_collection_is_varied(records):
    assert len({r["type"] for r in records}) >= 5
    assert len({r["date"][:4] for r in records}) >= 6
    assert len({t for r in records for t in r.get("topics", [])}) >= 6
    assert len({r["language"] for r in records if "language" in r}) >= 2
    assert any(r.get("series_number") for r in records)
    assert any(r.get("licence") for r in records)
    assert any(r.get("doi") for r in records)
    assert {o["role"] for r in records for o in r.get("organisations", [])} == ALLOWED_ROLES


def test_one_link_only_record(records):
    link_only = [r for r in records if "file" not in r]
    assert link_only
    for rec in link_only:
        assert rec.get("external_link", "").startswith("https://")


def test_pdf_metadata_varies(built, records):
    """Some PDFs carry real metadata, others none or a word-processor placeholder."""
    titles = []
    for rec in records:
        if "file" in rec:
            meta = pypdf.PdfReader(str(built / rec["file"])).metadata or {}
            titles.append(meta.get("/Title"))
    assert any(t and t.startswith(rec_t) for t in titles for rec_t in
               [r["title"] for r in records])
    assert None in titles
    assert "Microsoft Word - draft3.doc" in titles


def test_text_volume_for_search(built, records):
    total = sum(len(_words(_pdf_text(built / r["file"]))) for r in records if "file" in r)
    assert total >= 40_000


def test_deterministic(tmp_path, built):
    again = tmp_path / "again"
    result = _build(again)
    assert result.returncode == 0, result.stderr

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()
        }

    assert digests(again) == digests(built)


def test_idempotent_rebuild_into_same_dir(tmp_path):
    out = tmp_path / "out"
    assert _build(out).returncode == 0
    (out / "files" / "stale.pdf").write_bytes(b"%PDF-old")
    first = (out / "manifest.jsonl").read_bytes()
    assert _build(out).returncode == 0
    assert (out / "manifest.jsonl").read_bytes() == first
    assert not (out / "files" / "stale.pdf").exists()
