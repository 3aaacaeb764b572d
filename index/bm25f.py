"""A true BM25F term query: one word's frequencies across weighted fields, saturated once."""

from __future__ import annotations

from math import log
from typing import Any

from whoosh import matching
from whoosh import query as wq

from .schema import LANGUAGE_TWINS, PAGE_FIELDS


def _kind_count(searcher: Any, fieldname: str) -> int:
    parent = searcher.get_parent()
    cache = parent.__dict__.setdefault("_portal_kind_counts", {})
    kind = "page" if fieldname in PAGE_FIELDS else "pub"
    if kind not in cache:
        cache[kind] = max(1, parent.doc_frequency("kind", kind))
    return cache[kind]


def average_length(searcher: Any, fieldname: str) -> float:
    """The average length of `fieldname` over the documents of its kind, counting the text
    its language twin holds for documents in other languages (see `LANGUAGE_TWINS`)."""
    parent = searcher.get_parent()
    total = parent.field_length(fieldname)
    for twin in LANGUAGE_TWINS.get(fieldname, ()):
        if twin in parent.schema:
            total += parent.field_length(twin)
    return (total / _kind_count(parent, fieldname)) or 1.0


class BM25FTerm(wq.Query):
    """Matches documents containing a word in any of several fields; scores them by BM25F.

    `parts` are (field, indexed text, weight, b). Each field's frequency is length-normalised
    and weighted, the results are summed, and the sum is saturated once with k1 (unlike a sum
    of per-field BM25 scores, a word repeated in title and abstract is not counted twice over).
    The idf is that of the field where the word is most common.
    """

    def __init__(self, parts: tuple[tuple[str, str, float, float], ...], k1: float, boost: float = 1.0) -> None:
        self.parts = tuple(parts)
        self.k1 = k1
        self.boost = boost

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BM25FTerm)
            and self.parts == other.parts
            and self.k1 == other.k1
            and self.boost == other.boost
        )

    def __hash__(self) -> int:
        return hash((self.parts, self.k1, self.boost))

    def __repr__(self) -> str:
        return f"BM25FTerm({self.parts!r}, boost={self.boost})"

    def __unicode__(self) -> str:
        words = sorted({t for _, t, _, _ in self.parts})
        return "bm25f(%s)%s" % ("|".join(words), f"^{self.boost:g}" if self.boost != 1 else "")

    __str__ = __unicode__

    def is_leaf(self) -> bool:
        return True

    def terms(self, phrases: bool = False):  # type: ignore[no-untyped-def]
        for f, t, _, _ in self.parts:
            yield (f, t)

    def estimate_size(self, ixreader: Any) -> int:
        return sum(ixreader.doc_frequency(f, t) for f, t, _, _ in self.parts)

    def normalize(self) -> wq.Query:
        return self if self.parts else wq.NullQuery

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        parent = searcher.get_parent()
        children = []
        df = 0
        for f, text, weight, b in self.parts:
            if f not in searcher.schema or (f, text) not in searcher.reader():
                continue
            avg = average_length(parent, f)
            m = searcher.postings(f, text)
            children.append((m, f, weight, b, avg))
            df = max(df, parent.doc_frequency(f, text))
        if not children:
            return matching.NullMatcher()
        n = _kind_count(searcher, children[0][1])
        idf = log(1.0 + (n - df + 0.5) / (df + 0.5))
        scored = context is None or context.weighting is not None
        return _BM25FMatcher(searcher, children, idf * self.boost, self.k1, scored)


class _BM25FMatcher(matching.Matcher):
    def __init__(self, searcher: Any, children: list[tuple[Any, str, float, float, float]], idf: float,
                 k1: float, scored: bool) -> None:
        self._searcher = searcher
        self._children = children
        self._idf = idf
        self._k1 = k1
        self._scored = scored
        self._id = self._min_id()

    def _min_id(self) -> int | None:
        ids = [m.id() for m, *_ in self._children if m.is_active()]
        return min(ids) if ids else None

    def is_active(self) -> bool:
        return self._id is not None

    def id(self) -> int:
        return self._id  # type: ignore[return-value]

    def reset(self) -> None:
        for m, *_ in self._children:
            m.reset()
        self._id = self._min_id()

    def copy(self) -> _BM25FMatcher:
        return _BM25FMatcher(self._searcher, [(m.copy(), *rest) for m, *rest in self._children],
                             self._idf, self._k1, self._scored)

    def replace(self, minquality: float = 0) -> Any:
        return self if self.is_active() else matching.NullMatcher()

    def supports_block_quality(self) -> bool:
        return False

    def supports(self, astype: str) -> bool:
        return False

    def next(self) -> bool:
        if self._id is None:
            raise matching.ReadTooFar
        current = self._id
        for m, *_ in self._children:
            if m.is_active() and m.id() == current:
                m.next()
        self._id = self._min_id()
        return False

    def skip_to(self, id: int) -> bool:
        if self._id is None:
            raise matching.ReadTooFar
        if id <= self._id:
            return False
        for m, *_ in self._children:
            if m.is_active() and m.id() < id:
                m.skip_to(id)
        self._id = self._min_id()
        return False

    def all_ids(self):  # type: ignore[no-untyped-def]
        while self.is_active():
            yield self.id()
            self.next()

    def weight(self) -> float:
        return sum(m.weight() for m, *_ in self._children if m.is_active() and m.id() == self._id)

    def score(self) -> float:
        if not self._scored:
            return 1.0
        docnum = self._id
        tf = 0.0
        dfl = self._searcher.doc_field_length
        for m, f, weight, b, avg in self._children:
            if m.is_active() and m.id() == docnum:
                length = dfl(docnum, f, 1)
                tf += weight * m.weight() / ((1.0 - b) + b * length / avg)
        k1 = self._k1
        return self._idf * tf * (k1 + 1.0) / (tf + k1)
