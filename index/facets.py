"""Facet counting over every match, from per-segment arrays of the `facets` column.

Each facet value a publication carries is one entry (document number, value number) in a
flat numpy array per facet; counting the values of a set of matches is one boolean lookup
and one `bincount` per facet, instead of a Python loop over every match.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .documents import FACET_FIELDS

MULTI_VALUED = ("topic", "organisation", "author")


@dataclass(frozen=True)
class _Segment:
    """One segment's facet entries: per facet, local document numbers and their labels."""

    docs: dict[str, np.ndarray]
    labels: dict[str, list[str]]


@dataclass(frozen=True)
class FacetTable:
    """Facet entries of a whole index (global document numbers), ready for counting."""

    size: int  # document numbers are below this
    docs: dict[str, np.ndarray]  # facet -> document number of each entry
    values: dict[str, np.ndarray]  # facet -> value number of each entry
    labels: dict[str, list[str]]  # facet -> label of each value number

    def count(self, matched: Any, limit: int = 30) -> dict[str, list[tuple[str, int]]]:
        """Count facet values over the matches: a boolean mask indexed by document number
        (any length), or an iterable of document numbers. Years come newest first, the rest
        by count then label; at most `limit` values per facet."""
        mask = self._mask(matched)
        some = bool(mask.any())
        out: dict[str, list[tuple[str, int]]] = {}
        for f in FACET_FIELDS:
            docs, labels = self.docs[f], self.labels[f]
            if not len(docs) or not some:
                out[f] = []
                continue
            counts = np.bincount(self.values[f][mask[docs]], minlength=len(labels))
            items = [(labels[i], int(counts[i])) for i in np.nonzero(counts)[0]]
            if f == "year":
                items.sort(key=lambda kv: kv[0], reverse=True)
            else:
                items.sort(key=lambda kv: (-kv[1], kv[0].casefold()))
            out[f] = items[:limit]
        return out

    def _mask(self, matched: Any) -> np.ndarray:
        if isinstance(matched, np.ndarray) and matched.dtype == np.bool_:
            if len(matched) >= self.size:
                return matched[: self.size]
            mask = np.zeros(self.size, dtype=bool)
            mask[: len(matched)] = matched
            return mask
        if isinstance(matched, np.ndarray):
            ids = matched.astype(np.int64, copy=False)
        else:
            ids = np.fromiter(matched, dtype=np.int64)
        mask = np.zeros(self.size, dtype=bool)
        mask[ids[(ids >= 0) & (ids < self.size)]] = True
        return mask


class FacetCache:
    """Facet arrays per segment, shared by successive searchers of one index.

    Segments never change once written (deletions only hide documents, and matches never
    include deleted documents), so a segment's arrays stay valid until it is merged away.
    The combined table is rebuilt only when the set of segments changes.
    """

    def __init__(self) -> None:
        self._segments: dict[str, _Segment] = {}
        self._global_key: tuple[Any, ...] | None = None
        self._table: FacetTable | None = None
        self._lock = threading.Lock()

    def table(self, searcher: Any) -> FacetTable:
        """The facet table of `searcher`'s index."""
        reader = searcher.reader()
        leaves = reader.leaf_readers()
        key = tuple((self._segment_key(r), off) for r, off in leaves)
        with self._lock:
            if key == self._global_key and self._table is not None:
                return self._table
            fresh: dict[str, _Segment] = {}
            parts: list[tuple[_Segment, int]] = []
            for r, off in leaves:
                skey = self._segment_key(r)
                seg = self._segments.get(skey)
                if seg is None:
                    seg = _decode(r)
                fresh[skey] = seg
                parts.append((seg, off))
            self._segments = fresh
            self._table = _combine(parts, reader.doc_count_all())
            self._global_key = key
            return self._table

    def nbytes(self) -> int:
        """Approximate memory held by the arrays (for reporting)."""
        with self._lock:
            total = sum(a.nbytes for s in self._segments.values() for a in s.docs.values())
            if self._table is not None:
                total += sum(a.nbytes for a in self._table.docs.values())
                total += sum(a.nbytes for a in self._table.values.values())
            return total

    @staticmethod
    def _segment_key(reader: Any) -> str:
        try:
            seg = reader.segment()
            return f"{seg.segment_id()}:{reader.doc_count_all()}"
        except Exception:  # readers without segments (e.g. empty) are cheap to decode
            return f"anon:{id(reader)}"


def _entries(payload: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(facet, label) of every value a publication's payload carries, repeats kept."""
    if payload.get("type"):
        yield "type", payload["type"]
    if payload.get("year") is not None:
        yield "year", str(payload["year"])
    if payload.get("series"):
        yield "series", payload["series"]
    for f in MULTI_VALUED:
        for v in payload.get(f) or ():
            yield f, v


def _publication_docs(reader: Any) -> Iterable[int]:
    """Local numbers of the documents that may carry facets (publications), else all."""
    from .schema import KIND_PUB

    try:
        if ("kind", KIND_PUB) not in reader:
            return ()
        return reader.postings("kind", KIND_PUB).all_ids()
    except (KeyError, AttributeError):
        return range(reader.doc_count_all())


def _decode(reader: Any) -> _Segment:
    docs: dict[str, list[int]] = {f: [] for f in FACET_FIELDS}
    labels: dict[str, list[str]] = {f: [] for f in FACET_FIELDS}
    if reader.doc_count_all() and reader.has_column("facets"):
        col = reader.column_reader("facets")
        for docnum in _publication_docs(reader):
            raw = col[docnum]
            if not raw:
                continue
            try:
                payload = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if not isinstance(payload, dict):
                continue
            for f, label in _entries(payload):
                docs[f].append(docnum)
                labels[f].append(label)
    return _Segment({f: np.asarray(d, dtype=np.int32) for f, d in docs.items()}, labels)


def _combine(parts: list[tuple[_Segment, int]], size: int) -> FacetTable:
    docs: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    for f in FACET_FIELDS:
        numbers: dict[str, int] = {}
        vals: list[int] = []
        for seg, _off in parts:
            vals.extend(numbers.setdefault(label, len(numbers)) for label in seg.labels[f])
        arrays = [seg.docs[f].astype(np.int64) + off for seg, off in parts]
        docs[f] = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
        values[f] = np.asarray(vals, dtype=np.int64)
        labels[f] = list(numbers)
    return FacetTable(size, docs, values, labels)
