"""Citation exports, meta tags, JSON-LD and Signposting on a publication page."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import bibtexparser
import pytest
import rispy
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON

from portal.metadata import licence_url
from publications.exports import split_name, tex_escape
from tests.interop import REPORT_META, build_app, close_app

BASE = "http://127.0.0.1:5000"  # the default base_url of the test settings


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # type: ignore[no-untyped-def]
    from publications.settings import Settings

    tmp = tmp_path_factory.mktemp("exports")
    app = build_app(Settings(home=tmp / "home", extract_timeout=60.0), tmp)
    yield app
    close_app(app)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def slugs(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return app.config["SLUGS"]


def _bib(client, path: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/x-bibtex"
    return bibtexparser.loads(response.get_data(as_text=True)).entries


def test_bibtex_round_trip_of_a_report(client, slugs) -> None:  # type: ignore[no-untyped-def]
    (entry,) = _bib(client, f"/publications/{slugs['report']}/cite.bib")
    assert entry["ENTRYTYPE"] == "techreport"
    assert entry["title"].strip("{}") == "Volunteer-run libraries in Lanton"
    assert entry["author"] == "Shah, Priya and Reed, Tom"
    assert entry["year"] == "2021"
    assert entry["month"] == "March"  # the standard `mar` macro, expanded by the parser
    assert entry["institution"] == "Northfield Policy Hub"
    assert entry["number"] == "7"
    assert entry["series"] == "Hub Insight"
    assert entry["doi"] == REPORT_META["doi"]
    assert entry["isbn"] == REPORT_META["isbn"]
    assert entry["url"] == f"{BASE}/publications/{slugs['report']}"
    assert entry["ID"] == "shah2021volunteerrun"


@pytest.mark.parametrize(("kind", "entry_type"), [
    ("working paper", "techreport"), ("article", "article"), ("book", "book"),
    ("chapter", "incollection"), ("newsletter", "misc"),
])
def test_bibtex_entry_types(client, slugs, kind: str, entry_type: str) -> None:  # type: ignore[no-untyped-def]
    (entry,) = _bib(client, f"/publications/{slugs[kind]}/cite.bib")
    assert entry["ENTRYTYPE"] == entry_type
    if kind == "working paper":
        assert entry["type"] == "Working paper"
        assert entry["author"] == "de la Cruz, Ana"
    if kind == "article":
        assert entry["doi"] == "10.1234/ltt.2020" and entry["issn"] == "1234-5678"
    if kind == "book":
        assert entry["publisher"] == "Civic Press" and entry["isbn"] == "978-0-306-40615-7"
    if kind == "newsletter":  # no named author: the publishing body is the author
        assert entry["author"] == "{Northfield Policy Hub}"


def test_ris_round_trip(client, slugs) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/publications/{slugs['report']}/cite.ris")
    assert response.mimetype == "application/x-research-info-systems"
    (entry,) = rispy.loads(response.get_data(as_text=True))
    assert entry["type_of_reference"] == "RPRT"
    assert entry["title"] == "Volunteer-run libraries in Lanton"
    assert entry["authors"] == ["Shah, Priya", "Reed, Tom"]
    assert entry["year"] == "2021"
    assert entry["doi"] == REPORT_META["doi"]
    assert entry["issn"] == REPORT_META["isbn"]  # rispy calls every SN "issn"
    assert entry["publisher"] == "Northfield Policy Hub"
    assert entry["urls"] == [f"{BASE}/publications/{slugs['report']}"]
    assert entry["file_attachments1"] == f"{BASE}/publications/{slugs['report']}/file.pdf"
    (article,) = rispy.loads(client.get(f"/publications/{slugs['article']}/cite.ris")
                             .get_data(as_text=True))
    assert article["type_of_reference"] == "JOUR"
    assert article["authors"] == ["Mensah, Kofi", "Wei, Li"]


def test_csl_json_renders_with_citeproc(client, slugs) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/publications/{slugs['report']}/cite.json")
    assert response.mimetype == "application/vnd.citationstyles.csl+json"
    items = json.loads(response.get_data(as_text=True))
    assert items[0]["type"] == "report"
    assert items[0]["author"][0] == {"family": "Shah", "given": "Priya"}
    assert items[0]["issued"] == {"date-parts": [[2021, 3]]}
    assert items[0]["DOI"] == REPORT_META["doi"]
    source = CiteProcJSON(items)
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    bibliography.register(Citation([CitationItem(items[0]["id"])]))
    (rendered,) = [str(entry) for entry in bibliography.bibliography()]
    assert "Shah" in rendered and "Volunteer-run libraries in Lanton" in rendered
    assert "2021" in rendered


def test_search_result_set_exports(client) -> None:  # type: ignore[no-untyped-def]
    entries = _bib(client, "/search/cite.bib?q=libraries")
    titles = {e["title"].strip("{}") for e in entries}
    assert "Volunteer-run libraries in Lanton" in titles
    assert len({e["ID"] for e in entries}) == len(entries)
    filtered = _bib(client, "/search/cite.bib?type=book")
    assert [e["ENTRYTYPE"] for e in filtered] == ["book"]
    ris = rispy.loads(client.get("/search/cite.ris?type=article").get_data(as_text=True))
    assert [e["title"] for e in ris] == ["Local taxes and trust"]
    items = json.loads(client.get("/search/cite.json?q=libraries").get_data(as_text=True))
    assert len(items) == len(entries)
    assert client.get("/search/cite.bib?page=0").status_code == 400
    assert client.get("/search/cite.bib?limit=5000").status_code == 400
    assert client.get("/search/cite.bib", query_string={"q": "x" * 1001}).status_code == 413


def test_exports_follow_the_publication_status(app, client, slugs) -> None:  # type: ignore[no-untyped-def]
    from publications.fields import build_record

    cat = app.extensions["catalogue"]
    draft = cat.add(build_record({"title": "Not yet out"}), status="draft")
    assert client.get(f"/publications/{draft.slug}/cite.bib").status_code == 404
    assert client.get("/publications/nothing-here/cite.ris").status_code == 404
    by_id = client.get(f"/publications/{draft.id - 1}/cite.json")
    assert by_id.status_code == 301
    response = client.get(f"/publications/{slugs['report']}/cite.bib")
    again = client.get(f"/publications/{slugs['report']}/cite.bib",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


class _Head(HTMLParser):
    """Collects <meta> and <link> tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: list[tuple[str, str]] = []
        self.links: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("name" in a or "property" in a):
            self.meta.append((a.get("name") or a["property"], a["content"]))
        if tag == "link":
            self.links.append(a)

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.meta if n == name]


