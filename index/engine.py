"""SearchIndex: the Whoosh-backed search engine behind the index package's public interface."""

from __future__ import annotations

import json
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import collectors, sorting
from whoosh import index as windex
from whoosh import query as wq
from whoosh.reading import ReaderClosed

from . import bulkwrite, storage
from .analysis import QueryToken, language_stemmer
from .bm25f import BM25FTerm
from .documents import (
    MAX_LIMIT,
    SORTS,
    Hit,
    PageHit,
    PublicationDoc,
    SearchRequest,
    SearchResult,
)
from .errors import IndexUnavailable
from .facets import FacetCache
from .fastscore import (
    KeptPostings,
    LengthCache,
    TermCache,
    TermLookup,
    add_weights,
    flat_phrases,
    flat_terms,
    live_docs_with,
    phrase_match_all,
    phrase_scores,
    score_all,
    score_some,
    segment_key,
    stops_at,
    top_docs,
)
from .feedback import doc_text, feedback_terms, field_counts, key_terms, stems_of
from .highlight import Memo, snippet
from .query import parse, parse_year_value
from .querybuild import ALL_FIELDS, Compiled, HighlightTerms, _Builder, compile_query, expansion_query
from .ranking import PortalBM25, Ranking
from .rerank import doc_vectors, regularise
from .schema import (
    KIND_META,
    KIND_PAGE,
    KIND_PUB,
    SCHEMA_VERSION,
    build_schema,
    is_english,
    to_index_documents,
)
from .suggest import correct
from .vocabulary import Vocabulary, VocabularySource

PageText = Callable[[int, int], str]

# Memory for a writer's postings before they spill to run files (see bulkwrite.TermPool);
# a rebuild's writer(s) share REBUILD_LIMIT_MB, whatever the collection's size.
WRITER_LIMIT_MB = 64
REBUILD_LIMIT_MB = 128
READ_ERRORS = storage.READ_ERRORS + (struct.error, zlib.error, ReaderClosed, KeyError)
LAST_APPLIED_UID = "meta:last_applied"
DEFAULT_MAPPED_BUDGET_MB = 96  # resident index pages a process keeps mapped between reads
MAX_WINDOW = 100_000  # deepest result position served (page * limit)
SUGGEST_BELOW = 5  # try a correction when fewer results than this
SNIPPET_CHARS = 240
# Relevance ranks the best `max(n + CANDIDATE_MARGIN, MIN_CANDIDATES)` documents by the words'
# BM25F first, then adds the (small) proximity boosts to those candidates only.
CANDIDATE_MARGIN = 200
MIN_CANDIDATES = 300
BOOST_MARGIN = 30
MIN_BOOSTED = 50


class _Moved(Exception):
    """The live generation changed while a writer waited for its lock."""


@dataclass
class _RawHit:
    docnum: int
    score: float
    info: dict[str, Any]
    pub_id: int
    pages: list[tuple[int, float]] = field(default_factory=list)


