"""The first web face: a list of publications, a page per publication, downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.app import create_app
from publications.catalogue import Catalogue
from publications.fields import build_record
from publications.ingest import Ingester, Job
from tests import pdfs

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


@pytest.fixture
def app(settings):  # type: ignore[no-untyped-def]
    app = create_app(settings, TESTING=True)
    yield app
    app.extensions["catalogue"].close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def cat(app) -> Catalogue:  # type: ignore[no-untyped-def]
    return app.extensions["catalogue"]


def _report(cat: Catalogue, tmp_path: Path, title: str, publish: bool = True):  # type: ignore[no-untyped-def]
    path = pdfs.write(tmp_path / f"{len(title)}.pdf", pdfs.report_pdf(title, "Libraries", pages=3))
    with Ingester(cat, publish=publish) as ing:
        (out,) = ing.run([Job(str(path), path)])
    assert out.status == "added", out.error
    return out, path


def test_home_lists_published_only(client, cat, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _report(cat, tmp_path, "Open doors, fewer hours")
    _report(cat, tmp_path, "A draft nobody should see yet", publish=False)
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Open doors, fewer hours" in html
    assert "A draft nobody should see" not in html


def test_publication_page_and_download(client, cat, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, path = _report(cat, tmp_path, "Warm spaces, cold homes")
    page = client.get(f"/publications/{out.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Warm spaces, cold homes</h1>" in html
    assert "3 pages" in html
    assert "Priya Shah" in html and "Tom Reed" in html
    pdf = client.get(f"/publications/{out.slug}/file.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data == path.read_bytes()
    assert pdf.headers["ETag"].strip('"') == cat.files.path_for(
        __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    ).name
    assert f"{out.slug}.pdf" in pdf.headers["Content-Disposition"]
    pdf.close()
    part = client.get(f"/publications/{out.slug}/file.pdf", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == path.read_bytes()[:10]
    part.close()


def test_old_slug_redirects_and_withdrawn_is_a_tombstone(client, cat, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = _report(cat, tmp_path, "Buying better")
    cat.update(out.id, {"title": "Buying better: social value in practice"})
    moved = client.get(f"/publications/{out.slug}")
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith("/publications/buying-better-social-value-in-practice")
    cat.set_status(out.id, "withdrawn", reason="Replaced by the 2023 edition")
    gone = client.get("/publications/buying-better-social-value-in-practice")
    assert gone.status_code == 410
    assert "Replaced by the 2023 edition" in gone.get_data(as_text=True)
    assert client.get("/publications/buying-better-social-value-in-practice/file.pdf").status_code == 404


def test_drafts_and_unknown_slugs_are_404(client, cat, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = _report(cat, tmp_path, "Not yet", publish=False)
    assert client.get(f"/publications/{out.slug}").status_code == 404
    assert client.get(f"/publications/{out.slug}/file.pdf").status_code == 404
    missing = client.get("/publications/nothing-like-this")
    assert missing.status_code == 404
    assert "There is no page at this address" in missing.get_data(as_text=True)


def test_external_link_item(client, cat) -> None:  # type: ignore[no-untyped-def]
    stored = cat.add(
        build_record({"title": "Wellbeing dashboard", "type": "other",
                      "external_link": "https://example.org/dash"}),
        status="published",
    )
    html = client.get(f"/publications/{stored.slug}").get_data(as_text=True)
    assert 'href="https://example.org/dash"' in html


def test_bad_page_numbers(client) -> None:  # type: ignore[no-untyped-def]
    # The full list moved from / to /publications; old links to /?page=N redirect there.
    assert client.get("/?page=abc").status_code == 400
    assert client.get("/?page=0").status_code == 400
    moved = client.get("/?page=99")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/publications?page=99")
    assert client.get("/publications?page=abc").status_code == 400
    assert client.get("/publications?page=0").status_code == 400
    assert client.get("/publications?page=99").status_code == 404
