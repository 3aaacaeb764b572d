"""Snippets find exactly the words a plain token-by-token scan finds, at the same places."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.analysis import TOKEN_RE, fold
from index.highlight import Memo, _is_match, _matches, has_match, snippet
from index.querybuild import HighlightTerms

TERMS = HighlightTerms(stems={"librari", "volunt", "u.k", "o'neil", "10.1234"},
                       folded={"cafe", "naive"}, prefixes={"clos"})
PIECES = ["library", "Libraries", "volunteers", "U.K", "u.k.", "O'Neill", "o’neill", "10.1234",
          "10.12345", "café", "NAÏVE", "closures", "x", "the", ".", "'", "’", " ", "  ", "\n", "-",
          "_", "é", "k", "u", "1", "(", ")", "dis", "library's"]


Match = tuple[int, int, str]


def scan(text: str, terms: HighlightTerms, english: bool = True, language: str = "") -> list[Match]:
    """The reference: every token of the text, analysed one by one."""
    out = []
    for m in TOKEN_RE.finditer(text):
        folded = fold(m.group())
        key = _is_match(folded, terms, english, language) if folded else None
        if key is not None:
            out.append((m.start(), m.end(), key))
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_matches_equal_a_token_scan(pieces: list[str]) -> None:
    text = "".join(pieces)
    expected = scan(text, TERMS)
    assert _matches(text, TERMS, True) == expected
    assert _matches(text, TERMS, True, memo={}) == expected
    assert _matches(text, TERMS, True, first_only=True) == expected[:1]
    assert has_match(text, TERMS) == bool(expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=30).map("".join), max_size=6))
def test_a_memo_shared_by_several_texts_finds_what_a_scan_finds(texts: list[str]) -> None:
    memo, plain = Memo(), {}  # type: ignore[var-annotated]
    for text in texts:
        assert _matches(text, TERMS, True, memo=memo) == scan(text, TERMS)
        assert _matches(text, TERMS, True, memo=plain) == scan(text, TERMS)


def test_memo_shared_across_texts_gives_the_same_snippets() -> None:
    memo: dict[str, str | None] = {}
    texts = ["Volunteers kept the library open.", "No match here.", "Library closures; volunteers."]
    for text in texts:
        assert snippet(text, TERMS, memo=memo) == snippet(text, TERMS)
    assert snippet(texts[0], TERMS) == "<mark>Volunteers</mark> kept the <mark>library</mark> open."
