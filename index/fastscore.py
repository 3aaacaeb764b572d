"""Exact BM25F scores of a disjunction of words for every document at once, with numpy.

Whoosh scores a query one document at a time through Python matcher objects; for an OR of
several words over many fields that is most of a search's time. For the common query shape
(an OR of `BM25FTerm`s) this module reads each word's postings a block at a time and does the
same arithmetic as `bm25f._BM25FMatcher.score` on whole arrays: the scores are the same, and
the set of documents with a positive score is exactly the set that matches.

Per-segment field lengths are decoded once and cached (segments never change once written).
"""

from __future__ import annotations

import threading
from math import log
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.util.numeric import byte_to_length

from .bm25f import BM25FTerm, _kind_count

_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


def flat_terms(q: wq.Query | None) -> list[BM25FTerm] | None:
    """The BM25F words of `q` if it is one word or an OR of words; None for other shapes."""
    if isinstance(q, BM25FTerm):
        return [q]
    if isinstance(q, wq.Or) and q.boost == 1.0 and all(isinstance(c, BM25FTerm) for c in q.subqueries):
        return list(q.subqueries)
    return None


class LengthCache:
    """Field lengths per segment as float arrays, decoded once per segment."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def lengths(self, leaf: Any, fieldname: str) -> np.ndarray:
        key = (segment_key(leaf), fieldname)
        with self._lock:
            arr = self._cache.get(key)
        if arr is None:
            arr = _decode_lengths(leaf, fieldname)
            with self._lock:
                self._cache[key] = arr
        return arr

    def forget_except(self, keys: set[str]) -> None:
        """Drop the arrays of segments no longer in use."""
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[0] in keys}


def segment_key(leaf: Any) -> str:
    try:
        return f"{leaf.segment().segment_id()}:{leaf.doc_count_all()}"
    except Exception:  # readers without a segment: never cached for long
        return f"anon:{id(leaf)}"


def _decode_lengths(leaf: Any, fieldname: str) -> np.ndarray:
    n = leaf.doc_count_all()
    perdoc = getattr(leaf, "_perdoc", None)
    try:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        reader = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)  # type: ignore[union-attr]
        if reader is None:
            return np.zeros(n, dtype=np.float32)
        raw = np.fromiter((reader[d] for d in range(n)), dtype=np.uint8, count=n)
        return _BYTE_LENGTHS[raw].astype(np.float32)
    except (AttributeError, ImportError, TypeError):  # another codec: the public, slower way
        return np.array([leaf.doc_field_length(d, fieldname, 0) or 0 for d in range(n)], dtype=np.float32)


def _postings(leaf: Any, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, weights) of one term in one segment, deleted documents included
    (callers intersect with the live documents they may show)."""
    m = leaf.postings(fieldname, text)
    if isinstance(m, FilterMatcher):
        m = m.child
    ids: list[int] = []
    weights: list[float] = []
    if isinstance(m, W3LeafMatcher):
        while m.is_active():
            if m._ids is None:
                m._read_ids()
            if m._weights is None:
                m._read_weights()
            ids.extend(m._ids)
            weights.extend(m._weights)
            m._next_block()
    else:
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            m.next()
    return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)


def score_all(searcher: Any, terms: list[BM25FTerm], lengths: LengthCache) -> np.ndarray:
    """BM25F score of the OR of `terms` for every document number of `searcher` (0: no match)."""
    parent = searcher.get_parent()
    total = np.zeros(parent.doc_count_all(), dtype=np.float64)
    reader = parent.reader()
    leaves = reader.leaf_readers()
    for term in terms:
        present = [(f, t, w, b) for f, t, w, b in term.parts if f in parent.schema and (f, t) in reader]
        if not present:
            continue
        df = max(parent.doc_frequency(f, t) for f, t, _, _ in present)
        n = _kind_count(parent, present[0][0])
        idf = log(1.0 + (n - df + 0.5) / (df + 0.5)) * term.boost
        k1 = term.k1
        for leaf, offset in leaves:
            tf: np.ndarray | None = None
            for f, t, weight, b in present:
                if (f, t) not in leaf:
                    continue
                ids, w = _postings(leaf, f, t)
                if not len(ids):
                    continue
                avg = (parent.field_length(f) / _kind_count(parent, f)) or 1.0
                dl = lengths.lengths(leaf, f)[ids]
                part = weight * w / ((1.0 - b) + b * dl / avg)
                if tf is None:
                    tf = np.zeros(leaf.doc_count_all(), dtype=np.float64)
                np.add.at(tf, ids, part)
            if tf is None:
                continue
            hit = np.nonzero(tf)[0]
            x = tf[hit]
            total[hit + offset] += idf * x * (k1 + 1.0) / (x + k1)
    return total


