"""The array scorer gives the same matches and scores as Whoosh's matchers for OR queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import PublicationDoc, SearchIndex, SearchRequest
from index.engine import _score_docs
from index.fastscore import LengthCache, flat_terms, score_all
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
