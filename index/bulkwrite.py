"""Cheaper internals for Whoosh's segment writer, writing segments Whoosh reads as its own.

Whoosh's writer puts every posting, as a (field, term, document, weight, value) tuple, into
a pool that it sorts at commit; past `limitmb` it pickles the postings to run files one by
one and merges them back with a heap, a large share of a rebuild's time. `TermPool` keeps
the postings grouped by (field, term) instead: documents arrive in increasing order, so only
the distinct terms need sorting, and a run file holds one pickled list per term. At commit,
Whoosh asks the length of the field in the document of every posting; `LengthCachingCodec`
answers from a table read once per field instead of a column lookup (and, for fields without
lengths, a file-existence check) per posting. Neither changes what is written: the postings
reach the segment writer in the same order with the same values.

`write_postings` then writes the terms a block at a time, with two departures from Whoosh's
own bytes that its readers follow: short blocks are not compressed (`COMPRESS_FROM`) and a
word found in one document only has its posting inlined in its term info (`INLINE_SINGLE`).
With both turned off the segment files are Whoosh's, byte for byte (a test checks it).

A rebuild keeps one writer (so one pool) open for all its documents: the pool spills a run
each time it holds `limitmb` of postings, and once `MAX_RUNS` runs are waiting they are merged
into one (a larger run), so the files open at commit stay few whatever the collection's size.
"""

from __future__ import annotations

import heapq
import os
import pickle
import secrets
import zlib
from array import array
from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter, sub
from typing import Any

from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3PerDocReader,
    W3Segment,
    W3TermInfo,
    _lenfield,
)
from whoosh.fields import FieldType
from whoosh.system import pack_int, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

_MISSING = object()
_INFO = W3TermInfo._struct  # a term info's statistics, as Whoosh 3 packs them
_KEY = itemgetter(0, 1)
# Bytes a pooled posting costs beyond its term and value bytes (the tuple, its int and float,
# the two bytes objects' headers, a list slot, the term's share of its dict entry): about
# 277 bytes a posting were allocated while indexing corpus text (CPython 3.11, tracemalloc,
# postings then held as 5-tuples; the 3-tuples held now cost less, so this errs on the safe side).
POSTING_OVERHEAD = 250
# Runs of one level waiting for the commit before they are merged into one run of the next
# level: bounds the files open at commit (a 10,000-publication rebuild in one process spills
# about 140 runs of 128 MB, so none is merged; 100,000 publications merge each posting once).
MAX_RUNS = 256

# A block's data shorter than this is written uncompressed (its info says so, and readers
# follow it block by block): below about 96 bytes zlib makes the corpus's blocks longer, not
# shorter, and two in three blocks are that short (most words are on one page or two), so
# this saves a zlib call at indexing and at search for each of them. 0 compresses every block,
# as Whoosh's own writer does.
COMPRESS_FROM = 96
# A word with positions found in one document only (most of a collection's words: numbers,
# names, misspellings) has its posting kept in its term info, which Whoosh reads back as an
# inlined list, rather than in a block of its own (Whoosh's writer would do the same, but its
# inlining path calls a method that does not exist). False writes blocks, as Whoosh does.
INLINE_SINGLE = True

Entry = tuple[str, bytes, list[tuple[Any, ...]]]  # (field, term, [(doc, weight, value), ...])


