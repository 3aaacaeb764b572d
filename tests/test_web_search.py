"""The search page: results with snippets and page links, facets as filters, honest statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.app import create_app
from publications.indexer import Indexer
from publications.ingest import Ingester, Job
from tests import pdfs

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


@pytest.fixture
def app(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(settings, TESTING=True)
    cat = app.extensions["catalogue"]
    docs = [
        ("Volunteer-run libraries in Lanton", "Libraries volunteers closures", 4),
        ("Social value in council contracts", "procurement social value weighting", 3),
        ("Health commissioning for outcomes", "commissioning outcomes health", 2),
    ]
    paths = []
    for i, (title, body, pages) in enumerate(docs):
        paths.append(pdfs.write(tmp_path / f"{i}.pdf", pdfs.report_pdf(title, body, pages)))
    with Ingester(cat, publish=True) as ing:
        outcomes = ing.run(Job(str(p), p) for p in paths)
    assert all(o.status == "added" for o in outcomes)
    Indexer(cat, app.extensions["index"]).apply_pending()
    yield app
    app.extensions["index"].close()
    cat.close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def test_results_show_snippets_and_page_links(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/search?q=volunteers+closures")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Volunteer-run libraries in Lanton" in html
    assert "<mark>" in html
    assert "/publications/volunteer-run-libraries-in-lanton/file.pdf#page=" in html


def test_facets_are_links_that_filter(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/search?q=public+services").get_data(as_text=True)
    assert "<strong>3</strong> results" in html
    assert '<h2>Type</h2>' in html and "report <span class=\"count\">(3)</span>" in html
    assert 'href="/search?q=public+services&amp;type=report"' in html
    filtered = client.get("/search?q=libraries&type=report").get_data(as_text=True)
    assert "Volunteer-run libraries in Lanton" in filtered
    none = client.get("/search?q=libraries&type=newsletter")
    assert none.status_code == 200
    assert "Nothing matched" in none.get_data(as_text=True)


def test_any_query_string_is_safe(client) -> None:  # type: ignore[no-untyped-def]
    for q in ['"unbalanced', "title:", "(((", "10.5555/nph.2021.004", "https://x.org/a?b=c",
              "a AND OR NOT", "\x00\x01", "<script>alert(1)</script>"]:
        page = client.get("/search", query_string={"q": q})
        assert page.status_code == 200, q
        assert "<script>alert(1)</script>" not in page.get_data(as_text=True)


def test_honest_status_codes(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/search?q=libraries&page=x").status_code == 400
    assert client.get("/search?q=libraries&page=0").status_code == 400
    assert client.get("/search?q=libraries&page=50").status_code == 404
    assert client.get("/search?q=libraries&sort=sideways").status_code == 400
    assert client.get("/search", query_string={"q": "x" * 5000}).status_code == 413


def test_index_unavailable_is_a_friendly_503(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from index import IndexUnavailable

    def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise IndexUnavailable("disk gone")

    monkeypatch.setattr(app.extensions["index"], "search", broken)
    page = client.get("/search?q=libraries")
    assert page.status_code == 503
    assert "try again" in page.get_data(as_text=True)


def test_markup_inside_a_pdf_is_shown_as_text(app, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat = app.extensions["catalogue"]
    path = pdfs.write(tmp_path / "x.pdf", pdfs.report_pdf(
        "<script>alert(1)</script> Hostile heading", "<script>alert(2)</script> lantern", 2))
    with Ingester(cat, publish=True) as ing:
        (out,) = ing.run([Job(str(path), path)])
    Indexer(cat, app.extensions["index"]).apply_pending()
    for url in (f"/publications/{out.slug}", "/search?q=lantern+hostile", "/"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(" not in html, url
        assert "&lt;script&gt;alert(" in html, url
