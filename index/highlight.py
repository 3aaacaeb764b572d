"""Snippets: pick the densest window of matched words and mark them, HTML-escaped."""

from __future__ import annotations

import html
import re

from .analysis import TOKEN_RE, fold, stem, stem_in
from .querybuild import HighlightTerms

_WS = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SCAN_CHARS = 200_000


def _is_match(folded: str, terms: HighlightTerms, english: bool, language: str = "") -> str | None:
    """Return a key for the matched query term, or None."""
    if english:
        s = stem(folded)
        if s in terms.stems:
            return s
    if folded in terms.folded:
        return folded
    if not english and language:
        s = stem_in(language, folded)
        if s in terms.folded:
            return s
    for p in terms.prefixes:
        if folded.startswith(p):
            return p
    return None


_JOINERS = ".'\u2019"  # inner characters TOKEN_RE keeps inside a word ("u.k", "o'neill")


def _wordchar(c: str) -> bool:
    return c.isalnum() or c == "_"  # what \w matches in a str pattern


def _is_token(text: str, start: int, end: int) -> bool:
    """True when text[start:end] is a whole token as TOKEN_RE splits the text: no word
    character (or word character and joiner) before it, none (or joiner and word) after."""
    if start > 0:
        c = text[start - 1]
        if _wordchar(c) or (c in _JOINERS and start > 1 and _wordchar(text[start - 2])):
            return False
    if end < len(text):
        c = text[end]
        if _wordchar(c) or (c in _JOINERS and end + 1 < len(text) and _wordchar(text[end + 1])):
            return False
    return True


class Memo:
    """Which raw tokens match the query terms, for the texts of one search: `seen` maps each
    token analysed to its matched term (or None), `hits` holds the matching ones alone, so a
    text's matching tokens are found with set operations instead of a loop over its words."""

    __slots__ = ("seen", "hits")

    def __init__(self) -> None:
        self.seen: dict[str, str | None] = {}
        self.hits: dict[str, str] = {}


AnyMemo = Memo | dict[str, "str | None"]


def _keys(tokens: set[str], terms: HighlightTerms, english: bool, language: str,
          memo: AnyMemo) -> dict[str, str]:
    """The matched query term of each raw token that matches one (others left out). `memo`
    may also be a plain dictionary (token -> matched term or None)."""
    if isinstance(memo, dict):
        out: dict[str, str] = {}
        for raw in tokens:
            try:
                key = memo[raw]
            except KeyError:
                folded = fold(raw)
                key = memo[raw] = _is_match(folded, terms, english, language) if folded else None
            if key is not None:
                out[raw] = key
        return out
    seen, hits = memo.seen, memo.hits
    for raw in tokens.difference(seen):  # words not met in this search's earlier texts
        folded = fold(raw)
        key = seen[raw] = _is_match(folded, terms, english, language) if folded else None
        if key is not None:
            hits[raw] = key
    return {raw: hits[raw] for raw in tokens.intersection(hits)}


def _matches(text: str, terms: HighlightTerms, english: bool, first_only: bool = False,
             language: str = "", memo: AnyMemo | None = None) -> list[tuple[int, int, str]]:
    """(start, end, key) of every matched word (only the first with `first_only`).

    The words are listed by the regular expression engine and each distinct word is analysed
    once (`memo` carries the analysis across texts searched for the same terms); only the
    words that match are then located (`str.find`, keeping the places where they are whole
    tokens).
    """
    keys = _keys(set(TOKEN_RE.findall(text)), terms, english, language,
                 Memo() if memo is None else memo)
    out: list[tuple[int, int, str]] = []
    for word, key in keys.items():
        at = text.find(word)
        while at != -1:
            if _is_token(text, at, at + len(word)):
                out.append((at, at + len(word), key))
            at = text.find(word, at + 1)
    out.sort()
    return out[:1] if first_only else out


def _escape(text: str) -> str:
    return html.escape(_WS.sub(" ", _CONTROL.sub(" ", text)), quote=False)


def snippet(text: str, terms: HighlightTerms, max_chars: int = 240, english: bool = True,
            fallback: bool = True, language: str = "", memo: AnyMemo | None = None) -> str:
    """HTML snippet of `text` around the best cluster of matched terms, with <mark> tags.

    Non-English text (`english` false) also marks words whose stem in `language` is one of
    the query's. Without any match, returns the start of the text (if `fallback`) or "".
    `memo` (optional, one per terms, `english` and `language`: a `Memo`, or a dictionary)
    remembers which words match.
    """
    if not text:
        return ""
    text = text[:MAX_SCAN_CHARS]
    matches = _matches(text, terms, english, language=language, memo=memo) if terms else []
    if not matches:
        if not fallback:
            return ""
        return _trim(text, 0, min(len(text), max_chars), max_chars, [])

    # Best window: most distinct terms, then most matches, then earliest.
    best = (0, 0, 0)  # (distinct, count, -i)
    best_i, best_j = 0, 0
    j = 0
    for i in range(len(matches)):
        j = max(j, i)
        while j + 1 < len(matches) and matches[j + 1][1] - matches[i][0] <= max_chars:
            j += 1
        window = matches[i : j + 1]
        score = (len({m[2] for m in window}), len(window), -i)
        if score > best:
            best, best_i, best_j = score, i, j
    chosen = matches[best_i : best_j + 1]
    span_start, span_end = chosen[0][0], chosen[-1][1]
    slack = max(0, max_chars - (span_end - span_start))
    start = max(0, span_start - slack // 3)
    end = min(len(text), max(span_end, start + max_chars))
    if end - start > max_chars and end > span_end:
        end = max(span_end, start + max_chars)
    return _trim(text, start, end, max_chars, [m for m in matches if m[0] >= start and m[1] <= end])


def _trim(text: str, start: int, end: int, max_chars: int, marks: list[tuple[int, int, str]]) -> str:
    # snap to word boundaries
    if start > 0:
        sp = text.find(" ", start, min(end, start + 30))
        if sp != -1 and (not marks or sp < marks[0][0]):
            start = sp + 1
    if end < len(text):
        sp = text.rfind(" ", max(start, end - 30), end)
        if sp != -1 and (not marks or sp >= marks[-1][1]):
            end = sp
    out: list[str] = ["\u2026 " if start > 0 else ""]
    pos = start
    for m_start, m_end, _ in marks:
        out.append(_escape(text[pos:m_start]))
        out.append("<mark>" + _escape(text[m_start:m_end]) + "</mark>")
        pos = m_end
    out.append(_escape(text[pos:end]))
    if end < len(text):
        out.append(" \u2026")
    return "".join(out).strip()


def has_match(text: str, terms: HighlightTerms, english: bool = True, language: str = "",
              memo: AnyMemo | None = None) -> bool:
    """True if any word of `text` matches the query terms."""
    if not terms or not text:
        return False
    words = set(TOKEN_RE.findall(text[:MAX_SCAN_CHARS]))
    return bool(_keys(words, terms, english, language, Memo() if memo is None else memo))
