"""The array scorer gives the same matches and scores as Whoosh's matchers for OR queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import PublicationDoc, SearchIndex, SearchRequest
from index.engine import _score_docs
from index.fastscore import (
    KeptPostings,
    LengthCache,
    TermLookup,
    _near,
    flat_phrases,
    flat_terms,
    live_docs_with,
    phrase_match_all,
    phrase_scores,
    score_all,
    score_some,
)
from index.query import parse
from index.querybuild import compile_query

from .conftest import DOCS


@pytest.fixture()
def segmented(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace(DOCS[:3])  # several segments, and a replaced (deleted) document
    ix.add_or_replace(DOCS[3:])
    ix.add_or_replace([PublicationDoc(2, "green-spaces", "Parks, volunteers and libraries",
                                      abstract="Volunteers run parks and libraries.")])
    yield ix
    ix.close()


@pytest.mark.parametrize("text", ["libraries volunteers", "housing rent arrears", "parks",
                                  "bibliothèques bénévoles", "library closures volunteers council"])
def test_same_scores_as_whoosh_matchers(segmented: SearchIndex, text: str) -> None:
    compiled = compile_query(parse(text), segmented.ranking, languages=("fr",))
    terms = flat_terms(compiled.match)
    assert terms is not None

    def both(s):  # type: ignore[no-untyped-def]
        fast = score_all(s, terms, LengthCache())
        live = [d for d in range(s.doc_count_all()) if not s.ixreader.is_deleted(d)]
        slow = _score_docs(s, compiled.match, live)
        return fast, slow, live

    fast, slow, live = segmented._read(both)
    assert {d for d in live if fast[d] > 0} == set(slow)
    for d, score in slow.items():
        assert fast[d] == pytest.approx(score, rel=1e-5)


def test_fast_path_ranks_like_before(segmented: SearchIndex) -> None:
    res = segmented.search(SearchRequest("volunteers libraries"))
    assert [h.id for h in res.hits][:2] == [2, 1]  # the replaced document's new text counts
    assert res.total == len(res.hits)
    assert [h.id for h in segmented.search(SearchRequest("volunteers -closures")).hits] == [2]


@pytest.mark.parametrize(("text", "near"), [
    ("library closures volunteers", True), ("rent arrears housing benefit", True),
    ("closures library", False), ("bibliothèques bénévoles fermées", False),
    ("volunteers keep branches open in rural areas", True)])
def test_proximity_scores_same_as_whoosh_phrases(segmented: SearchIndex, text: str,
                                                 near: bool) -> None:
    compiled = compile_query(parse(text), segmented.ranking, languages=("fr",))
    phrases = flat_phrases(compiled.boosts)
    assert phrases is not None

    def both(s):  # type: ignore[no-untyped-def]
        live = [d for d in range(s.doc_count_all()) if not s.ixreader.is_deleted(d)]
        slow: dict[int, float] = {}
        for q in compiled.boosts:  # Whoosh's phrase matchers, one boost at a time
            for d, score in _score_docs(s, q, live).items():
                slow[d] = slow.get(d, 0.0) + score
        return phrase_scores(s, phrases, live), slow

    fast, slow = segmented._read(both)
    assert bool(slow) == near
    assert set(fast) == set(slow)
    for d, score in slow.items():
        assert fast[d] == pytest.approx(score, rel=1e-9)

    def from_first_pass(s):  # type: ignore[no-untyped-def]
        # the same, from the postings the first pass kept (no block read again)
        kept = KeptPostings({(f, w) for f, words, _slop, _boost in phrases for w in words})
        score_all(s, flat_terms(compiled.match), LengthCache(), kept)
        live = [d for d in range(s.doc_count_all()) if not s.ixreader.is_deleted(d)]
        return phrase_scores(s, phrases, live, kept)

    assert segmented._read(from_first_pass) == fast


def test_proximity_pairs_need_order_and_closeness() -> None:
    assert _near([3], [4], 1)
    assert not _near([4], [3], 1)  # reversed order is not a phrase
    assert not _near([3], [3], 1)  # the same position is not "next to"
    assert not _near([3], [6], 2) and _near([3, 9], [6, 11], 2)
    assert not _near([], [1], 5)


def test_field_lengths_read_in_bulk_match_whoosh(segmented: SearchIndex) -> None:
    def check(s):  # type: ignore[no-untyped-def]
        cache = LengthCache()
        for leaf, _offset in s.reader().leaf_readers():
            ids = np.arange(leaf.doc_count_all())
            for f in ("title", "body", "content", "names"):
                expected = [float(leaf.doc_field_length(int(d), f, 0) or 0) for d in ids]
                assert cache.at(leaf, f, ids).tolist() == expected
        return cache.nbytes()

    assert segmented._read(check) > 0


@pytest.mark.parametrize("text", ["libraries volunteers", "parks", "bibliothèques bénévoles",
                                  "library closures volunteers council"])
def test_scores_of_some_documents_same_as_all(segmented: SearchIndex, text: str) -> None:
    compiled = compile_query(parse(text), segmented.ranking, languages=("fr",))
    terms = flat_terms(compiled.match)
    assert terms is not None

    def both(s):  # type: ignore[no-untyped-def]
        every = score_all(s, terms, LengthCache())
        some = list(range(0, s.doc_count_all(), 2))
        return every, score_some(s, terms, some, LengthCache()), some

    every, part, some = segmented._read(both)
    assert part  # the checked documents include matches
    assert part == {d: float(every[d]) for d in some if every[d] > 0}


@pytest.mark.parametrize(("text", "matches"), [
    ('"library closures"', True), ('"closures library"', False), ('"rent arrears"', True),
    ('"reading rooms open"', True), ('"bibliothèques fermées"', False), ('"rural areas"', True),
    ('"housing benefit" OR "green spaces"', True)])
def test_phrase_matches_and_scores_same_as_whoosh(segmented: SearchIndex, text: str,
                                                  matches: bool) -> None:
    compiled = compile_query(parse(text), segmented.ranking, languages=("fr",))
    phrases = flat_phrases([compiled.match])
    assert phrases is not None

    def both(s):  # type: ignore[no-untyped-def]
        live = [d for d in range(s.doc_count_all()) if not s.ixreader.is_deleted(d)]
        scores, mask = phrase_match_all(s, phrases, LengthCache())
        return scores, mask, _score_docs(s, compiled.match, live), live

    scores, mask, slow, live = segmented._read(both)
    assert bool(slow) == matches
    assert {d for d in live if mask[d]} == set(slow)
    for d, score in slow.items():
        assert scores[d] == pytest.approx(score, rel=1e-12)


def test_phrase_search_finds_what_whoosh_finds(segmented: SearchIndex) -> None:
    res = segmented.search(SearchRequest('"library closures"'))
    assert [h.id for h in res.hits] == [1] and res.total == 1
    assert sorted(p.page for p in res.hits[0].pages) == [2, 4]  # the pages with the phrase
    assert "<mark>" in res.hits[0].snippet
    assert res.facets["type"] == [("Report", 1)]


def test_live_documents_of_a_word_skip_deleted_copies(segmented: SearchIndex) -> None:
    def both(s):  # type: ignore[no-untyped-def]
        lookup = TermLookup(s)
        return ({pid: sorted(live_docs_with(lookup, "pid", pid)) for pid in ("1", "2", "9")},
                {pid: sorted(s.document_numbers(pid=pid)) for pid in ("1", "2", "9")})

    fast, whoosh = segmented._read(both)
    assert fast == whoosh and fast["9"] == [] and fast["2"]


def test_page_scores_as_whoosh_scored_them(segmented: SearchIndex) -> None:
    compiled = compile_query(parse("library closures volunteers"), segmented.ranking)
    terms = flat_terms(compiled.page_query)
    assert terms is not None

    def both(s):  # type: ignore[no-untyped-def]
        live = [d for d in range(s.doc_count_all()) if not s.ixreader.is_deleted(d)]
        return (score_some(s, terms, live, LengthCache(), exact_lengths=True),
                _score_docs(s, compiled.page_query, live))

    fast, slow = segmented._read(both)
    assert fast.keys() == slow.keys() and len(slow) >= 2
    for d, score in slow.items():
        assert fast[d] == pytest.approx(score, rel=1e-12)
