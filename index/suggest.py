"""'Did you mean': corrections for unknown query words from the index's own vocabulary."""

from __future__ import annotations

import re
from typing import Any

from whoosh.util.text import utf8decode

from .analysis import STOP_WORDS, TOKEN_RE, fold

SPELL_FIELD = "spell"


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def _candidates(searcher: Any, word: str, maxdist: int) -> list[tuple[int, int, str]]:
    """(distance, -doc frequency, term) for vocabulary terms near `word`."""
    out: dict[str, tuple[int, int, str]] = {}
    for leaf, _off in searcher.reader().leaf_readers():
        try:
            terms = leaf.terms_within(SPELL_FIELD, word, maxdist, prefix=1)
            for t in terms:
                t = utf8decode(t)[0] if isinstance(t, bytes) else t
                if t == word or t in out:
                    continue
                out[t] = (0, 0, t)
        except (KeyError, TypeError, ValueError):
            continue
    ranked = []
    for t in out:
        df = searcher.doc_frequency(SPELL_FIELD, t)
        if df > 0:
            ranked.append((_distance(word, t), -df, t))
    ranked.sort()
    return ranked


def correct(searcher: Any, text: str, max_words: int = 8) -> str | None:
    """Return `text` with unknown words replaced by their likeliest correction, or None."""
    changed = False
    replacements: dict[str, str] = {}
    words = 0
    for m in TOKEN_RE.finditer(text):
        raw = m.group()
        f = fold(raw)
        if len(f) < 4 or not f.isalpha() or f in STOP_WORDS or f in replacements:
            continue
        words += 1
        if words > max_words:
            break
        if searcher.doc_frequency(SPELL_FIELD, f) > 0:
            continue
        best = None
        for dist in (1, 2) if len(f) >= 6 else (1,):
            cands = _candidates(searcher, f, dist)
            if cands:
                best = cands[0][2]
                break
        if best:
            replacements[f] = best
            changed = True
    if not changed:
        return None

    def swap(m: re.Match[str]) -> str:
        return replacements.get(fold(m.group()), m.group())

    return TOKEN_RE.sub(swap, text)
