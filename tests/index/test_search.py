"""Search behaviour: ranking, facets, filters, sorting, pages, snippets, syntax, suggestions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from index import PublicationDoc, SearchIndex, SearchRequest

from .conftest import BY_ID, page_text


def ids(ix: SearchIndex, q: str, **kw) -> list[int]:
    return [h.id for h in ix.search(SearchRequest(q, **kw)).hits]


def test_natural_language_question_ranks_and_never_empty(ix: SearchIndex) -> None:
    res = ix.search(SearchRequest("what did the hub say about library closures and volunteers?"))
    assert res.hits and res.hits[0].id == 1
    # one word that appears nowhere does not empty the result
    assert ids(ix, "library closures zanzibar")[0] == 1


def test_title_outranks_body_only_match(tmp_path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace([
        PublicationDoc(1, "a", "Annual review", body="A long text. " * 30 + "broadband coverage"),
        PublicationDoc(2, "b", "Broadband coverage in rural areas", body="A long text. " * 30),
    ])
    assert ids(ix, "broadband coverage") == [2, 1]


def test_facets_count_all_matches(ix: SearchIndex) -> None:
    res = ix.search(SearchRequest("", limit=1))
    assert res.total == 4 and len(res.hits) == 1
    f = res.facets
    assert dict(f["type"]) == {"Report": 2, "Briefing": 1, "Working paper": 1}
    assert dict(f["year"]) == {"2021": 1, "2020": 2, "2019": 1}
    assert [y for y, _ in f["year"]] == ["2021", "2020", "2019"]
    assert dict(f["author"])["Jane Smith"] == 2
    assert dict(f["organisation"])["County Council"] == 2
    assert dict(f["topic"])["Local government"] == 2
    assert dict(f["series"]) == {"Local Services": 2}
    assert ix.search(SearchRequest("", facets=False)).facets == {}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((("type", "Report"),), {1, 6}),
        ((("type", "report"),), {1, 6}),
        ((("year", "2020"),), {3, 6}),
        ((("year", "2019-2020"),), {2, 3, 6}),
        ((("topic", "Local government"),), {1, 3}),
        ((("organisation", "County Council"),), {1, 3}),
        ((("author", "Jane Smith"),), {1, 3}),
        ((("series", "Local Services"),), {1, 3}),
        ((("language", "fr"),), {6}),
        ((("author", "Jane Smith"), ("year", "2021")), {1}),
        ((("year", "not a year"),), set()),
        ((("colour", "red"),), {1, 2, 3, 6}),  # unknown filters are ignored
    ],
)
def test_filters(ix: SearchIndex, filters, expected) -> None:
    res = ix.search(SearchRequest("", filters=filters, limit=50))
    assert {h.id for h in res.hits} == expected
    assert res.total == len(expected)


def test_sorting(ix: SearchIndex) -> None:
    assert ids(ix, "", sort="newest") == [1, 3, 6, 2]
    assert ids(ix, "", sort="oldest") == [2, 6, 3, 1] or ids(ix, "", sort="oldest") == [2, 3, 6, 1]
    assert ids(ix, "", sort="title") == [3, 6, 2, 1]  # Housing, Les bibliothèques, Parks, Public
    assert ids(ix, "", sort="nonsense") == ids(ix, "", sort="newest")
    assert ids(ix, "local", sort="newest") == [1, 3]


def test_pagination(ix: SearchIndex) -> None:
    all_ids = ids(ix, "", sort="newest", limit=10)
    pages = [ids(ix, "", sort="newest", limit=3, page=p) for p in (1, 2, 3)]
    assert pages[0] + pages[1] == all_ids and pages[2] == []
    res = ix.search(SearchRequest("", page=2, limit=3))
    assert res.total == 4 and res.page == 2 and res.pages == 2
    assert ix.search(SearchRequest("", page=0, limit=0)).page == 1  # clamped, no error


def test_page_hits_have_right_page_numbers(ix: SearchIndex) -> None:
    hit = ix.search(SearchRequest("library closures", max_pages_per_hit=3), page_text=page_text).hits[0]
    assert hit.id == 1
    assert {p.page for p in hit.pages} == {2, 4}
    assert all("<mark>" in p.snippet for p in hit.pages)
    hit = ix.search(SearchRequest("internet older residents"), page_text=page_text).hits[0]
    assert hit.pages[0].page == 4
    assert len(ix.search(SearchRequest("volunteers", max_pages_per_hit=1)).hits[0].pages) <= 1
    assert ix.search(SearchRequest("volunteers", max_pages_per_hit=0)).hits[0].pages == []


def test_snippets_are_escaped_and_marked(ix: SearchIndex) -> None:
    hit = ix.search(SearchRequest("branches reading rooms"), page_text=page_text).hits[0]
    page = next(p for p in hit.pages if p.page == 2)
    assert "&lt;some&gt;" in page.snippet and "&amp;" in page.snippet
    assert "<mark>branches</mark>" in page.snippet and "<mark>reading</mark>" in page.snippet
    assert "<some>" not in page.snippet
    # the publication snippet prefers a matching abstract
    hit = ix.search(SearchRequest("councils rely"), page_text=page_text).hits[0]
    assert "<mark>councils</mark>" in hit.snippet and "<mark>rely</mark>" in hit.snippet
    # without the page callback, pages still come back (no snippet text)
    assert ix.search(SearchRequest("closures")).hits[0].pages[0].snippet == ""


def test_search_within_a_publication(ix: SearchIndex) -> None:
    res = ix.search(SearchRequest("volunteers", within=1, limit=10), page_text=page_text)
    assert res.total == 2
    assert sorted(p.page for p in res.hits[0].pages) == [2, 4]
    assert ix.search(SearchRequest("housing", within=1)).total == 0
    assert ix.search(SearchRequest("volunteers", within=999)).total == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"library closures"', {1}),
        ('"closures library"', set()),
        ("libraries AND parks", {1}),
        ("parks NOT libraries", {2}),
        ("parks -libraries", {2}),
        ("+housing rent", {3}),
        ("housing OR parks", {1, 2, 3}),
        ("(housing OR parks) AND austerity", {2}),
        ("title:housing", {3}),
        ("title:rent", {3}),
        ("title:volunteers", {1}),  # title: covers the subtitle too
        ("title:internet", set()),
        ('author:"jane smith"', {1, 3}),
        ("author:smith", {1, 3}),
        ("organisation:alliance", {3}),
        ("org:council", {1, 3}),
        ("topic:housing", {3}),
        ("type:briefing", {2}),
        ('type:"working paper"', {3}),
        ("year:2020", {3, 6}),
        ("year:2015-2019", {2}),
        ("year:[2020 TO 2021]", {1, 3, 6}),
        ("year:>2020", {1}),
        ("series:local", {1, 3}),
        ("language:fr", {6}),
        ("libraries year:2021", {1}),
        ("volunt*", {1, 2, 6} - {6}),
        ("colour:red parks", {1, 2}),  # unknown field: plain words
    ],
)
def test_expert_syntax(ix: SearchIndex, query: str, expected: set[int]) -> None:
    assert set(ids(ix, query, limit=50)) == expected


def test_odd_queries_do_not_fail(ix: SearchIndex) -> None:
    for q in ['"unbalanced', "title:", "year:abc", "((", "))", "AND", "OR NOT", "doi:10.1234/abc.5",
              "https://example.org/a?b=c&d=e", "x" * 5000, "word " * 2000, "\x00\x07\x1b", "😀🎉",
              "-", "+", "*", "a*", "NOT", "year:[2015 TO", "author:(smith", "title:\"x"]:
        ix.search(SearchRequest(q), page_text=page_text)


def test_did_you_mean(ix: SearchIndex) -> None:
    res = ix.search(SearchRequest("libary closures"))
    assert res.suggestion == "library closures"
    res = ix.search(SearchRequest("housng"))
    assert res.total == 0 and res.suggestion == "housing"
    assert ix.search(SearchRequest("library closures")).suggestion is None


def test_more_like_this(tmp_path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace([
        PublicationDoc(1, "a", "Library closures and volunteers", abstract="Branch libraries closing."),
        PublicationDoc(2, "b", "Volunteer-run libraries", abstract="Libraries kept open by volunteers."),
        PublicationDoc(3, "c", "Bus subsidies", abstract="Rural bus routes."),
        PublicationDoc(4, "d", "Library volunteers draft", abstract="volunteers libraries", status="draft"),
    ])
    assert [h.id for h in ix.more_like_this(1)] == [2]
    assert ix.more_like_this(999) == []


def test_more_like_this_array_scoring_gives_what_whooshs_matchers_give(tmp_path, monkeypatch) -> None:
    words = ["library", "volunteer", "closure", "bus", "rural", "housing", "rent", "tenant",
             "school", "skills", "council", "budget", "health", "clinic", "transport"]
    topics = ["Libraries", "Housing", "Transport", "Health"]
    ix = SearchIndex(tmp_path / "ix")
    for start in (1, 21, 41):  # three commits: several segments
        ix.add_or_replace([
            PublicationDoc(i, f"p{i}", f"{words[i % 15]} and {words[(i * 7) % 15]} {i}",
                           abstract=" ".join(words[(i * k) % 15] for k in range(1, 9)),
                           topics=(topics[i % 4],), body=" ".join(words[(i + k) % 15] for k in range(30)),
                           status="draft" if i % 9 == 0 else "published")
            for i in range(start, start + 20)
        ])
    ix.delete([5, 33])

    def related(pub_id: int, unpublished: bool) -> list[tuple[int, float]]:
        return [(h.id, h.score) for h in ix.more_like_this(pub_id, limit=8, include_unpublished=unpublished)]

    checked = 0
    for pub_id in (1, 2, 7, 18, 27, 40, 55):
        for unpublished in (False, True):
            fast = related(pub_id, unpublished)
            monkeypatch.setattr(SearchIndex, "fast_related", False)
            slow = related(pub_id, unpublished)
            monkeypatch.setattr(SearchIndex, "fast_related", True)
            assert [d for d, _ in fast] == [d for d, _ in slow]
            assert [round(sc, 4) for _, sc in fast] == [round(sc, 4) for _, sc in slow]
            assert pub_id not in [d for d, _ in fast] and 5 not in [d for d, _ in fast]
            checked += len(fast)
    assert checked > 50


def test_non_english_stemmed_in_its_own_language(ix: SearchIndex) -> None:
    assert ids(ix, "bibliothèques") == [6]
    assert ids(ix, "bibliotheques") == [6]  # accents folded
    # the French stemmer (not the English one) joins singular and plural
    assert ids(ix, "bibliotheque") == [6]
    assert ids(ix, "publique") == [6]
    # English stemming still applies to English text
    assert ids(ix, "closing") == [1] or 1 in ids(ix, "closing")
    snip = ix.search(SearchRequest("bénévoles"), page_text=page_text).hits[0].snippet
    assert "<mark>bénévoles</mark>" in snip


def test_replace_keeps_facets_current(ix: SearchIndex) -> None:
    ix.add_or_replace([replace(BY_ID[2], type="Report")])
    assert dict(ix.search(SearchRequest("")).facets["type"])["Report"] == 3
