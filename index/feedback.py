"""Pseudo-relevance feedback and key-term selection (for long questions and more-like-this)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from math import exp
from typing import Any

from .analysis import STOP_WORDS, TOKEN_RE, fold, stem


def doc_text(info: dict[str, Any]) -> str:
    """The stored text of a publication used as evidence: title, subtitle, abstract, keywords."""
    parts = [info.get("title", ""), info.get("subtitle", ""), info.get("abstract", "")]
    parts += list(info.get("keywords") or [])
    return "\n".join(p for p in parts if p)


def field_counts(info: dict[str, Any], weights: dict[str, float]) -> dict[str, float]:
    """Stem counts of the evidence fields (as `doc_text`), each occurrence counted at its
    field's weight in `weights` (1 for a field not named), as BM25F counts a word: a title
    word weighs what the ranking gives a title word. Empty `weights`: plain counts."""
    english = info.get("english", True)
    parts = [("title", info.get("title", "")), ("subtitle", info.get("subtitle", "")),
             ("abstract", info.get("abstract", ""))]
    parts += [("keywords", k) for k in info.get("keywords") or []]
    out: dict[str, float] = {}
    for name, text in parts:
        if not text:
            continue
        w = weights.get(name, 1.0)
        for t in stems_of(text, english):
            out[t] = out.get(t, 0.0) + w
    return out


def stems_of(text: str, english: bool = True) -> list[str]:
    """Content words of `text` (stemmed if English), without stop words and bare numbers."""
    out = []
    for m in TOKEN_RE.finditer(text):
        f = fold(m.group())
        if not f or f in STOP_WORDS or len(f) < 3 or not f.isalpha():
            continue
        out.append(stem(f) if english else f)
    return out


def feedback_terms(
    docs: Iterable[tuple[float, list[str]]],
    idf: Any,
    exclude: set[str],
    n_terms: int,
    min_docs: int = 2,
    temperature: float = 5.0,
) -> list[tuple[str, float]]:
    """Choose expansion terms from top documents (score, stems), RM-style weighted by idf.

    Each feedback document counts with weight exp(temperature * score / best score) (a
    softmax over the ranking, as relevance models weight documents by their likelihood); a
    term's weight is the weighted sum of its relative frequency in each document, times its
    idf. Terms found in fewer than `min_docs` documents are ignored.
    """
    docs = list(docs)
    if not docs:
        return []
    top = max(s for s, _ in docs) or 1.0
    weight: Counter[str] = Counter()
    seen_in: Counter[str] = Counter()
    for score, words in docs:
        if not words:
            continue
        tf = Counter(words)
        n = len(words)
        dw = exp(temperature * (score / top - 1.0))
        for t, c in tf.items():
            weight[t] += dw * (c / n)
            seen_in[t] += 1
    scored = [
        (t, w * idf(t)) for t, w in weight.items() if t not in exclude and seen_in[t] >= min_docs
    ]
    scored.sort(key=lambda tw: (-tw[1], tw[0]))
    scored = scored[:n_terms]
    if not scored:
        return []
    best = scored[0][1] or 1.0
    return [(t, w / best) for t, w in scored]


def key_terms(words: list[str], idf: Any, n_terms: int) -> list[tuple[str, float]]:
    """The most characteristic words of one document: tf x idf, normalised to the best."""
    tf = Counter(words)
    scored = sorted(((t, (1 + c) ** 0.5 * idf(t)) for t, c in tf.items()), key=lambda x: (-x[1], x[0]))
    scored = [x for x in scored if x[1] > 0][:n_terms]
    if not scored:
        return []
    best = scored[0][1]
    return [(t, w / best) for t, w in scored]