def top_docs(scores: np.ndarray, mask: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The best `k` (docnum, score) among documents where `mask` is true, best first (ties by
    document number, as Whoosh orders them)."""
    docs = np.nonzero(mask)[0]
    if not len(docs):
        return []
    vals = scores[docs]
    if len(docs) > k:
        part = np.argpartition(-vals, k - 1)[:k]
        docs, vals = docs[part], vals[part]
    order = np.lexsort((docs, -vals))
    return [(int(docs[i]), float(vals[i])) for i in order]


# ---------------------------------------------------------------------- proximity boosts
Pair = tuple[str, tuple[str, ...], int, float]  # (field, words, slop, boost)


def flat_phrases(queries: list[wq.Query]) -> list[Pair] | None:
    """The phrases of proximity boosts (an OR, at any depth, of two-word phrases), or None
    when the queries have another shape."""
    out: list[Pair] = []

    def walk(q: wq.Query) -> bool:
        if isinstance(q, wq.Phrase):
            if len(q.words) != 2:
                return False
            out.append((q.fieldname, tuple(q.words), int(q.slop), float(q.boost)))
            return True
        if isinstance(q, wq.Or) and q.boost == 1.0:
            return all(walk(c) for c in q.subqueries)
        return False

    return out if all(walk(q) for q in queries) else None


def _near(first: list[int], second: list[int], slop: int) -> bool:
    """True when some position of `second` follows one of `first` by 1 to `slop` positions
    (Whoosh's ordered SpanNear2 with mindist 1 on single-word spans)."""
    if not first or not second:
        return False
    j, n = 0, len(second)
    for p in first:  # both lists ascending
        while j < n and second[j] <= p:
            j += 1
        if j < n and second[j] - p <= slop:
            return True
    return False


def phrase_scores(searcher: Any, phrases: list[Pair], docnums: list[int]) -> dict[int, float]:
    """Scores of an OR of two-word phrases for the given documents only, as Whoosh's
    `Phrase` queries score them (boost times the sum of both words' BM25 in that field, when
    the second word follows the first within `slop` positions).

    Each word's postings are visited only at the wanted documents (skipping whole blocks),
    and positions are decoded for those documents only. Whoosh's phrase matcher instead
    reads the positions of every document containing both words until the next match.
    """
    wanted = sorted(set(docnums))
    out: dict[int, float] = {}
    if not wanted or not phrases:
        return out
    parent = searcher.get_parent()
    weighting = parent.weighting
    for sub, offset in parent.leaf_searchers():
        end = offset + sub.doc_count_all()
        local = [d - offset for d in wanted if offset <= d < end]
        if not local:
            continue
        reader = sub.reader()
        for fieldname, words, slop, boost in phrases:
            if fieldname not in sub.schema:
                continue
            field = sub.schema[fieldname]
            try:
                texts = [field.to_bytes(w) for w in words]
            except ValueError:
                continue
            if any((fieldname, t) not in reader for t in texts):
                continue
            scorers = [weighting.scorer(sub, fieldname, t) for t in texts]
            ma, mb = (reader.postings(fieldname, t) for t in texts)
            for d in local:
                if not (ma.is_active() and mb.is_active()):
                    break
                if ma.id() < d:
                    ma.skip_to(d)
                    if not ma.is_active():
                        break
                if ma.id() != d:
                    continue
                if mb.id() < d:
                    mb.skip_to(d)
                    if not mb.is_active():
                        break
                if mb.id() != d:
                    continue
                if not _near(ma.value_as("positions"), mb.value_as("positions"), slop):
                    continue
                g = d + offset
                out[g] = out.get(g, 0.0) + (scorers[0].score(ma) + scorers[1].score(mb)) * boost
    return out
