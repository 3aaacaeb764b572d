"""Atom feeds, the sitemap, robots.txt and the OpenSearch description."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser
import pytest

from tests.interop import build_app, close_app

BASE = "http://127.0.0.1:5000"


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # type: ignore[no-untyped-def]
    from publications.settings import Settings

    tmp = tmp_path_factory.mktemp("feeds")
    app = build_app(Settings(home=tmp / "home", extract_timeout=60.0), tmp)
    yield app
    close_app(app)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def _feed(client, path: str):  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    assert parsed.version == "atom10"
    return parsed


@pytest.mark.parametrize("path", [
    "/feeds/latest.atom", "/feeds/topics/libraries-and-culture.atom",
    "/feeds/organisations/northfield-policy-hub.atom", "/feeds/people/tom-reed.atom",
    "/feeds/series/hub-insight.atom", "/search.atom?q=libraries", "/search.atom?type=book",
    "/search.atom",
])
def test_every_feed_parses_cleanly(client, path: str) -> None:  # type: ignore[no-untyped-def]
    parsed = _feed(client, path)
    assert parsed.entries
    for entry in parsed.entries:
        assert entry.title and entry.link.startswith(f"{BASE}/publications/")
        assert entry.id.startswith(f"{BASE}/publications/") and entry.updated


def test_feed_contents(client, app) -> None:  # type: ignore[no-untyped-def]
    latest = _feed(client, "/feeds/latest.atom")
    assert latest.feed.title.startswith("Newest publications")
    assert [e.title for e in latest.entries][0] == "Hub newsletter, spring"  # dated 2022-04
    person = _feed(client, "/feeds/people/tom-reed.atom")
    assert {e.title for e in person.entries} == {
        "Volunteer-run libraries in Lanton", "Libraries as social infrastructure"}
    report = next(e for e in person.entries if e.title.startswith("Volunteer"))
    assert [a.name for a in report.authors] == ["Priya Shah", "Tom Reed"]
    assert report.summary.startswith("How volunteer-run libraries")
    pdf = [link for link in report.links if link.rel == "enclosure"]
    assert pdf[0].href.endswith("/file.pdf") and pdf[0].type == "application/pdf"
    books = _feed(client, "/search.atom?type=book")
    assert [e.title for e in books.entries] == ["The civic library"]


def test_feed_errors_and_links_in_heads(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/feeds/topics/no-such-topic.atom").status_code == 404
    assert client.get("/feeds/series/nope.atom").status_code == 404
    assert client.get("/search.atom?sort=sideways").status_code == 400
    topic_page = client.get("/topics/volunteering").get_data(as_text=True)
    assert ('<link rel="alternate" type="application/atom+xml" '
            'href="/feeds/topics/volunteering.atom"') in topic_page
    search_page = client.get("/search?q=libraries").get_data(as_text=True)
    assert 'href="/search.atom?q=libraries"' in search_page
    assert 'href="/search/cite.bib?q=libraries"' in search_page
    home = client.get("/").get_data(as_text=True)
    assert 'href="/feeds/latest.atom"' in home


def test_drafts_and_withdrawn_never_in_feeds(app, client) -> None:  # type: ignore[no-untyped-def]
    from publications.fields import build_record

    cat = app.extensions["catalogue"]
    cat.add(build_record({"title": "Secret draft", "date": "2030"}), status="draft")
    titles = {e.title for e in _feed(client, "/feeds/latest.atom").entries}
    assert "Secret draft" not in titles


def test_sitemap_lists_published_and_browse_pages(app, client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.fromstring(response.data)
    urls = {u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
            for u in root.findall("s:url", ns)}
    slugs = app.config["SLUGS"]
    for slug in slugs.values():
        assert urls[f"{BASE}/publications/{slug}"]  # with a lastmod
    assert f"{BASE}/topics/volunteering" in urls and f"{BASE}/years/2021" in urls
    assert f"{BASE}/types/working-paper" in urls and f"{BASE}/series/hub-insight" in urls
    assert all(len(v) == 10 for v in urls.values())
    for loc in urls:
        assert client.get(loc.removeprefix(BASE)).status_code == 200, loc


def test_robots_and_opensearch(client) -> None:  # type: ignore[no-untyped-def]
    robots = client.get("/robots.txt").get_data(as_text=True)
    assert f"Sitemap: {BASE}/sitemap.xml" in robots and "Disallow: /search" in robots
    response = client.get("/opensearch.xml")
    assert response.mimetype == "application/opensearchdescription+xml"
    root = ET.fromstring(response.data)
    ns = {"o": "http://a9.com/-/spec/opensearch/1.1/"}
    templates = {u.get("type"): u.get("template") for u in root.findall("o:Url", ns)}
    assert templates["text/html"].startswith(f"{BASE}/search?q={{searchTerms}}")
    assert templates["application/atom+xml"] == f"{BASE}/search.atom?q={{searchTerms}}"