class SearchIndex:
    """A search index of publications (and their pages) in one directory.

    Layout: `<directory>/CURRENT` names the live generation `<directory>/gen-NNNNNN`, a Whoosh
    index. `rebuild` writes a new generation and swaps the pointer atomically. One writer at a
    time (Whoosh's file lock, retried with backoff); any number of readers, which notice new
    commits and swaps on their next search.
    """

    # more-like-this scores its words in array passes (False: Whoosh's matchers, for tests)
    fast_related = True

    def __init__(
        self,
        directory: Path,
        ranking: Ranking | None = None,
        create: bool = True,
        lock_timeout: float = 120.0,
        synonyms_file: Path | None = None,
        shipped_synonyms: bool = True,
        mapped_budget_mb: int | None = DEFAULT_MAPPED_BUDGET_MB,
    ) -> None:
        self.directory = Path(directory)
        # resident pages of the memory-mapped index kept by this process (None: no bound)
        self._mapped_budget = int(mapped_budget_mb) * 1024 * 1024 if mapped_budget_mb else None
        storage.limit_mapped(self._mapped_budget)
        # the staff's synonyms file (shipped list alone when None); re-read when it changes
        self.vocabulary_source = VocabularySource(synonyms_file, shipped=shipped_synonyms)
        self.ranking = ranking or Ranking()
        self.lock_timeout = lock_timeout
        self._layout = storage.Layout(self.directory)
        self._schema = build_schema()
        self._weighting = PortalBM25(self.ranking)
        self._lock = threading.RLock()
        self._gen: str | None = None
        self._ix: Any = None
        self._searcher: Any = None
        self._facets = FacetCache()
        self._filter_cache: dict[tuple[Any, ...], frozenset[int]] = {}
        self._lengths = LengthCache()
        self._terms = TermCache()
        self._mask_cache: tuple[frozenset[int], Any] | None = None
        if create:
            try:
                self._ensure_created()
            except (OSError, IndexUnavailable):
                pass  # read-only or not yet creatable: reads will raise IndexUnavailable

    def vocabulary(self) -> Vocabulary:
        """The synonyms and acronyms in force (shipped list plus the staff's file)."""
        return self.vocabulary_source.current()

    # ------------------------------------------------------------------ versions, meta
    @property
    def schema_version(self) -> int:
        """The schema version this code writes."""
        return SCHEMA_VERSION

    def stored_schema_version(self) -> int | None:
        """The schema version of the live index on disk, or None if there is none."""
        name = self._layout.current_name()
        if name is None:
            return None
        try:
            meta = json.loads((self._layout.path(name) / storage.META_FILE).read_text("utf-8"))
            return int(meta["schema_version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def needs_rebuild(self) -> bool:
        """True when there is no index or it was built with another schema version."""
        return self.stored_schema_version() != SCHEMA_VERSION

    def exists(self) -> bool:
        """True when a live index exists."""
        return self._layout.current_name() is not None

    # ------------------------------------------------------------------ opening
    def _ensure_created(self) -> None:
        if self._layout.current_name() is not None:
            return
        with self._layout.lock("SETUP", self.lock_timeout):
            if self._layout.current_name() is not None:
                return
            name = self._layout.next_name()
            self._new_generation(name)
            self._layout.swap(name)

    def _new_generation(self, name: str) -> Any:
        path = self._layout.path(name)
        path.mkdir(parents=True, exist_ok=False)
        ix = windex.create_in(str(path), self._schema)
        meta = {"schema_version": SCHEMA_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (path / storage.META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        return ix

    def _reset(self) -> None:
        if self._searcher is not None:
            try:
                self._searcher.close()
            except Exception:  # closing a broken searcher must not mask the real error
                pass
        self._searcher = None
        self._ix = None
        self._gen = None
        self._filter_cache.clear()

    def _current_searcher(self) -> Any:
        name = self._layout.current_name()
        if name is None:
            raise IndexUnavailable("the search index has not been built yet")
        if name != self._gen or self._searcher is None:
            self._reset()
            ix = storage.open_with_retry(self._layout.path(name), self._schema)
            self._searcher = self._open_searcher(ix)
            self._ix, self._gen = ix, name
        elif not self._searcher.up_to_date():
            # A fresh reader, not Searcher.refresh(): Whoosh's reader reuse keeps stale
            # deletion sets, re-adds merged-away segments, and fails on an empty index.
            old = self._searcher
            self._searcher = None
            self._filter_cache.clear()
            try:
                old.close()
            except Exception:  # closing a broken searcher must not mask the real error
                pass
            self._searcher = self._open_searcher(self._ix)
        return self._searcher

    def _open_searcher(self, ix: Any) -> Any:
        """A searcher with our weighting, retrying the transient FileNotFoundError."""
        delay = 0.005
        for attempt in range(storage.OPEN_ATTEMPTS):
            try:
                searcher = ix.searcher(weighting=self._weighting)
            except FileNotFoundError:
                if attempt == storage.OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(delay)
                delay *= 2
                continue
            # field lengths of segments merged away are no longer needed
            self._lengths.forget_except({segment_key(r) for r, _ in searcher.reader().leaf_readers()})
            return searcher
        raise IndexUnavailable("cannot open the search index")  # pragma: no cover

    def _read(self, fn: Callable[[Any], Any]) -> Any:
        """Run `fn(searcher)` under the lock; reopen and retry once on a read error."""
        for attempt in (0, 1):
            with self._lock:
                try:
                    result = fn(self._current_searcher())
                    storage.trim_maps(self._mapped_budget)
                    return result
                except IndexUnavailable:
                    self._reset()
                    if attempt:
                        raise
                except READ_ERRORS as exc:
                    self._reset()
                    if attempt:
                        raise IndexUnavailable(f"the search index could not be read: {exc}") from exc
            time.sleep(0.01)
        raise IndexUnavailable("the search index could not be read")  # pragma: no cover

    def cache_bytes(self) -> dict[str, int]:
        """Memory held by the per-index caches of the query path, in bytes: field lengths
        (one byte per document and field used), facet values, the status filter, term
        dictionary entries of recent words (bounded, see `fastscore.TermCache`)."""
        with self._lock:
            filters = sum(len(v) for v in self._filter_cache.values()) * 8  # about, as int ids
            mask = self._mask_cache[1].nbytes if self._mask_cache is not None else 0
            return {"lengths": self._lengths.nbytes(), "facets": self._facets.nbytes(),
                    "filters": filters + mask, "terms": self._terms.nbytes()}

    def close(self) -> None:
        """Release open files."""
        with self._lock:
            self._reset()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def _write(self, fn: Callable[[Any], None]) -> None:
        """Apply `fn(writer)` to the live generation and commit (or cancel on error)."""
        self._ensure_created()
        while True:
            name = self._layout.current_name()
            if name is None:
                raise IndexUnavailable("the search index disappeared")
            ix = storage.open_with_retry(self._layout.path(name), self._schema)
            try:
                with storage.writer(ix, self.lock_timeout, limitmb=WRITER_LIMIT_MB,
                                    codec=bulkwrite.LengthCachingCodec()) as w:
                    # A rebuild swaps generations only while holding the old one's lock, so
                    # once we hold it the generation we write is the live one.
                    if self._layout.current_name() != name:
                        raise _Moved
                    fn(w)
                return
            except _Moved:
                continue
            finally:
                ix.close()

    @staticmethod
    def _add_docs(w: Any, docs: Iterable[PublicationDoc], fresh: bool = False) -> int:
        bulkwrite.use_term_pool(w)
        n = 0
        for doc in docs:
            if not fresh:  # a fresh generation has nothing to replace
                w.delete_by_term("pid", str(int(doc.id)))
            for fields in to_index_documents(doc):
                w.add_document(**fields)
            n += 1
        return n

    @staticmethod
    def _set_meta(w: Any, value: int) -> None:
        w.delete_by_term("uid", LAST_APPLIED_UID)
        w.add_document(uid=LAST_APPLIED_UID, kind=KIND_META, meta_value=int(value))

    def add_or_replace(self, docs: Iterable[PublicationDoc], last_applied: int | None = None) -> None:
        """Index publications (and their pages), replacing earlier versions, in one commit.

        `last_applied`, if given, is stored in the same commit (see `last_applied()`).
        """
        batch = list({int(d.id): d for d in docs}.values())
        if not batch and last_applied is None:
            return

        def apply(w: Any) -> None:
            self._add_docs(w, batch)
            if last_applied is not None:
                self._set_meta(w, last_applied)

        self._write(apply)

    def delete(self, ids: Iterable[int], last_applied: int | None = None) -> None:
        """Remove publications (and their pages) from the index."""
        pids = sorted({int(i) for i in ids})
        if not pids and last_applied is None:
            return

        def apply(w: Any) -> None:
            for pid in pids:
                w.delete_by_term("pid", str(pid))
            if last_applied is not None:
                self._set_meta(w, last_applied)

        self._write(apply)

    def set_last_applied(self, n: int) -> None:
        """Store the caller's journal position in the index."""
        self._write(lambda w: self._set_meta(w, n))

    def last_applied(self) -> int | None:
        """The journal position stored with the live index (None if never set)."""
        return self._read(_stored_position)

    def rebuild(
        self,
        docs: Iterable[PublicationDoc],
        total: int | None = None,
        progress: Callable[[int], None] | None = None,
        last_applied: int | None = None,
        batch_size: int = 500,
        processes: int = 1,
    ) -> None:
        """Build a fresh index beside the live one and swap it in atomically.

        One writer takes every document and commits once: the index gets one segment (and a
        one-document segment for `last_applied`). Memory is bounded by the writer's postings
        limit (`REBUILD_LIMIT_MB`, spilled to run files beyond it) and one batch of
        `batch_size` publications in hand; `progress` is called with the running count of
        publications added after each batch. With `processes` > 1 that many worker processes
        each keep one writer (and make one segment), taking batches of
        `batch_size // processes` in turn, and the postings limit is shared between them; the
        index holds the same documents, postings and statistics as a single process builds,
        listed worker by worker. `total`, the number of publications expected, only makes
        batches smaller when there would be fewer than `processes`.
        Readers keep using the old generation until the swap; the previous generation is
        kept on disk until the next rebuild so open readers finish their work.
        Pass `last_applied` (the journal position read before iterating `docs`) so the
        incremental indexer replays whatever changed during the rebuild.
        """
        if processes > 1:
            # the workers share the memory of one batch (each holds its own batch), and each
            # gets at least one batch (a batch is the unit of work)
            batch_size = max(1, batch_size // processes)
            if total:
                batch_size = min(batch_size, max(1, -(-total // processes)))
        with self._layout.lock("REBUILD", self.lock_timeout):
            old = self._layout.current_name()
            name = self._layout.next_name()
            ix = self._new_generation(name)
            try:
                if processes > 1:
                    self._write_batches_in_workers(ix, name, docs, batch_size, processes, progress,
                                                   last_applied)
                else:
                    self._write_batches(ix, docs, batch_size, progress, last_applied)
                ix.close()
                self._swap_in(old, name)
            except BaseException:
                ix.close()
                if self._layout.current_name() != name:
                    shutil.rmtree(self._layout.path(name), ignore_errors=True)
                raise
            self._layout.remove_old(keep={name} | ({old} if old else set()))

    def segment_builder(self, batch_size: int = 2) -> SegmentBuilder:
        """A `SegmentBuilder` for publications that the caller will hand over one by one while
        it does other work (see there)."""
        self._ensure_created()
        return SegmentBuilder(self, batch_size)

    def _list_built(self, name: str, built: Path, segment: Any, pids: list[int],
                    ready: Callable[[int | None], int | None]) -> bool:
        """Under the live generation's writer lock: if it is still generation `name` and
        `ready(position stored in it)` gives the journal position to store instead (None:
        the caller's publications are no longer the latest), move the segment's files from
        `built` into the generation, delete the earlier versions of `pids`, list the segment
        and store the position, in one commit. Returns whether it did."""
        ix = storage.open_with_retry(self._layout.path(name), self._schema)
        try:
            with storage.writer(ix, self.lock_timeout) as w:
                position = None
                if self._layout.current_name() == name:
                    with w.searcher() as s:
                        position = ready(_stored_position(s))
                if position is None:
                    raise _Moved  # the writer is cancelled, nothing listed
                target = self._layout.path(name)
                for f in sorted(built.glob(f"{segment.segment_id()}.*")):
                    f.replace(target / f.name)
                for pid in pids:
                    w.delete_by_term("pid", str(int(pid)))
                w.mergetype = lambda writer, existing: [*existing, segment]
                self._set_meta(w, position)
            return True
        except _Moved:
            return False
        finally:
            ix.close()

    def segment_count(self) -> int:
        """How many segments the live index has (each one a query visits)."""
        name = self._layout.current_name()
        if name is None:
            return 0
        ix = storage.open_with_retry(self._layout.path(name), self._schema)
        try:
            return len(ix._segments())
        finally:
            ix.close()

    @staticmethod
    def _batches(docs: Iterable[PublicationDoc], batch_size: int) -> Iterable[list[PublicationDoc]]:
        pending: dict[int, PublicationDoc] = {}
        for doc in docs:
            pending[int(doc.id)] = doc
            if len(pending) >= batch_size:
                yield list(pending.values())
                pending = {}
        if pending:
            yield list(pending.values())

    def _write_batches(self, ix: Any, docs: Iterable[PublicationDoc], batch_size: int,
                       progress: Callable[[int], None] | None, last_applied: int | None) -> None:
        written = 0
        with storage.writer(ix, self.lock_timeout, writer_class=bulkwrite.BulkSegmentWriter,
                            limitmb=REBUILD_LIMIT_MB) as w:
            for batch in self._batches(docs, batch_size):
                written += self._add_docs(w, batch, fresh=True)
                if progress:
                    progress(written)
            if last_applied is not None:
                self._set_meta(w, last_applied)

    def _write_batches_in_workers(self, ix: Any, name: str, docs: Iterable[PublicationDoc],
                                  batch_size: int, processes: int,
                                  progress: Callable[[int], None] | None,
                                  last_applied: int | None) -> None:
        directory = str(self._layout.path(name))
        # the workers share one rebuild's memory for postings between them
        limitmb = max(32, REBUILD_LIMIT_MB // processes)
        workers = [_SegmentWorker(directory, limitmb) for _ in range(processes)]
        written = 0

        def wait_for(worker: _SegmentWorker) -> None:
            nonlocal written
            added = worker.wait_added()
            if added and progress:
                written += added
                progress(written)

        try:
            # batch k goes to worker k % processes once that worker has added its last one
            for k, batch in enumerate(self._batches(docs, batch_size)):
                worker = workers[k % processes]
                wait_for(worker)
                worker.send(batch)
            for worker in workers:
                wait_for(worker)
                worker.send(None)  # finish: the worker commits its segment
            made = [worker.wait_segment() for worker in workers]
            segments = [segment for segment in made if segment is not None]
        finally:
            for worker in workers:
                worker.close()
        # list the new segments after any already there, worker by worker
        with storage.writer(ix, self.lock_timeout) as w:
            w.mergetype = lambda writer, existing: [*existing, *segments]
            if last_applied is not None:
                self._set_meta(w, last_applied)

    def _swap_in(self, old: str | None, name: str) -> None:
        if old is None:
            with self._layout.lock("SETUP", self.lock_timeout):
                self._layout.swap(name)
            return
        old_ix = storage.open_with_retry(self._layout.path(old), self._schema)
        try:
            # Hold the old generation's writer lock while swapping: a concurrent incremental
            # writer either finished before, or notices the move and writes to the new one.
            w = None
            deadline = time.monotonic() + self.lock_timeout
            while w is None:
                try:
                    w = old_ix.writer(timeout=0.0)
                except windex.LockError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            try:
                self._layout.swap(name)
            finally:
                w.cancel()
        finally:
            old_ix.close()

    # ------------------------------------------------------------------ inventory
    def doc_ids(self) -> set[int]:
        """Ids of every publication in the index (any status)."""
        def get(s: Any) -> set[int]:
            if s.doc_count_all() == 0:  # an empty index has no columns to read
                return set()
            col = s.reader().column_reader("pub_id")
            return {int(col[d]) for d in s.docs_for_query(wq.Term("kind", KIND_PUB))}

        return self._read(get)

    def doc_count(self) -> int:
        """Number of publications in the index (any status)."""
        return self._read(lambda s: sum(1 for _ in s.docs_for_query(wq.Term("kind", KIND_PUB))))

    # ------------------------------------------------------------------ searching
    def _allowed(self, s: Any, req: SearchRequest) -> frozenset[int] | None:
        """Document numbers of publications the request may see (status and filters)."""
        key = ("base", req.include_unpublished)
        base = self._filter_cache.get(key)
        if base is None:
            q: wq.Query = wq.Term("kind", KIND_PUB)
            if not req.include_unpublished:
                q = wq.And([q, wq.Term("status", "published")])
            base = frozenset(s.docs_for_query(q))
            self._filter_cache[key] = base
        extra = [fq for fq in (_filter_query(f, v) for f, v in req.filters) if fq is not None]
        if not extra:
            return base
        docs = set(base)
        for fq in extra:
            docs.intersection_update(s.docs_for_query(fq))
        return frozenset(docs)

    def search(self, req: SearchRequest, page_text: PageText | None = None) -> SearchResult:
        """Run a search; snippets for the returned hits come from `page_text` and abstracts."""
        page = max(1, int(req.page or 1))
        limit = max(1, min(int(req.limit or 10), MAX_LIMIT))
        sort = req.sort if req.sort in SORTS else "relevance"
        parsed = parse(req.query)
        compiled = compile_query(parsed, self.ranking, self.vocabulary(), self._read(_index_languages))
        if req.within is not None:
            return self._search_within(req, compiled, parsed.text, page, limit, page_text)

        def run(s: Any) -> tuple[int, list[_RawHit], dict[str, list[tuple[str, int]]], str | None]:
            allowed = self._allowed(s, req)
            fast = self._fast_match(s, compiled, allowed)
            first: list[tuple[int, float]] | None = None
            if fast is None and sort == "relevance" and compiled.match is not None:
                # one pass gives both every match (for the total and facets) and the best
                # candidates: phrase positions are read once, not twice
                matched, first = self._match_and_rank(s, compiled, allowed, page * limit)
                scores = mask = None
            elif fast is None:
                matched = self._matched(s, compiled, allowed)
                scores = mask = None
            else:
                scores, mask, kept = fast
                matched = None  # listed only if a sort other than relevance needs it
            total = len(matched) if mask is None else int(np.count_nonzero(mask))
            if req.facets:
                facets = self._facets.table(s).count(matched if mask is None else mask, req.facet_limit)
            else:
                facets = {}
            start = (page - 1) * limit
            raw: list[_RawHit] = []
            if start < total and page * limit <= MAX_WINDOW:
                if first is not None:
                    ranked = self._relevance(s, compiled, page * limit, lambda k: first[:k])
                elif scores is not None and sort == "relevance":
                    ranked = self._relevance(s, compiled, page * limit,
                                             lambda k: top_docs(scores, mask, k), kept)
                else:
                    if matched is None:
                        matched = np.nonzero(mask)[0].tolist()
                    ranked = self._ranked(s, compiled, set(matched), sort, page * limit)
                raw = self._load(s, ranked[start:])
                self._attach_pages(s, compiled, raw, max(0, min(req.max_pages_per_hit, 50)))
            suggestion = None
            if total < SUGGEST_BELOW and not compiled.match_all:
                suggestion = self._suggest(s, parsed.text, allowed, total)
            return total, raw, facets, suggestion

        total, raw, facets, suggestion = self._read(run)
        terms = compiled.highlight if req.snippets else None
        memos: dict[tuple[bool, str], Memo] = {}  # which words match, shared by the hits
        hits = [self._make_hit(r, terms, page_text if req.snippets else None, memos) for r in raw]
        return SearchResult(parsed.text, total, page, limit, hits, facets, suggestion)

    def _match_and_rank(self, s: Any, compiled: Compiled, allowed: frozenset[int] | None,
                        n: int) -> tuple[list[int], list[tuple[int, float]]]:
        """Every allowed match (document numbers) and the best candidates for ranking `n`."""
        if allowed is not None and not allowed:
            return [], []
        excluded = set(s.docs_for_query(compiled.exclude)) if compiled.exclude is not None else None
        top = _RecordingTopCollector(limit=self._candidates(compiled, n), usequality=False, replace=0)
        c = collectors.FilterCollector(top, allow=set(allowed) if allowed is not None else None,
                                       restrict=excluded)
        s.search_with_collector(compiled.match, c)
        return sorted(top.seen), _pairs(c.results())

    def _candidates(self, compiled: Compiled, n: int) -> int:
        """How many first-pass candidates relevance ranking needs for the best `n`."""
        r = self.ranking
        k = max(n + CANDIDATE_MARGIN, MIN_CANDIDATES)
        if self._uses_feedback(compiled):
            k = max(k, r.prf_rerank, r.prf_docs)
        if self._uses_clusters(compiled):
            k = max(k, r.cluster_rerank)
        return k

    def _uses_clusters(self, compiled: Compiled) -> bool:
        r = self.ranking
        return (compiled.natural and len(compiled.tokens) >= r.cluster_min_terms
                and r.cluster_neighbours > 0 and r.cluster_self > 0 and r.cluster_rerank > 1)

    def _regularised(self, s: Any, compiled: Compiled,
                     ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """The best `cluster_rerank` of `ranked` re-scored with their neighbours (rerank.py)."""
        if not self._uses_clusters(compiled):
            return ranked
        r = self.ranking
        head, tail = ranked[: r.cluster_rerank], ranked[r.cluster_rerank :]
        cache = s.get_parent().__dict__.setdefault("_portal_doc_vectors", {})

        weights = r.weights if r.cluster_field_weights else {}

        def counts_of(docnum: int) -> dict[str, float]:
            return field_counts(s.stored_fields(docnum).get("info") or {}, weights)

        docnums = [d for d, _ in head]
        vectors = doc_vectors(docnums, counts_of, lambda t: s.idf("abstract", t), cache)
        others = _other_languages(s, self._terms) if r.cluster_same_language else {}
        languages = None
        if any(d in others for d in docnums):
            languages = [others.get(d, "en") for d in docnums]
        return regularise(head, vectors, r.cluster_neighbours, r.cluster_self, languages) + tail

    def _uses_feedback(self, compiled: Compiled) -> bool:
        r = self.ranking
        return (compiled.natural and len(compiled.tokens) >= r.prf_min_terms
                and r.prf_docs > 0 and r.prf_weight > 0)

    def _matched(self, s: Any, compiled: Compiled, allowed: frozenset[int] | None) -> set[int]:
        if compiled.match is None:
            docs = set(allowed or ())
        else:
            docs = {d for d in s.docs_for_query(compiled.match) if allowed is None or d in allowed}
        if compiled.exclude is not None and docs:
            docs.difference_update(s.docs_for_query(compiled.exclude))
        return docs

    def _ranked(self, s: Any, compiled: Compiled, matched: set[int], sort: str, n: int) -> list[tuple[int, float]]:
        """(docnum, score) of the best `n` matches in the requested order."""
        if not matched:
            return []
        if compiled.match is None:
            q: wq.Query = wq.Every()
            if sort == "relevance":
                sort = "newest"
        elif sort == "relevance":
            match: wq.Query = compiled.match  # type: ignore[assignment]
            return self._relevance(s, compiled, n, lambda k: _pairs(_top(s, match, k, allow=matched)))
        else:
            q = compiled.match
        return _pairs(_top(s, q, n, allow=matched, sortedby=_sort_facet(sort)))

    def _fast_match(self, s: Any, compiled: Compiled,
                    allowed: frozenset[int] | None) -> tuple[Any, Any, KeptPostings | None] | None:
        """(scores of every document, mask of the matches) when the query is an OR of words
        or of phrases (see fastscore); None for other query shapes, which take the general
        path."""
        terms = flat_terms(compiled.match)
        kept = None
        if terms is not None:
            boosts = flat_phrases(compiled.boosts) if compiled.boosts else None
            if boosts:  # keep the boosts' words' postings (positions included) for them
                kept = KeptPostings({(f, w) for f, words, _slop, _boost in boosts for w in words})
            scores = score_all(s, terms, self._lengths, kept, self._terms)
            mask = scores > 0
        else:
            phrases = flat_phrases([compiled.match]) if compiled.match is not None else None
            if phrases is None:
                return None
            scores, mask = phrase_match_all(s, phrases, self._lengths)
        if allowed is not None:
            mask &= self._allowed_mask(allowed, len(scores))
        if compiled.exclude is not None and mask.any():
            gone = np.fromiter(s.docs_for_query(compiled.exclude), dtype=np.int64)
            mask[gone[gone < len(mask)]] = False
        return scores, mask, kept

    def _allowed_mask(self, allowed: frozenset[int], size: int) -> Any:
        cached = self._mask_cache
        if cached is not None and cached[0] is allowed and len(cached[1]) == size:
            return cached[1]
        mask = np.zeros(size, dtype=bool)
        if allowed:
            ids = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
            mask[ids[ids < size]] = True
        self._mask_cache = (allowed, mask)
        return mask

    def _relevance(self, s: Any, compiled: Compiled, n: int,
                   first_pass: Callable[[int], list[tuple[int, float]]],
                   kept: KeptPostings | None = None) -> list[tuple[int, float]]:
        """Rank by relevance: the match query plus proximity boosts, then (for natural-language
        questions) pseudo-relevance feedback re-ranking the first pass's best `prf_rerank`.

        `first_pass(k)` gives the best `k` (docnum, score) by the match query alone. The
        proximity boosts (small, optional) are added to the best `max(n + BOOST_MARGIN,
        MIN_BOOSTED)` of the best `max(n + CANDIDATE_MARGIN, MIN_CANDIDATES)`.
        """
        r = self.ranking
        use_prf = self._uses_feedback(compiled)
        first = first_pass(self._candidates(compiled, n))
        if compiled.boosts:
            # phrase positions are costly in long texts: boost the best candidates only
            nb = max(n + BOOST_MARGIN, MIN_BOOSTED)
            best = [d for d, _ in first[:nb]]
            phrases = flat_phrases(compiled.boosts)
            if phrases is not None:
                extra_b = phrase_scores(s, phrases, best, kept)
            else:
                boost_q = compiled.boosts[0] if len(compiled.boosts) == 1 else wq.Or(compiled.boosts)
                extra_b = _score_docs(s, boost_q, best)
            first = sorted(((d, sc + extra_b.get(d, 0.0)) for d, sc in first), key=lambda x: (-x[1], x[0]))
        if not use_prf:
            return self._regularised(s, compiled, first)[:n]
        fb = []
        for docnum, score in first[: r.prf_docs]:
            info = s.stored_fields(docnum).get("info") or {}
            if info.get("english", True):
                fb.append((score, stems_of(doc_text(info))))
        ranked = first
        exclude = set() if r.prf_query_terms else {t.stem for t in compiled.tokens}
        terms = feedback_terms(fb, lambda t: s.idf("abstract", t), exclude, r.prf_terms,
                               min_docs=r.prf_min_docs, temperature=r.prf_temperature)
        exp = expansion_query([(t, w * r.prf_weight) for t, w in terms], r)
        if exp is None:
            return self._regularised(s, compiled, ranked)[:n]
        head, tail = ranked[: r.prf_rerank], ranked[r.prf_rerank :]
        exp_terms = flat_terms(exp)
        if exp_terms is not None:
            extra = score_some(s, exp_terms, [d for d, _ in head], self._lengths,
                               term_cache=self._terms)
        else:
            extra = _score_docs(s, exp, [d for d, _ in head])
        if r.prf_cap > 0 and extra and head:
            # The expansion may re-order, but never by more than `prf_cap` of the first
            # pass's best score: a document that matches the reader's own words far better
            # than any other (say, one in another language the feedback cannot read) stays.
            cap = r.prf_cap * head[0][1]
            top_extra = max(extra.values()) or 1.0
            if top_extra > cap:
                extra = {d: v * cap / top_extra for d, v in extra.items()}
        others = _other_languages(s, self._terms) if r.prf_keep_other_languages else {}
        head = keep_places(head, extra, {d for d, _ in head if d in others})
        return self._regularised(s, compiled, head + tail)[:n]

    def _load(self, s: Any, ranked: list[tuple[int, float]]) -> list[_RawHit]:
        out = []
        for docnum, score in ranked:
            f = s.stored_fields(docnum)
            out.append(_RawHit(docnum, score, f.get("info") or {}, int(f["pub_id"])))
        return out

    def _attach_pages(self, s: Any, compiled: Compiled, raw: list[_RawHit], per_hit: int) -> None:
        """The best `per_hit` pages of each hit: the page query is scored on those
        publications' own pages only (skipping through postings), never on every page."""
        if not raw or per_hit <= 0 or compiled.page_query is None:
            return
        owner: dict[int, int] = {}
        lookup = TermLookup(s, self._terms)
        for r in raw:
            for d in live_docs_with(lookup, "pid", str(r.pub_id)):
                if d != r.docnum:
                    owner[d] = r.pub_id
        if not owner:
            return
        by_pub: dict[int, list[tuple[float, int]]] = {}
        page_terms = flat_terms(compiled.page_query)
        page_phrases = flat_phrases([compiled.page_query]) if page_terms is None else None
        if page_terms is not None:
            # float64 lengths: the same page scores as Whoosh's matchers gave before
            page_scores = score_some(s, page_terms, list(owner), self._lengths, exact_lengths=True,
                                     term_cache=self._terms)
        elif page_phrases is not None:
            page_scores = phrase_scores(s, page_phrases, list(owner))
        else:
            page_scores = _score_docs(s, compiled.page_query, list(owner))
        for d, score in page_scores.items():
            by_pub.setdefault(owner[d], []).append((score, d))
        for r in raw:
            best = sorted(by_pub.get(r.pub_id, []), key=lambda x: (-x[0], x[1]))[:per_hit]
            r.pages = [(int(s.stored_fields(d)["page_no"]), float(sc)) for sc, d in best]

    def _suggest(self, s: Any, text: str, allowed: frozenset[int] | None, total: int) -> str | None:
        """A corrected query if it finds more: more matches, or more matches of every word."""
        corrected = correct(s, text)
        if not corrected or corrected.strip().lower() == text.strip().lower():
            return None
        langs = _index_languages(s)
        alt = compile_query(parse(corrected), self.ranking, self.vocabulary(), langs)
        if alt.match is None:
            return None
        if len(self._matched(s, alt, allowed)) > total:
            return corrected
        orig = compile_query(parse(text), self.ranking, self.vocabulary(), langs)
        if self._all_words_count(s, alt, allowed) > self._all_words_count(s, orig, allowed):
            return corrected
        return None

    def _all_words_count(self, s: Any, compiled: Compiled, allowed: frozenset[int] | None) -> int:
        if not compiled.tokens:
            return 0
        b = _Builder(self.ranking, True)
        parts = [b.term(t, ALL_FIELDS) for t in compiled.tokens]
        q = wq.And([p for p in parts if p is not None])
        return sum(1 for d in s.docs_for_query(q) if allowed is None or d in allowed)

    def _make_hit(self, r: _RawHit, terms: HighlightTerms | None, page_text: PageText | None,
                  memos: dict[tuple[bool, str], Memo] | None = None) -> Hit:
        info = r.info
        english = bool(info.get("english", True))
        lang = "" if english else str(info.get("language") or "")
        memos = memos if memos is not None else {}
        memo = memos.get((english, lang))
        if memo is None:
            memo = memos[(english, lang)] = Memo()
        pages: list[PageHit] = []
        if terms is None:  # snippets not wanted
            return Hit(id=r.pub_id, slug=info.get("slug", ""), title=info.get("title", ""),
                       score=round(r.score, 6), year=info.get("year"), type=info.get("type", ""),
                       pages=[PageHit(n, "", sc) for n, sc in r.pages], date=info.get("date", ""),
                       status=info.get("status", "published"), language=info.get("language", "en"))
        for number, score in r.pages:
            text = ""
            if page_text is not None:
                try:
                    text = page_text(r.pub_id, number) or ""
                except LookupError:
                    text = ""
            pages.append(PageHit(number, snippet(text, terms, SNIPPET_CHARS, english, language=lang, memo=memo),
                                 score))
        abstract = info.get("abstract") or ""
        # the abstract around its matches if it has any (one scan), else the first page's
        snip = snippet(abstract, terms, SNIPPET_CHARS, english, fallback=False, language=lang, memo=memo)
        if not snip:
            snip = pages[0].snippet if pages and pages[0].snippet else snippet(
                abstract or info.get("subtitle") or "", terms, SNIPPET_CHARS, english, language=lang, memo=memo)
        return Hit(
            id=r.pub_id,
            slug=info.get("slug", ""),
            title=info.get("title", ""),
            score=round(r.score, 6),
            year=info.get("year"),
            type=info.get("type", ""),
            snippet=snip,
            pages=pages,
            date=info.get("date", ""),
            status=info.get("status", "published"),
            language=info.get("language", "en"),
        )

    def _search_within(
        self, req: SearchRequest, compiled: Compiled, text: str, page: int, limit: int, page_text: PageText | None
    ) -> SearchResult:
        pub_id = int(req.within)  # type: ignore[arg-type]

        def run(s: Any) -> tuple[int, _RawHit | None]:
            docnum = s.document_number(uid=f"pub:{pub_id}")
            if docnum is None or compiled.page_query is None:
                return 0, None
            info = s.stored_fields(docnum).get("info") or {}
            if not req.include_unpublished and info.get("status") != "published":
                return 0, None
            allowed = set(s.docs_for_query(wq.And([wq.Term("kind", KIND_PAGE), wq.Term("pid", str(pub_id))])))
            if not allowed:
                return 0, None
            if compiled.exclude is not None:
                allowed.difference_update(s.docs_for_query(compiled.exclude))
            total = sum(1 for d in s.docs_for_query(compiled.page_query) if d in allowed)
            results = _top(s, compiled.page_query, min(page * limit, MAX_WINDOW), allow=allowed)
            start = (page - 1) * limit
            pages = [(int(h["page_no"]), float(h.score or 0.0)) for h in results[start:]]
            if not pages and total == 0:
                return 0, None
            return total, _RawHit(docnum, pages[0][1] if pages else 0.0, info, pub_id, pages)

        total, raw = self._read(run)
        hits = [self._make_hit(raw, compiled.highlight, page_text)] if raw is not None else []
        return SearchResult(text, total, page, limit, hits, {}, None)

    # ------------------------------------------------------------------ more like this
    def more_like_this(self, pub_id: int, limit: int = 5, include_unpublished: bool = False) -> list[Hit]:
        """Publications similar to `pub_id` by their characteristic words and shared topics."""
        limit = max(1, min(int(limit), MAX_LIMIT))
        req = SearchRequest("", include_unpublished=include_unpublished)

        def run(s: Any) -> list[_RawHit]:
            docnum = s.document_number(uid=f"pub:{int(pub_id)}")
            if docnum is None:
                return []
            info = s.stored_fields(docnum).get("info") or {}
            english = bool(info.get("english", True))
            text = "\n".join([info.get("title", "")] * 2 + [doc_text(info)])
            words = stems_of(text, english)
            idf_field = "abstract" if english else "abstract_u"
            terms = key_terms(words, lambda t: s.idf(idf_field, t), 25)
            b = _Builder(self.ranking, True, languages=_index_languages(s))
            subs: list[wq.Query] = []
            for t, w in terms:
                tok_fields = ALL_FIELDS if english else ((), ALL_FIELDS[1])
                q = b.term(QueryToken(t, t, t, False), tok_fields, boost=w)
                if q is not None:
                    subs.append(q)
            for topic in info.get("topics") or []:
                subs.append(wq.Term("f_topic", topic, boost=1.0))
            if not subs:
                return []
            allowed = set(self._allowed(s, req) or ())
            allowed.discard(docnum)
            if self.fast_related:
                best = self._related_fast(s, subs, frozenset(allowed), limit)
                if best is not None:
                    return self._load(s, best)
            results = _top(s, wq.Or(subs), limit, allow=allowed)
            return [
                _RawHit(h.docnum, float(h.score or 0.0), h.fields().get("info") or {}, int(h["pub_id"]))
                for h in results
            ]

        raw = self._read(run)
        return [self._make_hit(r, HighlightTerms(), None) for r in raw]

    def _related_fast(self, s: Any, subs: list[wq.Query], allowed: frozenset[int],
                      limit: int) -> list[tuple[int, float]] | None:
        """The best `limit` of `allowed` for more-like-this's OR of weighted words and topics,
        scored as Whoosh scores that OR (the sum of the matching parts) but with the words
        scored in array passes over their postings, not by a matcher over every match
        (seconds per publication page at 50,000 publications); the topics, terms of a keyword
        field, as the sum of their postings' weights. None if `subs` holds other query
        shapes (the caller then asks Whoosh)."""
        words = [q for q in subs if isinstance(q, BM25FTerm)]
        others = [q for q in subs if not isinstance(q, BM25FTerm)]
        if not words or not all(isinstance(q, wq.Term) for q in others):
            return None
        scores = score_all(s, words, self._lengths, term_cache=self._terms)
        if not add_weights(s, [(q.fieldname, q.text, q.boost) for q in others], scores,
                           self._terms):
            return None
        mask = (scores > 0) & self._allowed_mask(allowed, len(scores))
        found = np.flatnonzero(mask)
        if not len(found):
            return []
        # the best `limit` by score, ties by document number (as Whoosh's collector orders them)
        order = np.lexsort((found, -scores[found]))[:limit]
        return [(int(found[i]), float(scores[found[i]])) for i in order]


def _stored_position(s: Any) -> int | None:
    """The journal position stored in the index `s` searches (None if never set)."""
    d = s.document(uid=LAST_APPLIED_UID)
    return int(d["meta_value"]) if d and d.get("meta_value") is not None else None


def _other_languages(s: Any, terms: TermCache) -> dict[int, str]:
    """{document number: language code} of the live documents whose text is not English
    (indexed in the other-language fields), read from the `language` postings once per
    index reader: one entry per such document."""
    parent = s.get_parent()
    cached = parent.__dict__.get("_portal_other_languages")
    if cached is None:
        present = parent.reader().field_terms("language") if "language" in parent.schema else ()
        codes = [lang for lang in present if not is_english(lang)]
        lookup = TermLookup(s, terms) if codes else None
        cached = {d: lang for lang in codes for d in live_docs_with(lookup, "language", lang)}
        parent.__dict__["_portal_other_languages"] = cached
    return cached


def keep_places(ranked: list[tuple[int, float]], extra: dict[int, float],
                fixed: set[int]) -> list[tuple[int, float]]:
    """`ranked` (best first) re-ordered by score + `extra`, except that the documents in
    `fixed` keep their places: feedback words are English, so they say nothing either way
    about a document in another language, which then neither falls nor rises.

    A fixed document's new score lies between those of its new neighbours (the mean; above
    the first by its first-pass lead, when it stays first), so scores still descend.
    """
    moved = sorted(((d, sc + extra.get(d, 0.0)) for d, sc in ranked if d not in fixed),
                   key=lambda x: (-x[1], x[0]))
    if not fixed or not moved:
        return moved or list(ranked)
    it = iter(moved)
    slots: list[tuple[int, float] | None] = [None if d in fixed else next(it) for d, _ in ranked]
    out: list[tuple[int, float]] = []
    for i, (d, first) in enumerate(ranked):
        if slots[i] is not None:
            out.append(slots[i])  # type: ignore[arg-type]
            continue
        below = next((x[1] for x in slots[i + 1:] if x is not None), None)
        above = out[-1][1] if out else None
        if above is None:
            lead = first - next((sc for e, sc in ranked[i + 1:] if e not in fixed), first)
            score = (below if below is not None else first) + max(lead, 0.0)
        elif below is None:
            score = above - (ranked[i - 1][1] - first)
        else:
            score = (above + below) / 2
        out.append((d, score))
    return out


def _index_languages(s: Any) -> tuple[str, ...]:
    """Non-English languages with a stemmer among the index's documents (cached per reader)."""
    parent = s.get_parent()
    cached = parent.__dict__.get("_portal_languages")
    if cached is None:
        present = set(parent.reader().field_terms("language")) if "language" in parent.schema else set()
        cached = tuple(sorted(lang for lang in present if language_stemmer(lang) is not None))
        parent.__dict__["_portal_languages"] = cached
    return cached


class _RecordingTopCollector(collectors.TopCollector):
    """A top-N collector that also remembers every document it was offered."""

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        super().prepare(top_searcher, q, context)
        self.seen: set[int] = set()

    def _collect(self, global_docnum: int, score: float) -> Any:
        self.seen.add(global_docnum)
        return super()._collect(global_docnum, score)


def _top(
    s: Any,
    q: wq.Query,
    limit: int,
    allow: Any = None,
    sortedby: Any = None,
    collapse: Any = None,
    collapse_limit: int = 1,
) -> Any:
    """Run `q` collecting the best `limit` documents, exactly.

    Whoosh's block-quality pruning relies on per-matcher score bounds that are wrong for some
    matchers (its array union reports the max, not the sum, of its parts), which silently
    drops documents. Our collectors therefore never prune (usequality=False, replace=0).
    """
    c: Any
    if sortedby is not None:
        c = collectors.SortingCollector(sortedby, limit=limit)
    else:
        c = collectors.TopCollector(limit=limit, usequality=False, replace=0)
    if collapse is not None:
        c = collectors.CollapseCollector(c, collapse, limit=collapse_limit)
    if allow is not None:
        c = collectors.FilterCollector(c, allow=allow)
    s.search_with_collector(q, c)
    return c.results()


def _pairs(results: Any) -> list[tuple[int, float]]:
    """(docnum, score) from Whoosh results; sorted results carry no numeric score."""
    return [(h.docnum, float(h.score) if isinstance(h.score, (int, float)) else 0.0) for h in results]


def _score_docs(s: Any, q: wq.Query, docnums: list[int]) -> dict[int, float]:
    """Scores of `q` for a few given documents, skipping through postings (no full scan)."""
    wanted = sorted(set(docnums))
    out: dict[int, float] = {}
    if not wanted:
        return out
    context = s.context()
    for sub, offset in s.leaf_searchers():
        end = offset + sub.doc_count_all()
        local = [d - offset for d in wanted if offset <= d < end]
        if not local:
            continue
        m = q.matcher(sub, context)
        for d in stops_at(m, local):
            out[d + offset] = m.score()
    return out


def _filter_query(fieldname: str, value: str) -> wq.Query | None:
    """A filter (facet value) as a query; unknown filter names are ignored."""
    value = str(value).strip()
    if fieldname == "type":
        return wq.Or([wq.Term("f_type", value), wq.Term("type", value.lower())])
    if fieldname == "year":
        yr = parse_year_value(value)
        if yr is None:
            return wq.NullQuery
        return wq.NumericRange("year", yr.start, yr.end)
    if fieldname == "language":
        return wq.Term("language", value.lower())
    target = {"topic": "f_topic", "organisation": "f_org", "author": "f_author", "series": "f_series"}.get(fieldname)
    if target is None:
        return None
    return wq.Term(target, " ".join(value.split()))


def _sort_facet(sort: str) -> Any:
    if sort == "newest":
        return sorting.MultiFacet([sorting.FieldFacet("date_key", reverse=True), sorting.FieldFacet("title_key")])
    if sort == "oldest":
        dated = sorting.TranslateFacet(lambda k: k if k else 99_999_999, sorting.FieldFacet("date_key"))
        return sorting.MultiFacet([dated, sorting.FieldFacet("title_key")])
    return sorting.MultiFacet([sorting.FieldFacet("title_key"), sorting.FieldFacet("date_key", reverse=True)])


class _SegmentWorker:
    """The parent's side of one indexing worker process (`segment_worker`), for a rebuild or
    a `SegmentBuilder`: sends it batches, one at a time, and gets back how many publications
    it added and, at the end, its segment.

    The worker is a plain `python -c` child speaking over a socket pair, not a
    multiprocessing "spawn" child: spawn re-imports the parent's main module, which for the
    `portal` command is the whole command line and web stack (half a CPU second the worker
    has no use for), and a fork would copy this process's threads, connections and locks.
    """

    def __init__(self, directory: str, limitmb: int) -> None:
        import os
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        # the child imports this package from where this process found it
        root = str(Path(__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=root + (os.pathsep + path if path else ""))
        mine, theirs = socket.socketpair()
        try:
            code = (f"from index.engine import serve_segment_worker; "
                    f"serve_segment_worker({theirs.fileno()})")
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, str(Path(directory).resolve()), str(limitmb)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()  # the child holds its own copy: its end closes when it ends
        self.conn = Connection(mine.detach())
        self._pending = False  # a batch sent and not yet acknowledged

    def _receive(self) -> tuple[str, Any]:
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            import subprocess

            try:
                code: int | None = self.process.wait(5)
            except subprocess.TimeoutExpired:  # the pipe broke and the worker lives on
                code = None
            raise RuntimeError(f"an indexing worker stopped (exit code {code})") from None
        if kind == "error":
            raise RuntimeError(f"an indexing worker failed: {value}")
        return kind, value

    def wait_added(self) -> int:
        """Wait for the last batch sent to be added; the number of publications in it."""
        if not self._pending:
            return 0
        kind, n = self._receive()
        assert kind == "added", kind
        self._pending = False
        return int(n)

    def send(self, batch: list[PublicationDoc] | None) -> None:
        self.conn.send(batch)
        self._pending = batch is not None

    def wait_segment(self) -> Any:
        kind, segment = self._receive()
        assert kind == "segment", kind
        return segment

    def close(self, wait: float = 5.0) -> None:
        """End the worker, giving it `wait` seconds to stop by itself."""
        import subprocess

        self.conn.close()  # a worker still waiting for a batch sees the end and stops
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()


class SegmentBuilder:
    """Indexes publications into a segment of their own in a worker process while the caller
    does other work (a bulk ingest extracting its next files), then lists that segment in the
    live index in one commit: the index update no longer waits for the last file.

    `add` hands over a publication (sent to the worker in batches); `commit(ready)` finishes
    the segment and, holding the live index's writer lock, asks `ready(position)` for the
    journal position the segment brings the index to from the one it has. If that is None
    (something else changed the publications meanwhile), a rebuild swapped generations, or
    the worker failed, the segment is dropped, `commit` returns False and the caller applies
    its changes the ordinary way. (Two workers writing a segment each, to halve the postings
    written after the last file, measured no better: ingest 0.71-0.72x against 0.70-0.71x.)
    The segment is written in a private directory inside the live generation (its name begins
    with a dot, so Whoosh's clean-up of unlisted files leaves it alone) and moved into place
    only under the lock. A killed caller leaves that directory behind; the next builder
    removes those whose process is gone.
    """

    def __init__(self, index: SearchIndex, batch_size: int) -> None:
        import os
        import secrets

        self._index = index
        self._batch_size = max(1, batch_size)
        name = index._layout.current_name()
        if name is None:
            raise IndexUnavailable("the search index has no live generation")
        self._name = name
        generation = index._layout.path(name)
        _remove_abandoned_builds(generation)
        self._dir = generation / f".built-{os.getpid()}-{secrets.token_hex(4)}"
        self._dir.mkdir()
        windex.create_in(str(self._dir), index._schema)
        self._pids: list[int] = []
        self._batch: list[PublicationDoc] = []
        self._failed = False
        self._worker: _SegmentWorker | None = _SegmentWorker(str(self._dir), WRITER_LIMIT_MB)

    def add(self, doc: PublicationDoc) -> None:
        """Index `doc` in the segment (replacing, once listed, the publication's version in
        the live index). A publication is handed over once: a second version of it would
        stand beside the first, so it ends the shortcut (`commit` then lists nothing)."""
        if self._failed or self._worker is None:
            return
        if int(doc.id) in self._pids:
            self._failed = True
            return
        self._pids.append(int(doc.id))
        self._batch.append(doc)
        if len(self._batch) >= self._batch_size:
            self._send()

    def _send(self) -> None:
        if not self._batch or self._worker is None:
            return
        try:
            self._worker.wait_added()  # one batch in hand at a time
            self._worker.send(self._batch)
        except (RuntimeError, OSError):
            self._failed = True
        self._batch = []

    def commit(self, ready: Callable[[int | None], int | None]) -> bool:
        """List the segment in the live index if `ready(the index's journal position)` gives
        the position to store with it (see the class). Returns whether it was listed."""
        try:
            if self._failed or self._worker is None or not self._pids:
                return False
            self._send()
            try:
                self._worker.wait_added()
                self._worker.send(None)
                segment = self._worker.wait_segment()
            except (RuntimeError, OSError):
                return False
            if segment is None or self._failed:
                return False
            # the last version of each publication handed over is the one in the segment
            return self._index._list_built(self._name, self._dir, segment,
                                           sorted(set(self._pids)), ready)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the worker and remove the private directory (what was not listed is lost)."""
        if self._worker is not None:
            # its segment is delivered or no longer wanted: no need to wait for its exit
            self._worker.close(wait=0.05)
            self._worker = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SegmentBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove_abandoned_builds(generation: Path) -> None:
    """Remove the private directories of segment builders whose process has ended."""
    import os

    for d in generation.glob(".built-*"):
        try:
            pid = int(d.name.split("-")[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def _die_with_parent() -> None:
    """On Linux, have the kernel end this worker when its parent dies (a killed rebuild or
    batch leaves no worker writing into its abandoned generation or directory)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere a worker notices the end of its pipe when it next reads


def serve_segment_worker(fd: int) -> None:
    """The entry point of an indexing worker process (see `_SegmentWorker`): the index
    directory and the memory for postings are its arguments, `fd` its end of the socket."""
    import sys
    from multiprocessing.connection import Connection

    directory, limitmb = sys.argv[1], int(sys.argv[2])
    conn = Connection(fd)
    try:
        segment_worker(directory, limitmb, conn)
    except (OSError, EOFError, KeyboardInterrupt):
        pass  # the parent went away (or was interrupted): it reports what happened
    finally:
        conn.close()


def segment_worker(directory: str, limitmb: int, conn: Any) -> None:
    """An indexing worker process: add the batches received on `conn` to one writer of the
    index in `directory` (acknowledging each with ("added", n)), and on None write them as one
    new segment, not yet listed in the index (the parent lists it), sent back as
    ("segment", segment or None when no batch came). The index in `directory` is the parent's
    alone (a rebuild's new generation, holding its locks, or a builder's private one), so this
    writer takes no lock. Stops quietly when the parent goes away.
    """
    _die_with_parent()
    ix = storage.open_with_retry(Path(directory), build_schema())
    w = bulkwrite.BulkSegmentWriter(ix, _lk=False, limitmb=limitmb)
    bulkwrite.private_temp_storage(w)
    try:
        while True:
            batch = conn.recv()
            if batch is None:
                break
            conn.send(("added", SearchIndex._add_docs(w, batch, fresh=True)))
        if w._added:
            segment = w._finalize_segment()
            w._finish()
        else:
            segment = None
            w.cancel()
    except EOFError:
        w.cancel()  # the rebuild went away: nothing to deliver
        return
    except BaseException as exc:
        w.cancel()
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
        return
    finally:
        ix.close()
    conn.send(("segment", segment))