class TermPool:
    """A replacement for Whoosh's `PostingPool` that groups postings by (field, term).

    Same interface as far as `SegmentWriter` uses it: `add(item)`, `iter_postings()`,
    `cleanup()`; `limitmb` bounds the postings held in memory (beyond it they go to run
    files in the writer's temporary storage). Each term holds (doc, weight, value) tuples.
    `BulkSegmentWriter` uses `add_terms` and `iter_terms` instead.
    """

    def __init__(self, tempstore: Any, limitmb: float = 128) -> None:
        self.tempstore = tempstore
        self.limit = limitmb * 1024 * 1024
        self.size = 0
        self.fieldnames: set[str] = set()
        self.terms: dict[str, dict[bytes, list[tuple[Any, ...]]]] = {}
        self.runs: list[tuple[str, int]] = []  # (file name, level), in the order written
        self._last_doc = -1
        self._in_order = True  # documents arrived in increasing order (as they do)

    def _field_terms(self, fieldname: str) -> dict[bytes, list[tuple[Any, ...]]]:
        terms = self.terms.get(fieldname)
        if terms is None:
            terms = self.terms[fieldname] = {}
            self.fieldnames.add(fieldname)
        return terms

    def add(self, item: tuple[Any, ...]) -> None:
        fieldname, tbytes, docnum, weight, value = item
        terms = self._field_terms(fieldname)
        posting = (docnum, weight, value)
        postings = terms.get(tbytes)
        if postings is None:
            terms[tbytes] = [posting]
        else:
            if docnum <= postings[-1][0]:
                self._in_order = False  # e.g. spelling postings (all document 0): sort at the end
            postings.append(posting)
        if docnum < self._last_doc:
            self._in_order = False
        self._last_doc = docnum
        self.size += POSTING_OVERHEAD + len(tbytes) + len(value or b"")
        if self.size > self.limit:
            self.save()

    def add_terms(self, fieldname: str, docnum: int, items: Iterable[tuple[Any, ...]],
                  boost: float, scorable: bool, encoded: bool) -> int:
        """`add` for every (term, frequency, weight, value) a field of one document yields
        (terms as str unless `encoded`), each weight times `boost`, as Whoosh's writer adds
        them; returns the field's length (the frequencies' sum when `scorable`, else 0)."""
        terms = self._field_terms(fieldname)
        if docnum < self._last_doc:
            self._in_order = False
        self._last_doc = docnum
        get = terms.get
        length = 0
        size = 0
        in_order = True
        for term, freq, weight, value in items:
            tbytes = term if encoded else term.encode("utf-8")
            posting = (docnum, weight * boost, value)
            postings = get(tbytes)
            if postings is None:
                terms[tbytes] = [posting]
            else:
                if docnum <= postings[-1][0]:
                    in_order = False  # a term twice in one document
                postings.append(posting)
            if scorable:
                length += freq
            size += POSTING_OVERHEAD + len(tbytes) + (len(value) if value else 0)
        if not in_order:
            self._in_order = False
        self.size += size
        if self.size > self.limit:
            self.save()
        return length

    def _sorted_terms(self) -> Iterator[Entry]:
        for fieldname in sorted(self.terms):
            terms = self.terms[fieldname]
            for tbytes in sorted(terms):
                yield fieldname, tbytes, terms[tbytes]

    def save(self) -> None:
        """Write the pooled postings to a run file (one pickle per term) and empty the pool;
        merge the last `MAX_RUNS` runs into one when they are of one level."""
        if not self.terms:
            return
        self.runs.append((self._write_run(self._sorted_terms()), 0))
        self.terms = {}
        self.size = 0
        while (len(self.runs) >= MAX_RUNS
               and len({level for _, level in self.runs[-MAX_RUNS:]}) == 1):
            # the last runs cover consecutive documents: merged, they keep the order
            level = self.runs[-1][1]
            merging = self.runs[-MAX_RUNS:]
            merged = self._write_run(heapq.merge(*(self._read_run(name) for name, _ in merging),
                                                 key=_KEY))
            self.runs[-MAX_RUNS:] = [(merged, level + 1)]

    def _write_run(self, entries: Iterable[Entry]) -> str:
        """A run file of the entries; a term may have several entries in a row (a merged run
        keeps one per run merged, in their order), so no term's postings are all in hand."""
        name = f"termpool-{os.getpid()}-{secrets.token_hex(8)}.run"
        f = self.tempstore.create_file(name).raw_file()
        try:
            # one pickle per entry (a shared Pickler's memo would keep every posting alive)
            for entry in entries:
                pickle.dump(entry, f, pickle.HIGHEST_PROTOCOL)
        finally:
            f.close()
        return name

    def _read_run(self, name: str) -> Iterator[Entry]:
        f = self.tempstore.open_file(name).raw_file()
        try:
            while True:
                try:
                    yield pickle.load(f)
                except EOFError:
                    return
        finally:
            f.close()
            self.tempstore.delete_file(name)

    def iter_terms(self) -> Iterator[tuple[str, bytes, Iterable[list[tuple[Any, ...]]]]]:
        """Every term, sorted by (field, term), with its postings as lists of (doc, weight,
        value) in document order. Each list must be used before the next is asked for: a
        common term's postings are never all in hand."""
        runs = [self._read_run(name) for name, _ in self.runs]
        pooled = list(self._sorted_terms())
        self.runs = []
        self.terms = {}
        if runs:
            # runs in the order written, the pool last: within a term, documents increase
            # (heapq.merge keeps the sources' order for equal keys)
            entries = groupby(heapq.merge(*runs, pooled, key=_KEY), key=_KEY)
            for (fieldname, tbytes), group in entries:
                if self._in_order:
                    yield fieldname, tbytes, (chunk for _, _, chunk in group)
                else:
                    yield fieldname, tbytes, [sorted(p for _, _, chunk in group for p in chunk)]
        else:
            for fieldname, tbytes, postings in pooled:
                yield fieldname, tbytes, [postings if self._in_order else sorted(postings)]

    def iter_postings(self) -> Iterator[tuple[Any, ...]]:
        """Every posting as Whoosh's pool gives them: (field, term, doc, weight, value),
        sorted by field, term, document."""
        for fieldname, tbytes, chunks in self.iter_terms():
            for chunk in chunks:
                for docnum, weight, value in chunk:
                    yield fieldname, tbytes, docnum, weight, value

    def cleanup(self) -> None:
        for name, _ in self.runs:
            try:
                self.tempstore.delete_file(name)
            except OSError:
                pass
        self.runs = []


