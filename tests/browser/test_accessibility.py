"""axe-core in Chromium: no WCAG 2.0/2.1/2.2 A or AA violations on the reader's pages."""

from __future__ import annotations

import pytest

from tests.browser.conftest import AXE_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
SAMPLE_PUBLICATION = "/publications/open-doors-fewer-hours"
CORPUS_PUBLICATION = "/publications/airworthiness-directives-the-boeing-company-airplanes"
RUN_AXE = ("tags => axe.run(document, "
           "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})")


def _violations(page, path: str, expect_status: int = 200) -> list[str]:  # type: ignore[no-untyped-def]
    response = page.goto(path)
    assert response.status == expect_status, path
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(RUN_AXE, WCAG_TAGS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(n["target"]) + f" [{n['failureSummary']}]" for n in v["nodes"][:5])
        for v in result["violations"]
    ]


@pytest.mark.parametrize("path", [
    "/",
    "/search?q=library+opening+hours",
    "/search?q=library&type=report",
    "/search?q=zzzzqqqq",
    "/topics",
    "/titles",
    "/years",
    SAMPLE_PUBLICATION,
    SAMPLE_PUBLICATION + "/search?q=library",
    "/no-such-page",
])
def test_no_violations(axe_page, path) -> None:  # type: ignore[no-untyped-def]
    status = 404 if path == "/no-such-page" else 200
    assert _violations(axe_page, path, status) == []


def test_no_violations_on_a_topic_page(axe_page) -> None:  # type: ignore[no-untyped-def]
    axe_page.goto("/topics")
    href = axe_page.locator("ul.groups a").first.get_attribute("href")
    assert href.startswith("/topics/")
    assert _violations(axe_page, href) == []


def test_no_violations_on_a_tombstone(axe_page, site) -> None:  # type: ignore[no-untyped-def]
    assert _violations(axe_page, f"/publications/{site.withdrawn}", expect_status=410) == []
    assert "Replaced by a corrected issue" in axe_page.content()


def test_no_violations_on_a_corpus_publication_and_its_results(axe_page, corpus_site) -> None:  # type: ignore[no-untyped-def]
    assert _violations(axe_page, "/search?q=airworthiness+directive+proposed+rule") == []
    assert _violations(axe_page, CORPUS_PUBLICATION) == []


@pytest.mark.parametrize("path", ["/", "/search?q=library", SAMPLE_PUBLICATION, "/titles"])
def test_no_violations_on_a_375_pixel_wide_screen(axe_phone, path) -> None:  # type: ignore[no-untyped-def]
    assert _violations(axe_phone, path) == []


def test_axe_does_report_a_violation(axe_page) -> None:  # type: ignore[no-untyped-def]
    """The harness itself: a page with an unlabelled field and an image without text fails."""
    axe_page.set_content('<!doctype html><html lang="en"><head><title>t</title></head><body>'
                         '<main><img src="/static/x.png"><input type="text"></main></body></html>')
    axe_page.add_script_tag(path=str(AXE_JS))
    result = axe_page.evaluate(RUN_AXE, WCAG_TAGS)
    assert {"image-alt", "label"} <= {v["id"] for v in result["violations"]}