def _head(client, path: str) -> _Head:  # type: ignore[no-untyped-def]
    head = _Head()
    head.feed(client.get(path).get_data(as_text=True))
    return head


def test_google_scholar_tags_match_the_record(app, client, slugs) -> None:  # type: ignore[no-untyped-def]
    slug = slugs["report"]
    head = _head(client, f"/publications/{slug}")
    with app.extensions["catalogue"].reading() as session:
        pub = app.extensions["catalogue"].get(session, slug)
        assert head.values("citation_title") == [pub.title]
        assert head.values("citation_author") == [a.person.name for a in pub.authors]
        assert head.values("citation_publication_date") == ["2021/03"]
        assert head.values("citation_pdf_url") == [f"{BASE}/publications/{slug}/file.pdf"]
        assert head.values("citation_technical_report_institution") == ["Northfield Policy Hub"]
        assert head.values("citation_technical_report_number") == [pub.series_number]
        assert head.values("citation_doi") == [pub.doi]
        assert head.values("citation_isbn") == [pub.isbn]
        assert head.values("citation_language") == [pub.language]
        assert head.values("citation_keywords") == [
            "Libraries and culture; Volunteering; community libraries"]
        assert head.values("DC.title") == [pub.title]
        assert head.values("DC.creator") == ["Priya Shah", "Tom Reed"]
        assert head.values("DC.identifier") == [f"https://doi.org/{pub.doi}"]
        assert head.values("DC.date") == ["2021-03"]
        assert head.values("og:title") == [pub.title]
        assert head.values("og:url") == [f"{BASE}/publications/{slug}"]
    feeds = [link["href"] for link in head.links if link.get("type") == "application/atom+xml"]
    assert "/feeds/latest.atom" in feeds and "/feeds/topics/volunteering.atom" in feeds
    assert "/feeds/series/hub-insight.atom" in feeds
    exports = {link["type"]: link["href"] for link in head.links if link.get("rel") == "alternate"}
    assert exports["application/x-bibtex"] == f"/publications/{slug}/cite.bib"
    assert exports["application/json"] == f"/api/publications/{slug}"
    assert any(link.get("rel") == "search" and link["href"] == "/opensearch.xml"
               for link in head.links)


def test_record_without_file_or_report_number(client, slugs) -> None:  # type: ignore[no-untyped-def]
    head = _head(client, f"/publications/{slugs['article']}")
    assert head.values("citation_pdf_url") == []
    assert head.values("citation_technical_report_institution") == []
    assert head.values("citation_author") == ["Kofi Mensah", "Li Wei"]
    assert head.values("citation_publication_date") == ["2020/06/02"]
    assert head.values("citation_issn") == ["1234-5678"]