def use_term_pool(writer: Any) -> None:
    """Give a fresh Whoosh `SegmentWriter` a `TermPool` with the memory limit its own pool
    had (before any document is added)."""
    pool = getattr(writer, "pool", None)
    if pool is None or isinstance(pool, TermPool) or pool.current or pool.runs:
        return
    writer.pool = TermPool(writer.temp_storage(), limitmb=pool.limit / (1024 * 1024))


def private_temp_storage(writer: Any) -> None:
    """Give a writer its own directory for temporary files. Whoosh names it after the index,
    so writers in several processes would share it (and one would delete it under the
    others when it finishes)."""
    writer._tempstorage = writer.storage.temp_storage()


class _CachedLengths(W3PerDocReader):
    """Per-document reader whose field lengths come from a table read once per field."""

    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._tables: dict[str, list[int | None] | None] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        table = self._tables.get(fieldname, _MISSING)
        if table is _MISSING:
            reader = self._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            # as W3PerDocReader answers: the default without a column, None for a zero byte
            table = None if reader is None else [
                byte_to_length(b) if b else None for b in map(reader.__getitem__, range(self._doccount))]
            self._tables[fieldname] = table
        if table is None:
            return default
        return table[docnum]  # type: ignore[index]

    def length_table(self, fieldname: str) -> list[int | None] | None:
        """Every document's length of the field (None for 0), or None without lengths."""
        self.doc_field_length(0, fieldname)
        return self._tables[fieldname]


