"""Facet counting over every match, from a per-segment cache of the `facets` column."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .documents import FACET_FIELDS

Payload = dict[str, Any] | None


class FacetCache:
    """Decoded facet values per segment, shared by successive searchers of one index.

    Segments never change once written (deletions only hide documents), so a segment's
    decoded column stays valid until the segment is merged away.
    """

    def __init__(self) -> None:
        self._segments: dict[str, list[Payload]] = {}
        self._global_key: tuple[Any, ...] | None = None
        self._global: list[Payload] = []
        self._lock = threading.Lock()

    def payloads(self, searcher: Any) -> list[Payload]:
        """List indexed by global document number (None for non-publication documents)."""
        reader = searcher.reader()
        leaves = reader.leaf_readers()
        key = tuple((self._segment_key(r), off) for r, off in leaves)
        with self._lock:
            if key == self._global_key:
                return self._global
            fresh: dict[str, list[Payload]] = {}
            combined: list[Payload] = []
            for r, _off in leaves:
                skey = self._segment_key(r)
                values = self._segments.get(skey)
                if values is None:
                    values = self._decode(r)
                fresh[skey] = values
                combined.extend(values)
            self._segments = fresh
            self._global_key = key
            self._global = combined
            return combined

    @staticmethod
    def _segment_key(reader: Any) -> str:
        try:
            seg = reader.segment()
            return f"{seg.segment_id()}:{reader.doc_count_all()}"
        except Exception:  # readers without segments (e.g. empty) are cheap to decode
            return f"anon:{id(reader)}"

    @staticmethod
    def _decode(reader: Any) -> list[Payload]:
        n = reader.doc_count_all()
        if n == 0:
            return []
        if not reader.has_column("facets"):
            return [None] * n
        col = reader.column_reader("facets")
        out: list[Payload] = []
        for docnum in range(n):
            raw = col[docnum]
            if raw:
                try:
                    out.append(json.loads(raw.decode("utf-8")))
                except (ValueError, UnicodeDecodeError):
                    out.append(None)
            else:
                out.append(None)
        return out


def count_facets(payloads: list[Payload], docnums: Iterable[int], limit: int = 30) -> dict[str, list[tuple[str, int]]]:
    """Count facet values over `docnums`; years newest first, the rest by count then label."""
    counters: dict[str, Counter[str]] = {f: Counter() for f in FACET_FIELDS}
    n = len(payloads)
    for d in docnums:
        if d >= n:
            continue
        p = payloads[d]
        if p is None:
            continue
        if p.get("type"):
            counters["type"][p["type"]] += 1
        if p.get("year") is not None:
            counters["year"][str(p["year"])] += 1
        if p.get("series"):
            counters["series"][p["series"]] += 1
        for f in ("topic", "organisation", "author"):
            vals = p.get(f)
            if vals:
                counters[f].update(vals)
    out: dict[str, list[tuple[str, int]]] = {}
    for f, c in counters.items():
        if f == "year":
            items = sorted(c.items(), key=lambda kv: kv[0], reverse=True)
        else:
            items = sorted(c.items(), key=lambda kv: (-kv[1], kv[0].casefold()))
        out[f] = items[:limit]
    return out
