"""Browsing the collection: home, topics, types, years, organisations, people, series, A-Z."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.app import create_app
from publications.catalogue import Catalogue
from publications.fields import build_record

HUB = {"name": "Northfield Policy Hub", "role": "publisher"}


def _add(cat: Catalogue, status: str = "published", **fields: Any) -> str:
    stored = cat.add(build_record(fields), status="published" if status == "withdrawn" else status)
    if status == "withdrawn":
        cat.set_status(stored.id, "withdrawn", reason="superseded")
    return stored.slug


@pytest.fixture
def app(settings):  # type: ignore[no-untyped-def]
    app = create_app(settings, TESTING=True)
    cat = app.extensions["catalogue"]
    _add(cat, title="Libraries in decline", type="report", date="2021-03",
         authors=["Priya Shah", "Tom Reed"],
         organisations=[HUB, {"name": "Lanton Council", "role": "partner"}],
         topics=["Libraries"], series="Hub Insight", series_number="3")
    _add(cat, title="Budgets and branches", type="briefing", date="2019",
         authors=["Priya Shah"], organisations=[HUB], topics=["Libraries", "Local government"])
    _add(cat, title="Zero hours", type="working paper", date="2021-11-02", authors=["Tom Reed"],
         organisations=[HUB], topics=["Employment"], series="Hub Insight", series_number="4")
    _add(cat, title="2020 vision", type="newsletter", date="2020-01", topics=["Employment"])
    _add(cat, status="draft", title="Secret draft", type="video", date="2018",
         authors=["Priya Shah", "Draft Only"], topics=["Libraries", "Draft topic"],
         organisations=[{"name": "Hidden Org", "role": "funder"}], series="Draft series")
    _add(cat, status="withdrawn", title="Lost libraries", date="2021", topics=["Libraries"],
         authors=["Priya Shah"], organisations=[HUB])
    yield app
    cat.close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def _html(client, url: str) -> str:  # type: ignore[no-untyped-def]
    page = client.get(url)
    assert page.status_code == 200, url
    return page.get_data(as_text=True)


def _titles(html: str) -> list[str]:
    return re.findall(r'class="item-title"><a href="[^"]+">([^<]+)</a>', html)


def test_home_has_search_newest_ways_in_and_a_chart(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/")
    assert 'role="search"' in html and 'name="q"' in html
    assert _titles(html) == ["Zero hours", "Libraries in decline", "2020 vision",
                             "Budgets and branches"]
    for url in ("/topics", "/types", "/years", "/organisations", "/series", "/titles"):
        assert f'href="{url}"' in html
    assert "Secret draft" not in html and "Lost libraries" not in html


def test_year_chart_has_a_text_alternative(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/")
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="year-chart-title year-chart-desc"' in svg
    assert '<title id="year-chart-title">Publications per year, 2019 to 2021</title>' in svg
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S).group(1)  # type: ignore[union-attr]
    assert "2019: 1. 2020: 1. 2021: 2." in desc
    assert "The busiest year was 2021 with 2" in desc
    assert svg.count("<rect") == 3
    assert "style=" not in svg
    table = html[html.index('<table class="visually-hidden">'):html.index("</table>")]
    assert '<a href="/years/2021">2021</a></th><td>2</td>' in table
    assert '<a href="/years/2019">2019</a></th><td>1</td>' in table


def test_topics_count_published_only(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/topics")
    assert re.search(r'href="/topics/libraries">Libraries</a>\s*<span class="count">2 publications', html)
    assert re.search(r'href="/topics/employment">Employment</a>\s*<span class="count">2 publications', html)
    assert "Draft topic" not in html
    topic = _html(client, "/topics/libraries")
    assert "<h1>Libraries</h1>" in topic and "2 publications." in topic
    assert _titles(topic) == ["Libraries in decline", "Budgets and branches"]
    assert client.get("/topics/draft-topic").status_code == 404
    assert client.get("/topics/no-such-topic").status_code == 404


def test_listings_sort_newest_oldest_and_by_title(client) -> None:  # type: ignore[no-untyped-def]
    assert _titles(_html(client, "/topics/employment")) == ["Zero hours", "2020 vision"]
    assert _titles(_html(client, "/topics/employment?sort=oldest")) == ["2020 vision", "Zero hours"]
    assert _titles(_html(client, "/publications?sort=title")) == [
        "2020 vision", "Budgets and branches", "Libraries in decline", "Zero hours"]
    html = _html(client, "/topics/employment?sort=oldest")
    assert '<a href="/topics/employment?sort=oldest" aria-current="true" class="on">' in html
    assert client.get("/topics/employment?sort=sideways").status_code == 400


def test_types(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/types")
    assert re.search(r'href="/types/working-paper">Working paper</a>\s*<span class="count">1 publication<', html)
    assert "/types/video" not in html  # only a draft is a video
    assert _titles(_html(client, "/types/working-paper")) == ["Zero hours"]
    assert client.get("/types/video").status_code == 404
    assert client.get("/types/podcast").status_code == 404


def test_years(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/years")
    assert re.search(r'href="/years/2021">2021</a>\s*<span class="count">2 publications', html)
    assert "/years/2018" not in html
    assert "<svg" in html
    assert _titles(_html(client, "/years/2021")) == ["Zero hours", "Libraries in decline"]
    assert client.get("/years/2018").status_code == 404
    assert client.get("/years/next-year").status_code == 404


def test_organisations_and_people(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/organisations")
    assert re.search(r'href="/organisations/northfield-policy-hub">Northfield Policy Hub</a>\s*'
                     r'<span class="count">3 publications', html)
    assert "Hidden Org" not in html
    hub = _html(client, "/organisations/northfield-policy-hub")
    assert "Publisher of 3." in hub
    assert _titles(_html(client, "/organisations/lanton-council")) == ["Libraries in decline"]
    assert client.get("/organisations/hidden-org").status_code == 404
    person = _html(client, "/people/priya-shah")
    assert "<h1>Priya Shah</h1>" in person
    assert _titles(person) == ["Libraries in decline", "Budgets and branches"]
    assert client.get("/people/draft-only").status_code == 404
    assert client.get("/people/nobody").status_code == 404


def test_series(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/series")
    assert re.search(r'href="/series/hub-insight">Hub Insight</a>\s*<span class="count">2 publications', html)
    assert "Draft series" not in html
    assert _titles(_html(client, "/series/hub-insight?sort=oldest")) == [
        "Libraries in decline", "Zero hours"]
    assert client.get("/series/draft-series").status_code == 404


def test_titles_a_to_z(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(client, "/titles?letter=L")
    assert _titles(html) == ["Libraries in decline"]
    assert '<a href="/titles?letter=L" aria-current="page">L</a>' in html
    assert '<a href="/titles?letter=Z">Z</a>' in html
    assert '<span class="empty" title="No titles">Q</span>' in html
    assert _titles(_html(client, "/titles?letter=%23")) == ["2020 vision"]
    assert _titles(_html(client, "/titles")) == ["Budgets and branches"]  # first letter in use
    empty = _html(client, "/titles?letter=Q")
    assert "No published titles start with this letter yet." in empty
    assert client.get("/titles?letter=AB").status_code == 400


def test_pagination_status_codes(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("portal.browse.PER_PAGE", 1)
    first = _html(client, "/topics/libraries?sort=title")
    assert _titles(first) == ["Budgets and branches"]
    assert "Page 1 of 2" in first
    assert 'rel="next" href="/topics/libraries?sort=title&amp;page=2"' in first
    second = _html(client, "/topics/libraries?sort=title&page=2")
    assert _titles(second) == ["Libraries in decline"]
    assert 'rel="prev" href="/topics/libraries?sort=title"' in second  # page 1 is the plain URL
    for url in ("/topics/libraries?page=x", "/topics/libraries?page=0", "/years/2021?page=-1",
                "/titles?letter=L&page=abc", "/publications?page=0"):
        assert client.get(url).status_code == 400, url
    for url in ("/topics/libraries?page=3", "/years/2021?page=9", "/series/hub-insight?page=3",
                "/titles?letter=Q&page=2", "/publications?page=99"):
        assert client.get(url).status_code == 404, url


def test_all_publications_list_is_paginated(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("portal.views.PER_PAGE", 3)
    html = _html(client, "/publications")
    assert "4 publications, showing 1–3." in html and 'href="/publications?page=2"' in html
    assert _titles(_html(client, "/publications?page=2")) == ["Budgets and branches"]


BROWSE_PAGES = ("/", "/publications", "/topics", "/topics/libraries", "/types",
                "/types/report", "/years", "/years/2021", "/organisations",
                "/organisations/lanton-council", "/people/tom-reed", "/series",
                "/series/hub-insight", "/titles", "/titles?letter=%23")


@pytest.mark.parametrize("url", BROWSE_PAGES)
def test_security_headers_and_no_inline_code(client, url: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get(url)
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    html = page.get_data(as_text=True)
    assert "style=" not in html and "<script" not in html and " on" + "click" not in html
    assert html.count("<h1") == 1 and "<main id=\"main\"" in html
    assert 'href="#main"' in html  # skip link


def test_security_headers_on_errors_and_static_files(client) -> None:  # type: ignore[no-untyped-def]
    for response in (client.get("/topics/nope"), client.get("/topics/libraries?page=x"),
                     client.get("/static/portal.css")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in response.headers
        response.close()


def test_metadata_is_escaped_everywhere(app, client) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>alert(1)</script>"
    cat = app.extensions["catalogue"]
    slug = _add(cat, title=f"Harmless {evil}", date="2022", authors=[f"Eve {evil}"],
                topics=[f"Topic {evil}"], organisations=[{"name": f"Org {evil}", "role": "partner"}],
                series=f"Series {evil}")
    pages = ["/", "/publications", "/topics", "/organisations", "/series", "/titles?letter=H",
             f"/publications/{slug}"]
    with cat.reading() as session:
        pub = cat.get(session, slug)
        pages += [f"/topics/{pub.topics[0].slug}", f"/people/{pub.authors[0].person.slug}",
                  f"/organisations/{pub.organisations[0].organisation.slug}"]
    for url in pages:
        html = _html(client, url)
        assert evil not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