def test_json_ld_found_by_extruct(client, slugs) -> None:  # type: ignore[no-untyped-def]
    import extruct

    slug = slugs["report"]
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    data = extruct.extract(html, base_url=f"{BASE}/publications/{slug}", syntaxes=["json-ld"])
    (item,) = data["json-ld"]
    assert item["@type"] == "Report"
    assert item["name"] == "Volunteer-run libraries in Lanton"
    assert [a["name"] for a in item["author"]] == ["Priya Shah", "Tom Reed"]
    assert item["publisher"][0]["name"] == "Northfield Policy Hub"
    assert item["datePublished"] == "2021-03"
    assert item["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert item["encoding"]["contentUrl"] == f"{BASE}/publications/{slug}/file.pdf"
    assert item["encoding"]["encodingFormat"] == "application/pdf"
    assert item["reportNumber"] == "7"
    article = extruct.extract(client.get(f"/publications/{slugs['article']}").get_data(
        as_text=True), syntaxes=["json-ld"])["json-ld"][0]
    assert article["@type"] == "ScholarlyArticle"
    assert "encoding" not in article


def _links(header: str) -> list[tuple[str, str, str]]:
    """(url, rel, type) from a Link header."""
    out = []
    for part in header.split(", <"):
        url, _, params = part.lstrip("<").partition(">")
        attrs = dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p)
        out.append((url, attrs["rel"].strip('"'), attrs.get("type", "").strip('"')))
    return out


def test_signposting_on_page_and_download(client, slugs) -> None:  # type: ignore[no-untyped-def]
    slug = slugs["report"]
    page = client.get(f"/publications/{slug}")
    links = _links(page.headers["Link"])
    rels = {rel for _, rel, _ in links}
    assert {"cite-as", "describedby", "item", "author", "license", "type"} <= rels
    assert ("https://doi.org/10.5555/nph.2021.007", "cite-as", "") in links
    described = {t: u for u, rel, t in links if rel == "describedby"}
    assert described["application/x-bibtex"] == f"{BASE}/publications/{slug}/cite.bib"
    assert described["application/x-research-info-systems"].endswith("/cite.ris")
    assert ((f"{BASE}/publications/{slug}/file.pdf", "item", "application/pdf") in links)
    assert (f"{BASE}/people/priya-shah", "author", "") in links
    assert ("https://schema.org/Report", "type", "") in links
    pdf = client.get(f"/publications/{slug}/file.pdf")
    assert (f"{BASE}/publications/{slug}", "collection", "text/html") in _links(
        pdf.headers["Link"])
    pdf.close()
    # every describedby target answers
    for url, rel, _ in links:
        if rel == "describedby":
            assert client.get(url.removeprefix(BASE)).status_code == 200


def test_citation_box_offers_styles_copy_and_exports(client, slugs) -> None:  # type: ignore[no-untyped-def]
    slug = slugs["report"]
    html = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert ('<p class="citation">Shah, P. and Reed, T. (2021) <i>Volunteer-run libraries in '
            "Lanton</i>. Hub Insight, No. 7. Northfield Policy Hub. Available at: "
            "https://doi.org/10.5555/nph.2021.007.</p>") in html
    assert '<p class="citation">Shah, P., &amp; Reed, T. (2021).' in html
    assert 'data-copy="cite-apa"' in html and 'id="cite-apa"' in html
    assert 'data-copy="cite-harvard"' in html and "hidden>Copy Harvard citation" in html
    assert f'href="/publications/{slug}/cite.ris"' in html
    script = client.get("/static/copy.js")
    assert script.status_code == 200 and b"navigator.clipboard" in script.data
    script.close()


def test_helpers() -> None:
    assert split_name("Ludwig van Beethoven").family == "van Beethoven"
    assert split_name("Shah, Priya").given == "Priya"
    assert split_name("Plato").family == "Plato"
    assert tex_escape("R&D: 50% of £1_000 {x}") == r"R\&D: 50\% of £1\_000 \{x\}"
    assert licence_url("CC BY-NC 4.0") == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert licence_url("OGL-UK-3.0").endswith("/version/3/")
    assert licence_url("All rights reserved") == ""


def test_special_characters_survive_bibtex(app, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from publications.fields import build_record

    stored = app.extensions["catalogue"].add(build_record({
        "title": "Costs & benefits: 50% {more}", "authors": ["Zoë O'Brien"], "date": "2023",
        "type": "report"}), status="published")
    (entry,) = _bib(client, f"/publications/{stored.slug}/cite.bib")
    assert entry["title"] == r"{Costs \& benefits: 50\% \{more\}}"
    assert entry["author"] == "O'Brien, Zoë"