class LengthCachingCodec(W3Codec):
    """Whoosh's default codec, except that the writer looks field lengths up in tables.

    Segments it makes record the plain default codec, so readers are not affected.
    """

    def per_document_reader(self, storage: Any, segment: Any) -> Any:
        return _CachedLengths(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> Any:
        return W3Segment(W3Codec(), indexname)


class _BlockStats:
    """What `W3TermInfo.add_block` reads of a block (as Whoosh's postings writer has it)."""

    __slots__ = ("_ids", "_weights", "_minlength", "_maxlength", "_maxweight")

    def __init__(self, ids: list[int], weights: array, minlength: int | None, maxlength: int,
                 maxweight: float) -> None:
        self._ids = ids
        self._weights = weights
        self._minlength = minlength
        self._maxlength = maxlength
        self._maxweight = maxweight

    def __len__(self) -> int:
        return len(self._ids)

    def min_id(self) -> int:
        return self._ids[0]

    def max_id(self) -> int:
        return self._ids[-1]

    def min_length(self) -> int | None:
        return self._minlength

    def max_length(self) -> int:
        return self._maxlength

    def max_weight(self) -> float:
        return self._maxweight


def _write_block(pw: Any, postings: list[tuple[Any, ...]], lengths: list[int | None] | None,
                 last: bool) -> None:
    """Write one block of a term's postings as `W3PostingsWriter._write_block` writes it
    (same bytes, same statistics in the term's info, except that a short block is left
    uncompressed: `COMPRESS_FROM`), from a list instead of posting by posting."""
    ids = [p[0] for p in postings]
    raw_weights = [p[1] for p in postings]
    weights = array("f", raw_weights)  # the writer keeps weights as 32-bit floats
    maxweight = max(0, max(raw_weights))  # compared before rounding, from 0
    if lengths is None:
        minlength, maxlength = None, 0
    else:
        present = [n for n in map(lengths.__getitem__, ids) if n]
        minlength, maxlength = (min(present), max(present)) if present else (None, 0)
    postfile = pw._postfile
    if not pw._blockcount:
        postfile.write(WHOOSH3_HEADER_MAGIC)
    pw._terminfo.add_block(_BlockStats(ids, weights, minlength, maxlength, maxweight))

    deltas = (ids[0], *map(sub, ids[1:], ids))
    if all(w == 1.0 for w in weights):
        mini_weights: Any = None
    elif all(w == weights[0] for w in weights):
        mini_weights = weights[0]
    else:
        mini_weights = tuple(weights)
    values = [p[2] for p in postings if p[2]]
    fixedsize = pw._format.fixed_value_size()
    if fixedsize is None or fixedsize < 0:
        mini_values: Any = tuple(values)
    elif fixedsize == 0:
        mini_values = None
    else:
        mini_values = b"".join(values)
    databytes = pickle.dumps((deltas, mini_weights, mini_values), 2)
    comp = pw._compression if len(databytes) >= COMPRESS_FROM else 0
    if comp:
        databytes = zlib.compress(databytes, comp)
    infobytes = pickle.dumps((len(ids), ids[-1], maxweight, comp, length_to_byte(minlength),
                              length_to_byte(maxlength)), 2)
    blocklength = len(infobytes) + len(databytes)
    # what write_int, then the two writes, put in the file, in one write
    head = pack_int(-blocklength if last else blocklength)
    postfile.write(b"".join((head, infobytes, databytes)))
    pw._blockcount += 1


def inlined_info(docnum: int, raw_weight: float, value: bytes, length: int | None) -> bytes:
    """The term info bytes of a term found in one document only (with a value: positions),
    its posting inlined, as `W3TermInfo.to_bytes` makes them after `add_block` of a block
    holding the posting and `set_inlined` (the statistics those give, without the objects)."""
    weight = array("f", (raw_weight,))[0]  # as a block would keep it
    return _INFO.pack(True, weight, 1, length_to_byte(length) if length else 0,
                      length_to_byte(length or 0), max(0, raw_weight), docnum,
                      docnum) + pickle.dumps(((docnum,), (weight,), (value,)), 2)


def _add_inlined(fieldwriter: Any, tbytes: bytes, posting: tuple[Any, ...],
                 lengths: list[int | None] | None) -> None:
    docnum, weight, value = posting
    length = lengths[docnum] if lengths is not None else None
    fieldwriter._tindex.add(pack_ushort(fieldwriter._fieldid) + tbytes,
                            inlined_info(docnum, weight, value, length))


def write_postings(fieldwriter: Any, schema: Any, lengths: Any,
                   terms: Iterable[tuple[str, bytes, Iterable[list[tuple[Any, ...]]]]]) -> None:
    """Write the pool's terms as `FieldWriter.add_postings` writes its postings: the same
    fields, terms, blocks and term infos, a block at a time instead of a posting at a time."""
    lastfn = None
    table: list[int | None] | None = None
    for fieldname, tbytes, chunks in terms:
        if fieldname != lastfn:
            if lastfn is not None:
                fieldwriter.finish_field()
            fieldwriter.start_field(fieldname, schema[fieldname])
            lastfn = fieldname
            table = lengths.length_table(fieldname) if lengths is not None else None
        if (INLINE_SINGLE and type(chunks) is list and len(chunks) == 1
                and len(chunks[0]) == 1 and chunks[0][0][2]):
            # found in one document only: its posting goes in its term info (see INLINE_SINGLE)
            _add_inlined(fieldwriter, tbytes, chunks[0][0], table)
            continue
        fieldwriter.start_term(tbytes)
        pw = fieldwriter._postwriter
        limit = pw._blocklimit
        pending: list[tuple[Any, ...]] = []
        for chunk in chunks:
            postings = pending + chunk if pending else chunk
            # a full block is written once a posting follows it (the last block is marked)
            start, end = 0, len(postings)
            while end - start > limit:
                _write_block(pw, postings[start:start + limit], table, last=False)
                start += limit
            pending = postings[start:]
        if INLINE_SINGLE and pending and not pw._blockcount and len(pending) == 1 and pending[0][2]:
            # postings spilled to run files come as a generator: the same term info, late
            pw._terminfo = None  # the term is finished: the postings writer may start the next
            _add_inlined(fieldwriter, tbytes, pending[0], table)
            continue
        if pending and not pw._blockcount and len(pending) < pw._inlinelimit:
            for p in pending:  # short enough to be inlined: Whoosh's own path
                length = table[p[0]] if table is not None else 0
                pw.add_posting(p[0], p[1], p[2] or b"", length)
        elif pending:
            _write_block(pw, pending, table, last=True)
        fieldwriter.finish_term()
    if lastfn is not None:
        fieldwriter.finish_field()


class BulkSegmentWriter(SegmentWriter):
    """Whoosh's segment writer with a `TermPool`, writing its postings a block at a time
    (`write_postings`). The segment is the one Whoosh's writer makes of the same documents."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", LengthCachingCodec())
        super().__init__(*args, **kwargs)
        use_term_pool(self)
        self._bulk = not any(field.separate_spelling() or field.vector
                             for _, field in self.schema.items())

    def add_document(self, **fields: Any) -> None:
        """Whoosh's `SegmentWriter.add_document`, with each indexed field's postings added to
        the pool in one call (`TermPool.add_terms`) and, for plain fields, the terms taken
        from the field's format directly (what `FieldType.index` does, without its extra
        generator). Schemas with spelling or vector fields take Whoosh's own path."""
        pool = self.pool
        if not self._bulk or not isinstance(pool, TermPool):
            super().add_document(**fields)
            return
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    boost = self._field_boost(fields, fieldname, docboost)
                    scorable = field.scorable
                    if (type(field).index is FieldType.index and field.format
                            and isinstance(value, (str, list, tuple))):
                        items = field.format.word_values(value, field.analyzer, mode="index")
                        length = pool.add_terms(fieldname, docnum, items, boost, scorable, False)
                    else:
                        length = pool.add_terms(fieldname, docnum, field.index(value), boost,
                                                scorable, True)
                stored = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
                column = field.column_type
                if column and stored is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(stored))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        if not isinstance(self.pool, TermPool) or not isinstance(self.codec, LengthCachingCodec):
            super()._flush_segment()
            return
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        write_postings(self.fieldwriter, self.schema, pdr, self.pool.iter_terms())
        self.fieldwriter.close()
        if pdr:
            pdr.close()
