"""A publication's page: linked metadata, search within, citation, related work, versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal.app import create_app
from portal.citation import cite, format_authors, invert_name
from publications.fields import build_record
from publications.indexer import Indexer
from publications.ingest import Ingester, Job
from publications.models import FileVersion, JournalEntry, StoredFile
from tests import pdfs

DOCS = [
    ("Volunteer-run libraries in Lanton", "Libraries volunteers closures", 4),
    ("Library closures and volunteers in Riverside", "Libraries volunteers closures branches", 3),
    ("Health commissioning for outcomes", "commissioning outcomes health", 2),
]
META = {
    "authors": [{"name": "Priya Shah", "affiliation": "Northfield Policy Hub"}, "Tom Reed"],
    "organisations": [{"name": "Northfield Policy Hub", "role": "publisher"},
                      {"name": "Lanton Council", "role": "commissioned by"}],
    "topics": ["Libraries and culture", "Volunteering"],
    "series": "Hub Insight",
    "series_number": "7",
    "date": "2021-03",
    "doi": "10.5555/nph.2021.007",
    "licence": "CC-BY-4.0",
    "isbn": "978-1-4028-9462-6",
}


@pytest.fixture
def app(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(settings, TESTING=True)
    cat = app.extensions["catalogue"]
    paths = [pdfs.write(tmp_path / f"{i}.pdf", pdfs.report_pdf(title, body, pages))
             for i, (title, body, pages) in enumerate(DOCS)]
    with Ingester(cat, publish=True) as ing:
        outcomes = ing.run(Job(str(p), p) for p in paths)
    assert all(o.status == "added" for o in outcomes)
    cat.update(outcomes[0].id, META)
    app.config["SLUGS"] = [o.slug for o in outcomes]
    Indexer(cat, app.extensions["index"]).apply_pending()
    yield app
    app.extensions["index"].close()
    cat.close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def slug(app) -> str:  # type: ignore[no-untyped-def]
    return app.config["SLUGS"][0]


def test_metadata_is_linked(client, slug: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get(f"/publications/{slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<a href="/people/priya-shah">Priya Shah</a> (Northfield Policy Hub)' in html
    assert '<a href="/people/tom-reed">Tom Reed</a>' in html
    assert ('<dt>Publisher</dt><dd><a href="/organisations/northfield-policy-hub">'
            'Northfield Policy Hub</a></dd>') in html
    assert '<dt>Commissioned by</dt><dd><a href="/organisations/lanton-council">' in html
    assert '<a href="/topics/libraries-and-culture">Libraries and culture</a>' in html
    assert '<a href="/topics/volunteering">Volunteering</a>' in html
    assert '<a href="/series/hub-insight">Hub Insight</a> no. 7' in html
    assert '<a href="/types/report">Report</a>' in html
    assert '<a href="https://doi.org/10.5555/nph.2021.007">10.5555/nph.2021.007</a>' in html
    assert "<dt>Licence</dt><dd>CC-BY-4.0</dd>" in html
    assert "<dt>ISBN</dt><dd>978-1-4028-9462-6</dd>" in html
    assert "<dt>Last updated</dt>" in html
    # every link on the page that leads into the portal works
    for target in ("/people/priya-shah", "/organisations/lanton-council",
                   "/topics/volunteering", "/series/hub-insight", "/types/report"):
        assert client.get(target).status_code == 200, target


def test_citation(client, slug: str) -> None:  # type: ignore[no-untyped-def]
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert ('<p class="citation">Shah, P., &amp; Reed, T. (2021). <i>Volunteer-run libraries in '
            'Lanton</i> (Hub Insight, No. 7). Northfield Policy Hub. '
            'https://doi.org/10.5555/nph.2021.007</p>') in html


def test_citation_rules(app) -> None:  # type: ignore[no-untyped-def]
    assert invert_name("Priya Shah") == "Shah, P."
    assert invert_name("Mary-Jane Anne Smith") == "Smith, M.-J. A."
    assert invert_name("Ludwig van Beethoven") == "van Beethoven, L."
    assert invert_name("Shah, Priya") == "Shah, P."
    assert invert_name("Plato") == "Plato"
    assert format_authors(["A Bee"]) == "Bee, A."
    assert format_authors(["A Bee", "C Dee", "E Eff"]) == "Bee, A., Dee, C., & Eff, E."
    many = format_authors([f"Ann Person{i}" for i in range(25)])
    assert many.startswith("Person0, A., ") and many.endswith(", . . . Person24, A.")
    assert "Person19," not in many
    cat = app.extensions["catalogue"]
    stored = cat.add(build_record({"title": "Who pays?", "organisations": ["Lanton Council"]}),
                     status="published")
    with cat.reading() as session:
        c = cite(cat.get(session, stored.id), "https://portal.example/publications/who-pays")
    assert c.text == "Lanton Council. (n.d.). Who pays? https://portal.example/publications/who-pays"


def test_citation_without_any_author_puts_the_title_first(app, client) -> None:  # type: ignore[no-untyped-def]
    cat = app.extensions["catalogue"]
    stored = cat.add(build_record({"title": "Airworthiness directives", "date": "2020-08-06"}),
                     status="published")
    html = client.get(f"/publications/{stored.slug}").get_data(as_text=True)
    url = f"http://localhost/publications/{stored.slug}"
    # APA 7: a work with no author (and no publishing body) is cited by its title, then the year
    assert f'<p class="citation"><i>Airworthiness directives</i>. (2020). {url}</p>' in html
    # Harvard (Cite Them Right): the title, then the year in brackets
    assert (f'<p class="citation"><i>Airworthiness directives</i> (2020). Available at: {url}.</p>'
            in html)
    assert "<p class=\"citation\"> " not in html and "<p class=\"citation\">(2020)" not in html


def test_search_within_shows_pages_with_snippets(client, slug: str) -> None:  # type: ignore[no-untyped-def]
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert f'action="/publications/{slug}/search"' in html
    page = client.get(f"/publications/{slug}/search?q=volunteers")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<strong>4</strong> pages match <q>volunteers</q>" in html
    for n in (1, 2, 3, 4):
        assert f'href="/publications/{slug}/file.pdf#page={n}">Page {n}</a>' in html
    assert "<mark>" in html
    assert 'value="volunteers"' in html
    none = client.get(f"/publications/{slug}/search?q=submarine").get_data(as_text=True)
    assert "No page of this publication matches <q>submarine</q>" in none
    assert f"/publications/{slug}/file.pdf" not in none
    empty = client.get(f"/publications/{slug}/search")
    assert empty.status_code == 200 and 'id="within-q"' in empty.get_data(as_text=True)


def test_search_within_pages_and_status_codes(app, client, slug, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("portal.views.WITHIN_PER_PAGE", 3)
    first = client.get(f"/publications/{slug}/search?q=volunteers").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert f'href="/publications/{slug}/search?q=volunteers&amp;page=2"' in first
    second = client.get(f"/publications/{slug}/search?q=volunteers&page=2")
    assert second.get_data(as_text=True).count("#page=") == 1
    assert client.get(f"/publications/{slug}/search?q=volunteers&page=3").status_code == 404
    assert client.get(f"/publications/{slug}/search?q=volunteers&page=0").status_code == 400
    assert client.get(f"/publications/{slug}/search?q=volunteers&page=x").status_code == 400
    assert client.get(f"/publications/{slug}/search", query_string={"q": "x" * 5000}).status_code == 413
    assert client.get("/publications/no-such-thing/search?q=a").status_code == 404
    cat = app.extensions["catalogue"]
    other = app.config["SLUGS"][2]
    cat.update(other, {"title": "Commissioning for outcomes in health"})
    moved = client.get(f"/publications/{other}/search?q=health")
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith(
        "/publications/commissioning-for-outcomes-in-health/search?q=health")
    cat.set_status(other, "draft")
    assert client.get(f"/publications/{other}/search?q=health").status_code == 404


def test_search_within_engine_down_is_503(app, client, slug, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from index import IndexUnavailable

    def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise IndexUnavailable("disk gone")

    monkeypatch.setattr(app.extensions["index"], "search", broken)
    monkeypatch.setattr(app.extensions["index"], "more_like_this", broken)
    assert client.get(f"/publications/{slug}/search?q=volunteers").status_code == 503
    page = client.get(f"/publications/{slug}")  # the page itself still works, without related
    assert page.status_code == 200 and "Related publications" not in page.get_data(as_text=True)


def test_related_publications_are_published_only(app, client, slug) -> None:  # type: ignore[no-untyped-def]
    slugs = app.config["SLUGS"]
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    related = html[html.index('id="related-title"'):]
    assert f'href="/publications/{slugs[1]}"' in related
    assert f'href="/publications/{slug}"' not in related
    # withdrawn in the catalogue but not yet re-indexed: the catalogue's word wins
    app.extensions["catalogue"].set_status(slugs[1], "withdrawn", reason="error found")
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert f'href="/publications/{slugs[1]}"' not in html


def test_versions_list(app, client, slug) -> None:  # type: ignore[no-untyped-def]
    cat = app.extensions["catalogue"]
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert "<h3>Versions</h3>" not in html  # one file: the download line says it all
    with cat.session() as session:
        pub = cat.get(session, slug)
        for v in pub.versions:
            v.is_current = False
        newer = StoredFile(sha256="f" * 64, size=2048, page_count=5)
        session.add(newer)
        session.flush()
        session.add(FileVersion(publication_id=pub.id, file_id=newer.id, number=2, is_current=True))
        # as every change the catalogue makes, this one asks for re-indexing in the same
        # transaction (which is also what tells a cached page it is out of date)
        session.add(JournalEntry(publication_id=pub.id, action="upsert"))
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert "<h3>Versions</h3>" in html
    assert "Version 2, added" in html and "5 pages, 2.0 KB <strong>(current)</strong>" in html
    assert "Version 1, added" in html


def test_withdrawn_and_moved_pages_keep_their_status(app, client, slug) -> None:  # type: ignore[no-untyped-def]
    cat = app.extensions["catalogue"]
    cat.update(slug, {"title": "Volunteer-run libraries in Lanton, revisited"})
    moved = client.get(f"/publications/{slug}")
    assert moved.status_code == 301
    cat.set_status(slug, "withdrawn", reason="Superseded")
    gone = client.get(moved.headers["Location"])
    assert gone.status_code == 410
    html = gone.get_data(as_text=True)
    assert "Shah, P., &amp; Reed, T. (2021). <i>Volunteer-run libraries in Lanton, revisited</i>" in html
    assert client.get(f"/publications/{slug}/search?q=volunteers", follow_redirects=True).status_code == 410


def test_security_headers_on_pages_and_files(client, slug) -> None:  # type: ignore[no-untyped-def]
    for response in (client.get(f"/publications/{slug}"),
                     client.get(f"/publications/{slug}/search?q=volunteers"),
                     client.get(f"/publications/{slug}/file.pdf")):
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            # JSON-LD is data and an external script file is allowed by the CSP; no inline script.
            html = re.sub(r'<script type="application/ld\+json">[^<]*</script>'
                          r'|<script src="/static/[a-z]+\.js" defer></script>', "", html)
            assert "style=" not in html and "<script" not in html
        response.close()


def test_hostile_metadata_is_escaped(app, client) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>alert(1)</script>"
    cat = app.extensions["catalogue"]
    stored = cat.add(build_record({
        "title": f"T {evil}", "subtitle": evil, "abstract": evil, "authors": [evil],
        "organisations": [evil], "topics": [evil], "keywords": [evil], "series": evil,
        "series_number": "1", "licence": evil, "isbn": evil, "url": "javascript:alert(1)",
        "external_link": "javascript:alert(2)", "date": "2020",
    }), status="published")
    page = client.get(f"/publications/{stored.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert evil not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    assert 'href="javascript:' not in html
    searched = client.get(f"/publications/{stored.slug}/search", query_string={"q": evil})
    assert evil not in searched.get_data(as_text=True)


def test_a_served_page_follows_changes_made_by_another_process(app, client, slug, settings) -> None:  # type: ignore[no-untyped-def]
    first = client.get(f"/publications/{slug}")
    again = client.get(f"/publications/{slug}")
    assert again.get_data() == first.get_data()  # the second view is served from memory
    assert again.headers["Link"] == first.headers["Link"]  # Signposting is kept with it
    # another process (a second catalogue on the same database) changes the summary
    from publications.catalogue import Catalogue

    other = Catalogue(settings)
    try:
        other.update(slug, {"abstract": "A revised summary written elsewhere."})
    finally:
        other.close()
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert "A revised summary written elsewhere." in html


def test_every_served_view_is_counted(app, client, slug) -> None:  # type: ignore[no-untyped-def]
    from publications.usage import most_used

    for _ in range(3):  # the first renders the page, the others come from memory
        assert client.get(f"/publications/{slug}").status_code == 200
    cat = app.extensions["catalogue"]
    app.extensions["usage"].flush(cat)
    with cat.reading() as session:
        views = {pub.slug: v for pub, v, _ in most_used(session)}
    assert views[slug] == 3


def test_page_cache_stays_within_its_budget() -> None:
    from portal.pagecache import CachedPage, PageCache

    cache = PageCache(max_bytes=4000)
    assert cache.get(("page", 0), "state-1") is None  # a view asks first, in the state it read
    for n in range(10):
        cache.put(("page", n), "state-1", CachedPage(b"x" * 900, n, ""))
    assert cache.size <= 4000 and len(cache) == 4
    assert cache.get(("page", 9), "state-1") is not None  # the newest are kept
    assert cache.get(("page", 0), "state-1") is None
    assert cache.get(("page", 9), "state-2") is None  # a new state drops every page
    assert len(cache) == 0
    cache.put(("page", 1), "state-1", CachedPage(b"x", 1, ""))  # rendered from an old state
    assert len(cache) == 0
