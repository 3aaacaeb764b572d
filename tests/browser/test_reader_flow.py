"""A reader's path through the portal in Chromium: search, filter, open, jump to a page, download;
the same on a 375-pixel-wide phone; and the same again with the keyboard alone."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUERY = "airworthiness directive proposed rule"
TITLE = "Airworthiness Directives; The Boeing Company Airplanes"
PHONE_WIDTH = 375


def _search(page, query: str = QUERY) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_label("Search the collection").fill(query)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/search\?"))


def _no_sideways_scroll(page, where: str) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{where}: the page is {width} px wide, wider than the screen"


def _filters(page) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    query = parse_qs(urlsplit(page.url).query)
    query.pop("q", None)
    return query


def _reader_flow(page, check_layout=None) -> None:  # type: ignore[no-untyped-def]
    check = check_layout or (lambda _where: None)
    page.goto("/")
    check("home")

    # Search for a report from the corpus: it comes first.
    _search(page)
    check("search results")
    results = page.locator("ol.results > li.item h3 a")
    assert results.count() > 1
    assert results.first.inner_text() == TITLE
    total = int(page.locator(".summary strong").inner_text())

    # Add a filter by clicking a facet, then remove it again.
    facet = page.locator(".facet").filter(has=page.get_by_role("heading", name="Year"))
    year_link = facet.get_by_role("link", name=re.compile(r"^\s*\S?\s*2020\b"))
    year_link.click()
    page.wait_for_url(re.compile(r"[?&]year=2020"))
    check("filtered results")
    assert _filters(page) == {"year": ["2020"]}
    filtered = int(page.locator(".summary strong").inner_text())
    assert 1 <= filtered < total
    assert page.locator("ol.results > li.item h3 a").first.inner_text() == TITLE
    for meta in page.locator("ol.results > li.item .meta time").all():
        assert meta.get_attribute("datetime").startswith("2020")
    chip = page.get_by_role("link", name="Remove filter Year: 2020")
    chip.click()
    page.wait_for_url(lambda url: "year=" not in url)
    assert _filters(page) == {}
    assert int(page.locator(".summary strong").inner_text()) == total

    # Open the result.
    page.locator("ol.results > li.item h3 a").first.click()
    page.wait_for_url(re.compile(r"/publications/airworthiness-directives"))
    check("publication page")
    assert page.get_by_role("heading", level=1).inner_text() == TITLE
    publication_url = page.url

    # Follow a page link from the results: the PDF answers, at the page asked for.
    page.go_back()
    page_link = page.locator("ol.results > li.item").first.locator("a[href*='file.pdf#page=']")
    href = page_link.first.get_attribute("href")
    assert re.search(r"/file\.pdf#page=\d+$", href), href
    with page.expect_response(lambda r: "/file.pdf" in r.url) as caught:
        page_link.first.click()
    response = caught.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert page.url.endswith(href.split("/publications/", 1)[1])

    # Download the file from the publication page.
    page.goto(publication_url)
    download = page.get_by_role("link", name="Download PDF")
    fetched = page.request.get(download.get_attribute("href"))
    assert fetched.status == 200
    assert fetched.headers["content-type"] == "application/pdf"
    disposition = fetched.headers["content-disposition"]
    assert 'filename="airworthiness-directives-the-boeing-company-airplanes.pdf"' in disposition
    assert fetched.body().startswith(b"%PDF-")


def test_search_filter_open_page_link_and_download(page, corpus_site) -> None:  # type: ignore[no-untyped-def]
    _reader_flow(page)


def test_same_flow_on_a_375_pixel_wide_screen(phone, corpus_site) -> None:  # type: ignore[no-untyped-def]
    _reader_flow(phone, lambda where: _no_sideways_scroll(phone, where))
    # One column: the results first, the filters after them.
    _search(phone)
    hits = phone.locator("section.hits").bounding_box()
    facets = phone.locator("aside.facets").bounding_box()
    assert facets["y"] >= hits["y"] + hits["height"]


@pytest.mark.parametrize("path", ["/topics", "/years", "/titles", "/publications"])
def test_browse_pages_fit_a_375_pixel_wide_screen(phone, site, path) -> None:  # type: ignore[no-untyped-def]
    phone.goto(path)
    _no_sideways_scroll(phone, path)
    with phone.expect_navigation():  # measure the page the link opens, not one still loading
        phone.locator("ol.results a, ul.groups a").first.click()
    _no_sideways_scroll(phone, f"first link on {path}")


def test_filters_sit_beside_the_results_on_a_wide_screen(page, corpus_site) -> None:  # type: ignore[no-untyped-def]
    _search(page)
    facets = page.locator("aside.facets").bounding_box()
    hits = page.locator("section.hits").bounding_box()
    assert facets["x"] + facets["width"] <= hits["x"], "the filters are not to the left"
    assert abs(facets["y"] - hits["y"]) < 5


def _tab_to(page, describe: str, matches, limit: int = 150) -> int:  # type: ignore[no-untyped-def]
    """Press Tab until `matches(active element)` holds; the number of presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(matches):
            return presses
    raise AssertionError(f"{limit} presses of Tab never reached {describe}")


def test_keyboard_only(page, corpus_site) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    # The first Tab from the top lands on the skip link, and it is visible when focused.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator("a.skip").bounding_box()["x"] >= 0
    # Then on to the search box, type, and Enter searches.
    _tab_to(page, "the search box", "document.activeElement.type === 'search'", limit=20)
    page.keyboard.type(QUERY)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=airworthiness"))
    # On the results, the skip link leads past the header to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The results come before the filters: a few presses, not one per facet value.
    presses = _tab_to(page, "the first result",
                      "document.activeElement === document.querySelector('ol.results h3 a')")
    assert presses <= 12, f"{presses} presses of Tab from the content to the first result"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/publications/airworthiness-directives"))
    assert page.get_by_role("heading", level=1).inner_text() == TITLE
