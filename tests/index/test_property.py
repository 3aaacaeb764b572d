"""Property: any string is a valid query (no exception, sane result)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import SearchIndex, SearchRequest
from index.query import parse

from .conftest import DOCS, page_text

SYNTAX = st.sampled_from(['"', "(", ")", ":", "AND", "OR", "NOT", "-", "+", "*", "[", "]", "TO",
                          "year:", "title:", "author:", "type:", "\x00", "\u202e", "😀", " ", "é"])
QUERIES = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.lists(st.one_of(SYNTAX, st.text(max_size=6)), max_size=20).map(" ".join),
    st.lists(st.one_of(SYNTAX, st.text(max_size=6)), max_size=20).map("".join),
)


@pytest.fixture(scope="module")
def shared_ix(tmp_path_factory) -> SearchIndex:
    ix = SearchIndex(Path(tmp_path_factory.mktemp("prop")) / "ix")
    ix.add_or_replace(DOCS)
    return ix


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERIES, sort=st.sampled_from(["relevance", "newest", "oldest", "title"]))
def test_any_string_searches(shared_ix: SearchIndex, q: str, sort: str) -> None:
    res = shared_ix.search(SearchRequest(q, sort=sort), page_text=page_text)
    assert res.total >= len(res.hits)
    assert all(h.id not in (4, 5) for h in res.hits)


@settings(max_examples=300, deadline=None)
@given(q=QUERIES)
def test_any_string_parses(q: str) -> None:
    parse(q)


@st.composite
def _feedback_case(draw):  # type: ignore[no-untyped-def]
    firsts = sorted(draw(st.lists(st.floats(0, 50), min_size=1, max_size=30)), reverse=True)
    ranked = list(enumerate(firsts))
    extra = {d: draw(st.floats(0, 25)) for d, _ in ranked if draw(st.booleans())}
    fixed = {d for d, _ in ranked if draw(st.booleans())}
    return ranked, extra, fixed


@given(_feedback_case())
@settings(max_examples=300, deadline=None)
def test_feedback_keeps_other_languages_in_place(case) -> None:  # type: ignore[no-untyped-def]
    from index.engine import keep_places

    ranked, extra, fixed = case
    out = keep_places(ranked, extra, fixed)
    assert sorted(d for d, _ in out) == sorted(d for d, _ in ranked)
    for i, (d, _) in enumerate(ranked):
        if d in fixed:
            assert out[i][0] == d
    scores = [s for _, s in out]
    assert all(a >= b - 1e-9 for a, b in zip(scores, scores[1:]))
