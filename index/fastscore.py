"""Exact BM25F scores of a disjunction of words for every document at once, with numpy.

Whoosh scores a query one document at a time through Python matcher objects; for an OR of
several words over many fields that is most of a search's time. For the common query shape
(an OR of `BM25FTerm`s) this module reads each word's postings a block at a time and does the
same arithmetic as `bm25f._BM25FMatcher.score` on whole arrays: the scores are the same, and
the set of documents with a positive score is exactly the set that matches.

Per-segment field lengths are decoded once and cached (segments never change once written).

Postings are read from the segment's bytes in place, without Whoosh's matcher objects: a
Whoosh 3 block is one compressed pickle of (ids, weights, positions), and for scores only its
start is decompressed and unpickled, up to where the positions begin (`_block_ids_weights`).
Term dictionary entries are read from the segment's hash table in place and kept in a bounded
per-index `TermCache`. `DIRECT_READS = False` reads everything through Whoosh's matchers
instead (the tests compare both ways).
"""

from __future__ import annotations

import struct
import threading
import zlib
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import suppress
from io import BytesIO
from itertools import accumulate
from math import log
from pickle import Unpickler, dumps, loads
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3LeafMatcher, W3TermInfo
from whoosh.filedb.filetables import HashReader
from whoosh.formats import Positions
from whoosh.matching.wrappers import FilterMatcher
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import byte_to_length

from . import storage
from .analysis import PagePositions
from .bm25f import BM25FTerm, _kind_count, average_length
from .ranking import _Scorer

_BYTE_LENGTHS32 = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


def flat_terms(q: wq.Query | None) -> list[BM25FTerm] | None:
    """The BM25F words of `q` if it is one word or an OR of words; None for other shapes."""
    if isinstance(q, BM25FTerm):
        return [q]
    if isinstance(q, wq.Or) and q.boost == 1.0 and all(isinstance(c, BM25FTerm) for c in q.subqueries):
        return list(q.subqueries)
    return None


class LengthCache:
    """Field lengths per segment, decoded once per segment and kept as their one-byte codes
    (a quarter of the memory of floats; `at` maps them to lengths on use)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        # field -> (segment keys, lengths of every document of those segments in order)
        self._wholes: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        self._lock = threading.Lock()

    def lengths(self, leaf: Any, fieldname: str) -> np.ndarray:
        """The field's length code (uint8) or length (float32) of every document of `leaf`."""
        key = (segment_key(leaf), fieldname)
        with self._lock:
            arr = self._cache.get(key)
        if arr is None:
            arr = _decode_lengths(leaf, fieldname)
            with self._lock:
                self._cache[key] = arr
        return arr

    def at(self, leaf: Any, fieldname: str, ids: np.ndarray) -> np.ndarray:
        """Lengths (float32) of the field in the documents `ids` of `leaf`."""
        arr = self.lengths(leaf, fieldname)[ids]
        return _BYTE_LENGTHS32[arr] if arr.dtype == np.uint8 else arr

    def at_global(self, leaves: list[tuple[Any, int]], fieldname: str,
                  docs: np.ndarray) -> np.ndarray:
        """Lengths (float32) of the field in the documents `docs`, numbered across the
        segments `leaves` ((segment, offset) pairs, as a searcher numbers its documents)."""
        arr = self._whole(leaves, fieldname)[docs]
        return _BYTE_LENGTHS32[arr] if arr.dtype == np.uint8 else arr

    def _whole(self, leaves: list[tuple[Any, int]], fieldname: str) -> np.ndarray:
        """The field's lengths over all `leaves` in one array. The segments' own arrays are
        then kept as views into it, so it costs no memory beside them."""
        keys = tuple(segment_key(leaf) for leaf, _off in leaves)
        with self._lock:
            found = self._wholes.get(fieldname)
        if found is not None and found[0] == keys:
            return found[1]
        parts = [self.lengths(leaf, fieldname) for leaf, _off in leaves]
        if any(p.dtype != np.uint8 for p in parts):  # another codec's lengths: all as floats
            parts = [_BYTE_LENGTHS32[p] if p.dtype == np.uint8 else p for p in parts]
        whole = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        with self._lock:
            self._wholes[fieldname] = (keys, whole)
            start = 0
            for key, part in zip(keys, parts, strict=True):
                if part.dtype == whole.dtype:
                    self._cache[(key, fieldname)] = whole[start:start + len(part)]
                start += len(part)
        return whole

    def nbytes(self) -> int:
        """Memory held by the cached arrays (each buffer once: segments' arrays may be views
        into a whole-searcher array)."""
        with self._lock:
            arrays = [*self._cache.values(), *(w for _k, w in self._wholes.values())]
        buffers = {}
        for a in arrays:
            base = a if a.base is None else a.base
            buffers[id(base)] = base.nbytes
        return sum(buffers.values())

    def forget_except(self, keys: set[str]) -> None:
        """Drop the arrays of segments no longer in use."""
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[0] in keys}
            self._wholes = {f: w for f, w in self._wholes.items() if set(w[0]) <= keys}


def segment_key(leaf: Any) -> str:
    """A name for a segment as one reader sees it (its id and size), remembered on the
    reader: a segment never changes once written."""
    key = leaf.__dict__.get("_portal_segment_key") if hasattr(leaf, "__dict__") else None
    if key is not None:
        return key
    try:
        key = f"{leaf.segment().segment_id()}:{leaf.doc_count_all()}"
    except Exception:  # readers without a segment: never cached for long
        return f"anon:{id(leaf)}"
    with suppress(AttributeError):
        leaf._portal_segment_key = key
    return key


def _decode_lengths(leaf: Any, fieldname: str) -> np.ndarray:
    n = leaf.doc_count_all()
    perdoc = getattr(leaf, "_perdoc", None)
    try:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        reader = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)  # type: ignore[union-attr]
        if reader is None:
            return np.zeros(n, dtype=np.uint8)  # code 0 is length 0
        if getattr(reader, "_typecode", None) == "B" and getattr(reader, "_fixedlen", None) == 1:
            # one byte per document, stored contiguously: read them in one go
            count = min(int(reader._count), n)
            out = np.full(n, int(reader._default), dtype=np.uint8)
            out[:count] = np.frombuffer(reader._dbfile.get(reader._basepos, count), dtype=np.uint8)
            return out
        return np.fromiter((reader[d] for d in range(n)), dtype=np.uint8, count=n)
    except (AttributeError, ImportError, TypeError):  # another codec: the public, slower way
        return np.array([leaf.doc_field_length(d, fieldname, 0) or 0 for d in range(n)], dtype=np.float32)


# False: read postings through Whoosh's matchers only (tests compare both ways).
DIRECT_READS = True
_BLOCK_LENGTH = struct.Struct("!i")  # a Whoosh 3 block's length (negative: the last block)
# Where the encoded values (positions) of a Whoosh 3 block begin: a block's data is the pickle
# (protocol 2) of (ids, weights, values), and protocol 2 writes each bytes value as a call of
# `_codecs.encode`, whose name the pickle spells out before the first value.
_VALUES_MARK = b"c_codecs\nencode\n"
_TUPLE2_STOP = b"\x86."  # close (ids, weights) as a pair and end the pickle there
# Decompressed bytes enough for a block's ids (up to 3 bytes each while gaps stay under
# 65,536 documents) and weights (9 bytes each) and the opcodes around them; a block that
# needs more (gaps coded in 5 bytes) is decoded whole.
_IDS_WEIGHTS_BYTES = 12
_IDS_WEIGHTS_SLACK = 64


def _block_ids_weights(data: Any, compressed: int, count: int) -> tuple[Any, Any]:
    """(ids, weights) of one Whoosh 3 block, without its values when it can.

    A block's positions follow its ids and weights in one compressed pickle and are most of
    its bytes; for scores only the ids and weights are needed. So only the start of the
    block is decompressed and unpickled, up to where the values begin. Anything unexpected
    (no values mark where it should be, a pickle that does not close as a pair of the block's
    size) decodes the whole block, as Whoosh does.
    """
    if compressed:
        enough = _IDS_WEIGHTS_BYTES * count + _IDS_WEIGHTS_SLACK
        head = zlib.decompressobj().decompress(data, enough)
    else:
        head = data if isinstance(data, bytes) else bytes(data)
    at = head.find(_VALUES_MARK)
    if at > 0:
        cut = at - 1 if head[at - 1] == 0x28 else at  # the values' MARK, if there is one
        try:
            ids, weights = loads(head[:cut] + _TUPLE2_STOP)
        except Exception:  # noqa: BLE001 - any failure means "decode the whole block"
            ids = weights = None
        if (type(ids) is tuple and len(ids) == count
                and (weights is None or type(weights) is float
                     or (type(weights) is tuple and len(weights) == count))):
            return ids, weights
    whole = loads(zlib.decompress(data) if compressed else data)
    return whole[0], whole[1]


def _read_list(postfile: Any, offset: int, length: int, wanted: np.ndarray | None = None,
               values: bool = False) -> tuple[np.ndarray, np.ndarray, list[bytes]] | None:
    """Decode a Whoosh 3 posting list stored at `offset` (`length` bytes) in `postfile`:
    (document numbers, weights, encoded values if asked), as `_read_blocks` gives them.
    With `wanted` (sorted local document numbers) only those of them are returned. None when
    the bytes are not a Whoosh 3 posting list (the caller reads it the matcher's way)."""
    got = _list_blocks(postfile, offset, length, wanted.tolist() if wanted is not None else None,
                       values)
    if got is None:
        return None
    ids, weights, vals = got
    out_ids = np.asarray(ids, dtype=np.int64)
    out_w = np.asarray(weights, dtype=np.float64)
    if wanted is not None and len(wanted) and len(out_ids):
        return _only_wanted(wanted, out_ids, out_w, vals, values)
    return out_ids, out_w, vals


def _only_wanted(wanted: np.ndarray, ids: np.ndarray, weights: np.ndarray, vals: Any,
                 values: bool) -> tuple[np.ndarray, np.ndarray, Any]:
    """The postings of the documents in `wanted` (sorted document numbers) only."""
    pos = np.minimum(np.searchsorted(wanted, ids), len(wanted) - 1)
    keep = wanted[pos] == ids
    if values:
        vals = [v for v, k in zip(vals, keep.tolist(), strict=True) if k]
    return ids[keep], weights[keep], vals


def _list_blocks(postfile: Any, offset: int, length: int, wanted: list[int] | None,
                 values: bool, lazy: bool = False) -> tuple[list[int], list[float], Any] | None:
    """The blocks of a Whoosh 3 posting list as Python lists (document numbers, weights,
    encoded values if asked), read straight from the bytes (in place when the file is in
    memory or mapped): no matcher object, a block's values left undecoded unless asked
    for. With `wanted` (sorted local document numbers) blocks that cannot hold one of them
    are skipped undecoded, but the blocks read are returned whole. With `lazy` (and
    `values`) the values come as a `_BlockValues`, reading and decoding a block's values only
    when one of them is asked for. None when the bytes are not a Whoosh 3 posting list."""
    buf = getattr(postfile, "_buf", None)
    in_place = buf is not None
    file_base = 0  # where `buf` starts in the file
    if not in_place:
        buf, file_base, offset = postfile.get(offset, length), offset, 0
    if buf[offset:offset + 4] != WHOOSH3_HEADER_MAGIC:
        return None
    out_ids: list[int] = []
    weights: list[float] = []
    vals: list[bytes] = []
    starts: list[int] = []
    blocks: list[tuple[int, int, int]] = []
    i = 0
    blocks_read = 0
    pos = offset + 4
    end = offset + length
    while pos < end:
        blen = _BLOCK_LENGTH.unpack_from(buf, pos)[0]
        nxt = pos + 4 + abs(blen)
        info = loads(buf[pos + 4:nxt])  # the block's header (a pickle ends where it ends)
        count, maxid, _maxweight, compressed, _mn, _mx = info
        # where the header ends: Whoosh pickled it with protocol 2, and so does this
        data_at = pos + 4 + len(dumps(info, 2))
        if buf[data_at - 1] != 0x2E:  # not the header's STOP: find its end the slow way
            stream = BytesIO(bytes(buf[pos + 4:nxt]))
            Unpickler(stream).load()
            data_at = pos + 4 + stream.tell()
        if wanted is not None:
            if i >= len(wanted):
                break
            if maxid < wanted[i]:  # no wanted document in this block: skip it undecoded
                if blen < 0:
                    break
                pos = nxt
                continue
            i = bisect_right(wanted, maxid, i)
        data = buf[data_at:nxt]
        blocks_read += 1
        if values and lazy:
            starts.append(len(out_ids))
            blocks.append((file_base + data_at, nxt - data_at, compressed))
            ids, w = _block_ids_weights(data, compressed, count)
        elif values:
            block = loads(zlib.decompress(data) if compressed else data)
            ids, w = block[0], block[1]
            v = block[2]
            if v is None or isinstance(v, bytes):  # fixed-size values: none for our formats
                return None
            vals.extend(v)
        else:
            ids, w = _block_ids_weights(data, compressed, count)
        out_ids.extend(accumulate(ids))  # delta-coded from 0 in each block
        if w is None:
            weights.extend([1.0] * len(ids))
        elif isinstance(w, float):
            weights.extend([w] * len(ids))
        else:
            weights.extend(w)
        if blen < 0:
            break
        pos = nxt
    if in_place:  # as many reads as Whoosh's matcher makes: the list, then a `get` a block
        storage.count_read(1 + blocks_read)
    if values and lazy:
        return out_ids, weights, _BlockValues(postfile, starts, blocks)
    return out_ids, weights, vals


class _BlockValues:
    """The encoded values (positions) of a posting list, by posting number, each block read,
    decompressed and unpickled the first time one of its values is asked for: the proximity
    boosts need the positions of a few dozen candidates, not of every document. Valid while
    the segment file is open (one search)."""

    __slots__ = ("_file", "_starts", "_blocks", "_decoded")

    def __init__(self, postfile: Any, starts: list[int],
                 blocks: list[tuple[int, int, int]]) -> None:
        self._file = postfile
        self._starts = starts  # the number of each block's first posting
        self._blocks = blocks  # (position in the file, length, compression) of each block
        self._decoded: dict[int, Any] = {}

    def __getitem__(self, i: int) -> bytes:
        b = bisect_right(self._starts, i) - 1
        if b < 0:
            raise IndexError(i)
        found = self._decoded.get(b)
        if found is None:
            position, length, compressed = self._blocks[b]
            data = self._file.get(position, length)
            found = self._decoded[b] = loads(zlib.decompress(data) if compressed else data)[2]
        return found[i - self._starts[b]]


def _as_arrays(deltas: list[int], weights: list[float], sizes: list[int], vals: list[bytes],
               wanted: np.ndarray | None,
               values: bool) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """Numpy arrays of the ids (delta-coded per block: one cumulative sum, less each block's
    base) and weights gathered from blocks, restricted to `wanted` when given."""
    if not sizes:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64), vals
    running = np.cumsum(np.asarray(deltas, dtype=np.int64))
    ends = np.cumsum(sizes)
    bases = np.concatenate(([0], running[ends[:-1] - 1]))
    out_ids = running - np.repeat(bases, sizes)
    out_w = np.asarray(weights, dtype=np.float64)
    if wanted is not None and len(wanted):
        return _only_wanted(wanted, out_ids, out_w, vals, values)
    return out_ids, out_w, vals


def _read_blocks(m: Any, wanted: np.ndarray | None = None,
                 values: bool = False) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """Decode the blocks of a Whoosh 3 leaf matcher: (document numbers, weights, encoded
    values if asked). With `wanted` (sorted local document numbers) only blocks that may hold
    one of them are decompressed and only those documents are returned.

    The blocks' pickled tuples are gathered in Python lists and converted with numpy once per
    posting list. (The matcher's way; `_read_list` reads the same from the bytes directly.)
    """
    deltas: list[int] = []
    weights: list[float] = []
    sizes: list[int] = []
    vals: list[bytes] = []
    wl = wanted.tolist() if wanted is not None else None
    i = 0
    while m.is_active():
        if wl is not None:
            if i >= len(wl):
                break
            top = m._maxid
            if top < wl[i]:  # no wanted document in this block: skip it undecoded
                m._next_block()
                continue
            i = bisect_right(wl, top, i)
        if m._data is None:
            m._read_data()
        ids, w = m._data[0], m._data[1]
        k = len(ids)
        deltas.extend(ids)
        sizes.append(k)
        if w is None:
            weights.extend([1.0] * k)
        elif isinstance(w, float):
            weights.extend([w] * k)
        else:
            weights.extend(w)
        if values:
            m._read_values()
            vals.extend(m._values)
        m._next_block()
    return _as_arrays(deltas, weights, sizes, vals, wanted, values)


def _decodable(m: Any) -> bool:
    """A Whoosh 3 document posting list (anything else is read through the matcher API)."""
    return isinstance(m, W3LeafMatcher) and not m._byteids


class _Present:
    """A term found in a segment without a Whoosh 3 term dictionary (read the public way)."""

    def __init__(self, leaf: Any, fieldname: str, text: str) -> None:
        self.leaf, self.fieldname, self.text = leaf, fieldname, text

    def doc_frequency(self) -> int:
        return int(self.leaf.doc_frequency(self.fieldname, self.text))


_HASH_SLOT = struct.Struct("!Iq")  # a Whoosh hash file's slot: (key hash, item position)
_HASH_LENGTHS = struct.Struct("!ii")  # an item's (key length, value length)


def _hash_get(tindex: Any, key: bytes) -> bytes | None:
    """`HashReader.get(key)` of a Whoosh hash file (a segment's term dictionary) held in
    memory or a map: the same slots probed in the same order, read with `unpack_from` on the
    buffer instead of copying each few bytes out through the file object. Falls back to
    Whoosh's own lookup for a file without a buffer."""
    buf = getattr(tindex.dbfile, "_buf", None)
    if buf is None or not isinstance(tindex, HashReader):
        return tindex.get(key)
    storage.count_read(2)  # Whoosh reads a slot and the key (and then the value) with `get`
    keyhash = tindex.hashfn(key)
    tablestart, numslots = tindex.tables[keyhash & 255]
    if not numslots:
        return None
    size = _HASH_SLOT.size
    tableend = tablestart + numslots * size
    slotpos = tablestart + ((keyhash >> 8) % numslots) * size
    keylen_wanted = len(key)
    for _ in range(numslots):
        slothash, itempos = _HASH_SLOT.unpack_from(buf, slotpos)
        if not itempos:
            return None
        if slothash == keyhash:
            keylen, datalen = _HASH_LENGTHS.unpack_from(buf, itempos)
            keystart = itempos + _HASH_LENGTHS.size
            if keylen == keylen_wanted and buf[keystart:keystart + keylen] == key:
                return bytes(buf[keystart + keylen:keystart + keylen + datalen])
        slotpos += size
        if slotpos == tableend:
            slotpos = tablestart
    return None


def _term_entry(leaf: Any, fieldname: str, text: str, tbytes: bytes | None) -> Any:
    """The segment's term dictionary entry for a word: its encoded `W3TermInfo` (bytes),
    a `_Present` for another codec, or None when the segment lacks the word."""
    terms = getattr(leaf, "_terms", None)
    if _empty_field(leaf, fieldname):
        return None
    if tbytes is not None and isinstance(getattr(terms, "_codec", None), W3Codec):
        return _hash_get(terms._tindex, terms._keycoder(fieldname, tbytes))  # type: ignore[union-attr]
    if fieldname not in leaf.schema:
        return None
    return _Present(leaf, fieldname, text) if (fieldname, text) in leaf else None


class TermCache:
    """Term dictionary entries of recently searched words, per (field, word), for the
    segments of the latest searcher, bounded in bytes (least recently used dropped first).

    Relevance feedback looks up its expansion words (common words of the best documents,
    which recur from one question to the next) in every field of every segment; each lookup
    hashes the word and probes the segment's hash table. An entry keeps the encoded term
    information (a few dozen bytes per segment holding the word). A different set of
    segments (a commit, a rebuild) empties the cache.
    """

    ENTRY_BYTES = 120  # the key, the tuple and the dictionary slot, about
    SLOT_BYTES = 8  # one segment's reference in an entry's tuple
    RAW_BYTES = 33  # a bytes object's own size beside its content

    def __init__(self, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._segments: tuple[str, ...] = ()
        self._entries: OrderedDict[tuple[str, str], tuple[bytes | None, ...]] = OrderedDict()
        self._sizes: dict[tuple[str, str], int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, segments: tuple[str, ...],
            key: tuple[str, str]) -> tuple[bytes | None, ...] | None:
        with self._lock:
            if segments != self._segments:
                return None
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, segments: tuple[str, ...], key: tuple[str, str],
            entries: tuple[bytes | None, ...]) -> None:
        size = self.ENTRY_BYTES + sum(
            self.SLOT_BYTES + (0 if e is None else self.RAW_BYTES + len(e)) for e in entries)
        if size > self.max_bytes:
            return
        with self._lock:
            if segments != self._segments:
                self._segments = segments
                self._entries.clear()
                self._sizes.clear()
                self._bytes = 0
            if key in self._entries:
                return
            self._entries[key] = entries
            self._sizes[key] = size
            self._bytes += size
            while self._bytes > self.max_bytes:
                old, _e = self._entries.popitem(last=False)
                self._bytes -= self._sizes.pop(old)

    def nbytes(self) -> int:
        """Memory held by the entries (estimated from their sizes)."""
        with self._lock:
            return self._bytes


def _empty_field(leaf: Any, fieldname: str) -> bool:
    """True when the segment holds no word of a scored field (its total length is 0): no
    need to look words up there. (Fields without lengths are never taken for empty.)"""
    try:
        return bool(leaf.schema[fieldname].scorable) and not leaf.field_length(fieldname)
    except (KeyError, AttributeError):
        return False


class TermLookup:
    """Term dictionary lookups for one call: each (field, word) is looked up once per
    segment (Whoosh looks a word up again for its presence, its frequency and its postings,
    which with many segments costs more than reading short posting lists)."""

    def __init__(self, searcher: Any, cache: TermCache | None = None) -> None:
        self.parent = searcher.get_parent()
        self.leaves = self.parent.reader().leaf_readers()
        self._infos: dict[tuple[str, str], list[Any]] = {}
        self._cache = cache
        self._segments = tuple(segment_key(leaf) for leaf, _off in self.leaves) if cache else ()

    def infos(self, fieldname: str, text: str) -> list[Any]:
        """Per segment (in `leaves` order): the term's information, or None."""
        key = (fieldname, text)
        found = self._infos.get(key)
        if found is None:
            entries = self._cache.get(self._segments, key) if self._cache is not None else None
            if entries is None:
                tbytes = None
                if fieldname in self.parent.schema:
                    try:
                        tbytes = self.parent.schema[fieldname].to_bytes(text)
                    except ValueError:
                        tbytes = None
                entries = tuple(_term_entry(leaf, fieldname, text, tbytes)
                                for leaf, _off in self.leaves)
                cacheable = all(e is None or isinstance(e, bytes) for e in entries)
                if self._cache is not None and cacheable:
                    self._cache.put(self._segments, key, entries)
            found = self._infos[key] = [W3TermInfo.from_bytes(e) if isinstance(e, bytes) else e
                                        for e in entries]
        return found

    def present(self, fieldname: str, text: str) -> bool:
        return any(i is not None for i in self.infos(fieldname, text))

    def doc_frequency(self, fieldname: str, text: str) -> int:
        return sum(i.doc_frequency() for i in self.infos(fieldname, text) if i is not None)

    def postings(self, number: int, fieldname: str, text: str, wanted: np.ndarray | None = None,
                 values: bool = False) -> tuple[np.ndarray, np.ndarray, Any]:
        """(document numbers, weights, encoded values if asked) of the word's raw postings
        (deleted documents included) in segment `number`; with `wanted` (sorted local
        document numbers), only those of them that hold the word. All values asked for
        without `wanted` come as a sequence decoding its blocks on first use."""
        info = self.infos(fieldname, text)[number]
        leaf = self.leaves[number][0]
        if (values and wanted is None and isinstance(info, W3TermInfo) and not info.is_inlined()
                and DIRECT_READS and leaf.schema[fieldname].format.fixed_value_size() is None):
            length = info._length
            length = length[0] if isinstance(length, tuple) else length
            lazy = _list_blocks(leaf._terms._postfile, info._offset, length, None, True, lazy=True)
            if lazy is not None:
                return (np.asarray(lazy[0], dtype=np.int64), np.asarray(lazy[1], dtype=np.float64),
                        lazy[2])
        if isinstance(info, W3TermInfo) and not info.is_inlined() and DIRECT_READS:
            terms = self.leaves[number][0]._terms
            length = info._length  # Whoosh 2.7 reads it back as a 1-tuple
            length = length[0] if isinstance(length, tuple) else length
            got = _read_list(terms._postfile, info._offset, length, wanted, values)
            if got is not None:
                return got
        m = self.matcher(number, fieldname, text)
        if _decodable(m):
            return _read_blocks(m, wanted, values)
        return _read_matcher(m, wanted, values)

    def lists(self, number: int, fieldname: str, text: str,
              wanted: list[int] | None = None) -> tuple[list[int], list[float]]:
        """(document numbers, weights) of the word's raw postings in segment `number` as
        Python lists; with `wanted` (sorted local document numbers) only the blocks that may
        hold them are read, and other documents of those blocks may come with them."""
        info = self.infos(fieldname, text)[number]
        if isinstance(info, W3TermInfo) and not info.is_inlined() and DIRECT_READS:
            terms = self.leaves[number][0]._terms
            length = info._length
            length = length[0] if isinstance(length, tuple) else length
            got = _list_blocks(terms._postfile, info._offset, length, wanted, False)
            if got is not None:
                return got[0], got[1]
        want = np.asarray(wanted, dtype=np.int64) if wanted is not None else None
        ids, w, _v = self.postings(number, fieldname, text, want)
        return ids.tolist(), w.tolist()

    def matcher(self, number: int, fieldname: str, text: str) -> Any:
        """The raw postings (deleted documents included) of the word in segment `number`."""
        leaf = self.leaves[number][0]
        info = self.infos(fieldname, text)[number]
        if isinstance(info, _Present) or info is None:
            m = leaf.postings(fieldname, text)
            return m.child if isinstance(m, FilterMatcher) else m
        terms = leaf._terms
        tbytes = leaf.schema[fieldname].to_bytes(text)
        return terms._codec.postings_reader(terms._postfile, info, leaf.schema[fieldname].format,
                                            term=(fieldname, tbytes))


def live_docs_with(lookup: TermLookup, fieldname: str, text: str) -> list[int]:
    """Global numbers of the live documents containing a word (`docs_for_query` of one
    term, with one term lookup per segment)."""
    out: list[int] = []
    for number, (leaf, offset) in enumerate(lookup.leaves):
        if lookup.infos(fieldname, text)[number] is None:
            continue
        ids, _w, _v = lookup.postings(number, fieldname, text)
        deleted = leaf.has_deletions()
        out.extend(int(d) + offset for d in ids.tolist() if not (deleted and leaf.is_deleted(d)))
    return out


def _leaf_matcher(leaf: Any, fieldname: str, text: str) -> Any:
    m = leaf.postings(fieldname, text)
    return m.child if isinstance(m, FilterMatcher) else m


def _read_matcher(m: Any, wanted: np.ndarray | None = None,
                  values: bool = False) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """(document numbers, weights, values if asked) through the public matcher interface
    (postings of other codecs, inlined lists), at the `wanted` documents only if given."""
    ids_l: list[int] = []
    weights_l: list[float] = []
    vals: list[bytes] = []

    def every() -> Iterator[int]:
        while m.is_active():
            yield m.id()
            m.next()

    for d in (every() if wanted is None else stops_at(m, wanted.tolist())):
        ids_l.append(d)
        weights_l.append(m.weight())
        if values:
            vals.append(m.value())
    return np.asarray(ids_l, dtype=np.int64), np.asarray(weights_l, dtype=np.float64), vals


def stops_at(m: Any, wanted: Iterable[int]) -> Iterator[int]:
    """Skip matcher `m` through the ascending document numbers `wanted`, yielding each one it
    matches while it stands on it (read its weight or score before asking for the next)."""
    for d in wanted:
        if not m.is_active():
            return
        if m.id() < d:
            m.skip_to(d)
            if not m.is_active():
                return
        if m.id() == d:
            yield d


Field = tuple[str, str, float, float, float]  # (field, term, weight, b, average length)


def _term_setup(parent: Any, lookup: TermLookup, term: BM25FTerm) -> tuple[list[Field], float]:
    """The fields of `term` present in the index, each with its average length, and the
    term's idf (that of the field where the word is most common), times its boost."""
    present = [(f, t, w, b) for f, t, w, b in term.parts if f in parent.schema and lookup.present(f, t)]
    if not present:
        return [], 0.0
    df = max(lookup.doc_frequency(f, t) for f, t, _, _ in present)
    n = _kind_count(parent, present[0][0])
    idf = log(1.0 + (n - df + 0.5) / (df + 0.5)) * term.boost
    fields = [(f, t, w, b, average_length(parent, f))
              for f, t, w, b in present]
    return fields, idf


class KeptPostings:
    """Postings (with their encoded positions) that one query's first pass read anyway,
    kept for its proximity boosts: the boosts then decode no postings block again."""

    def __init__(self, wanted: set[tuple[str, str]]) -> None:
        self.wanted = wanted  # (field, word) pairs worth keeping
        self._lists: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, list[bytes]]] = {}

    def put(self, leaf: Any, fieldname: str, text: str,
            postings: tuple[np.ndarray, np.ndarray, list[bytes]]) -> None:
        self._lists[(segment_key(leaf), fieldname, text)] = postings

    def get(self, leaf: Any, fieldname: str,
            text: str) -> tuple[np.ndarray, np.ndarray, list[bytes]] | None:
        return self._lists.get((segment_key(leaf), fieldname, text))



def _global_postings(chunks: Iterable[tuple[int, list[int], list[float]]]) -> tuple[np.ndarray, np.ndarray] | None:
    """One (field, word)'s postings over several segments, from (segment's first document
    number, ids, weights) in segment order: global document numbers and weights as arrays;
    None when no segment has any."""
    ids: list[int] = []
    w_l: list[float] = []
    offsets: list[int] = []
    counts: list[int] = []
    for offset, got_ids, got_w in chunks:
        if got_ids:
            ids.extend(got_ids)
            w_l.extend(got_w)
            offsets.append(offset)
            counts.append(len(got_ids))
    if not ids:
        return None
    docs = np.asarray(ids, dtype=np.int64)
    if len(offsets) > 1 or offsets[0]:
        docs += np.repeat(np.asarray(offsets, dtype=np.int64), counts)
    return docs, np.asarray(w_l, dtype=np.float64)


def _every_segments_lists(lookup: Any, f: str, t: str, infos: list[Any],
                          keep: KeptPostings | None) -> Iterator[tuple[int, list[int], list[float]]]:
    """(segment's first document number, ids, weights) of (f, t) in every segment holding it,
    keeping the postings (positions included) in `keep` when it wants them."""
    for number, (leaf, offset) in enumerate(lookup.leaves):
        if infos[number] is None:
            continue
        if keep is not None and (f, t) in keep.wanted:
            kept = lookup.postings(number, f, t, values=True)
            keep.put(leaf, f, t, kept)
            yield offset, kept[0].tolist(), kept[1].tolist()
        else:
            yield (offset, *lookup.lists(number, f, t))

def score_all(searcher: Any, terms: list[BM25FTerm], lengths: LengthCache,
              keep: KeptPostings | None = None, term_cache: TermCache | None = None) -> np.ndarray:
    """BM25F score of the OR of `terms` for every document number of `searcher` (0: no match).

    With `keep`, the postings of its wanted (field, word) pairs are kept in it; with
    `term_cache`, term dictionary entries are looked up there first."""
    parent = searcher.get_parent()
    size = parent.doc_count_all()
    total = np.zeros(size, dtype=np.float64)
    lookup = TermLookup(parent, term_cache)
    for term in terms:
        fields, idf = _term_setup(parent, lookup, term)
        k1 = term.k1
        tf: np.ndarray | None = None
        touched: list[np.ndarray] = []
        for f, t, weight, b, avg in fields:
            # the (field, word)'s postings of every segment, scored in one array pass
            infos = lookup.infos(f, t)
            gathered = _global_postings(_every_segments_lists(lookup, f, t, infos, keep))
            if gathered is None:
                continue
            docs, w = gathered
            dl = lengths.at_global(lookup.leaves, f, docs)
            part = weight * w / ((1.0 - b) + b * dl / avg)
            if tf is None:
                tf = np.zeros(size, dtype=np.float64)
            tf[docs] += part  # a posting list names each document once
            touched.append(docs)
        if tf is None:
            continue
        if len(touched) == 1:
            hit = touched[0]
        elif sum(len(d) for d in touched) * 8 > size:  # common words: one pass over the array
            hit = np.flatnonzero(tf)
        else:
            hit = np.unique(np.concatenate(touched))
        x = tf[hit]
        if not x.all():  # (a zero weight) as the segment by segment sum left them out
            hit, x = hit[x != 0], x[x != 0]
        total[hit] += idf * x * (k1 + 1.0) / (x + k1)
    return total


def add_weights(searcher: Any, terms: list[tuple[str, str, float]], total: np.ndarray,
                term_cache: TermCache | None = None) -> bool:
    """Add to `total` (indexed by document number) the score of each (field, word, boost)
    of a field without lengths (a keyword field such as a facet), which Whoosh scores as the
    posting's weight times the boost, in one array pass over its postings in every segment.
    False (and `total` untouched) if a field is scored some other way."""
    parent = searcher.get_parent()
    if not all(f in parent.schema and not parent.schema[f].scorable for f, _t, _b in terms):
        return False
    lookup = TermLookup(parent, term_cache)
    for f, t, boost in terms:
        infos = lookup.infos(f, t)
        gathered = _global_postings(_every_segments_lists(lookup, f, t, infos, None))
        if gathered is not None:
            docs, w = gathered
            total[docs] += w * boost  # a posting list names each document once
    return True


def score_some(searcher: Any, terms: list[BM25FTerm], docnums: list[int],
               lengths: LengthCache, exact_lengths: bool = False,
               term_cache: TermCache | None = None) -> dict[int, float]:
    """`score_all` for the given documents only: {document number: score} of those that
    match. Postings blocks holding none of the documents are skipped undecoded, so scoring
    a few hundred documents does not read every posting of common words.

    Each (word, field) is scored in one go over every segment: the postings of all segments
    are gathered first, so the array arithmetic runs once per word and field, not once per
    segment. The sums are the same, in the same order, as segment by segment.

    With `exact_lengths` field lengths enter the arithmetic as float64, as in Whoosh's own
    `BM25FTerm` matcher (`score_all`, and so ranking, uses them as float32).
    """
    wanted = np.unique(np.asarray(docnums, dtype=np.int64))
    if not len(wanted):
        return {}
    parent = searcher.get_parent()
    total = np.zeros(len(wanted), dtype=np.float64)
    lookup = TermLookup(parent, term_cache)
    # the segments holding wanted documents: (number, offset, local wanted numbers)
    segments: list[tuple[int, int, list[int]]] = []
    for number, (leaf, offset) in enumerate(lookup.leaves):
        bounds = np.searchsorted(wanted, [offset, offset + leaf.doc_count_all()])
        lo, hi = int(bounds[0]), int(bounds[1])
        if lo < hi:
            segments.append((number, offset, (wanted[lo:hi] - offset).tolist()))
    for term in terms:
        fields, idf = _term_setup(parent, lookup, term)
        k1 = term.k1
        tf: np.ndarray | None = None
        for f, t, weight, b, avg in fields if segments else ():
            infos = lookup.infos(f, t)
            gathered = _global_postings(
                (offset, *lookup.lists(number, f, t, local))
                for number, offset, local in segments if infos[number] is not None)
            if gathered is None:
                continue
            docs, w = gathered
            at = np.minimum(np.searchsorted(wanted, docs), len(wanted) - 1)
            keep = wanted[at] == docs
            if not keep.any():
                continue
            docs, at, w = docs[keep], at[keep], w[keep]
            dl = lengths.at_global(lookup.leaves, f, docs)
            if exact_lengths:
                dl = dl.astype(np.float64)
            part = weight * w / ((1.0 - b) + b * dl / avg)
            if tf is None:
                tf = np.zeros(len(wanted), dtype=np.float64)
            tf[at] += part  # a posting list names each document once
        if tf is None:
            continue
        hit = np.nonzero(tf)[0]
        x = tf[hit]
        total[hit] += idf * x * (k1 + 1.0) / (x + k1)
    return {int(wanted[i]): float(total[i]) for i in np.nonzero(total)[0]}


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


# ---------------------------------------------------------------------- phrases
Pair = tuple[str, tuple[str, ...], int, float]  # (field, words, slop, boost)


def flat_phrases(queries: list[wq.Query]) -> list[Pair] | None:
    """The phrases of `queries` (each a phrase or an OR, at any depth, of phrases of two
    words or more), or None when the queries have another shape."""
    out: list[Pair] = []

    def walk(q: wq.Query) -> bool:
        if isinstance(q, wq.Phrase):
            if len(q.words) < 2 or q.char_ranges:
                return False
            out.append((q.fieldname, tuple(q.words), int(q.slop), float(q.boost)))
            return True
        if isinstance(q, wq.Or) and q.boost == 1.0 and q.subqueries:
            return all(walk(c) for c in q.subqueries)
        return False

    return out if queries and all(walk(q) for q in queries) else None


def _follows(ends: list[int], positions: list[int], slop: int) -> list[int]:
    """The positions that come 1 to `slop` places after one of `ends` (both ascending):
    where a phrase reaching `ends` continues (Whoosh's ordered SpanNear2, mindist 1)."""
    out = []
    i, n = 0, len(ends)
    for q in positions:
        while i < n and ends[i] < q - slop:
            i += 1
        if i < n and ends[i] < q:
            out.append(q)
    return out


def _near(first: list[int], second: list[int], slop: int) -> bool:
    """True when some position of `second` follows one of `first` by 1 to `slop` places."""
    return bool(first and second and _follows(first, second, slop))


def _chained(poslists: list[list[int]], slop: int) -> bool:
    ends = poslists[0]
    for nxt in poslists[1:]:
        ends = _follows(ends, nxt, slop)
        if not ends:
            return False
    return bool(ends)


def _decode_positions(value: bytes) -> list[int]:
    # Whoosh's Positions encoding: a 4-byte count, then a pickled list of deltas whose final
    # STOP opcode may have been dropped
    if not value.endswith(b"."):
        value += b"."
    return list(accumulate(loads(value[_INT_SIZE:])))


def _positions_decoder(field: Any) -> Any:
    # Positions' own encoding (also PagePositions', which changes only how words are found)
    fmt = type(field.format)
    if (issubclass(fmt, Positions) and fmt.decode_positions is Positions.decode_positions
            and fmt.encode in (Positions.encode, PagePositions.encode)):
        return _decode_positions
    return field.format.decoder("positions")


def _phrase_texts(sub: Any, reader: Any, fieldname: str,
                  words: tuple[str, ...]) -> list[Any] | None:
    """The words as indexed terms, or None when the phrase cannot match in this segment."""
    if fieldname not in sub.schema:
        return None
    field = sub.schema[fieldname]
    if not field.format or not field.format.supports("positions"):
        return None
    try:
        texts = [field.to_bytes(w) for w in words]
    except ValueError:
        return None
    if any((fieldname, t) not in reader for t in texts):
        return None
    return texts


def phrase_scores(searcher: Any, phrases: list[Pair], docnums: list[int],
                  kept: KeptPostings | None = None) -> dict[int, float]:
    """Scores of an OR of phrases for the given documents only, as Whoosh's `Phrase`
    queries score them (boost times the sum of the words' BM25 in that field, when the words
    follow each other within `slop` positions).

    Each word's postings are visited only at the wanted documents (skipping whole blocks),
    and positions are decoded for those documents only. Whoosh's phrase matcher instead
    reads the positions of every document containing all the words until the next match.
    Words whose postings are in `kept` are looked up there instead of read again.
    """
    wanted = sorted(set(docnums))
    out: dict[int, float] = {}
    if not wanted or not phrases:
        return out
    parent = searcher.get_parent()
    weighting = parent.weighting
    word_scorers: dict[tuple[str, str], Any] = {}
    for sub, offset in parent.leaf_searchers():
        end = offset + sub.doc_count_all()
        local = [d - offset for d in wanted if offset <= d < end]
        if not local:
            continue
        reader = sub.reader()
        for fieldname, words, slop, boost in phrases:
            scorable = fieldname in sub.schema and sub.schema[fieldname].scorable
            if kept is not None and scorable and all((fieldname, w) in kept.wanted for w in words):
                # the first pass kept every word's postings that this segment has: a word
                # missing there is missing from the segment, and the phrase cannot match
                lists = [kept.get(reader, fieldname, w) for w in words]
                if all(x is not None for x in lists):
                    known = [x for x in lists if x is not None]
                    _kept_phrase(sub, fieldname, words, local, offset, known, slop, boost, out,
                                 word_scorers)
                continue
            texts = _phrase_texts(sub, reader, fieldname, words)
            if texts is None:
                continue
            decode = _positions_decoder(sub.schema[fieldname])
            scorers = [weighting.scorer(sub, fieldname, t) for t in texts]
            ms = [reader.postings(fieldname, t) for t in texts]
            for d in local:
                here = True
                for m in ms:
                    if m.is_active() and m.id() < d:
                        m.skip_to(d)
                    if not m.is_active() or m.id() != d:
                        here = False
                        break
                if not here:
                    if not all(m.is_active() for m in ms):
                        break
                    continue
                if not _chained([decode(m.value()) for m in ms], slop):
                    continue
                g = d + offset
                words_score = sum(sc.score(m) for sc, m in zip(scorers, ms, strict=True))
                out[g] = out.get(g, 0.0) + words_score * boost
    return out


def _kept_phrase(sub: Any, fieldname: str, words: tuple[str, ...], local: list[int], offset: int,
                 lists: list[tuple[np.ndarray, np.ndarray, list[bytes]]], slop: int, boost: float,
                 out: dict[int, float], word_scorers: dict[tuple[str, str], Any]) -> None:
    """`phrase_scores` for one phrase from postings already in memory: the same matches and
    arithmetic as Whoosh's matchers (a term scorer's `score` is `_score(weight, field
    length)`). Scorers are made only when a document matches, once per word: a BM25 term
    scorer's `_score` uses the collection's statistics only, not its segment's."""
    docs = np.asarray(local, dtype=np.int64)
    here = np.ones(len(docs), dtype=bool)
    at = []
    for ids, _w, _v in lists:
        if not len(ids):
            return
        pos = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
        here &= ids[pos] == docs
        at.append(pos)
    found = np.nonzero(here)[0].tolist()
    if not found:
        return
    field = sub.schema[fieldname]
    decode = _positions_decoder(field)
    scorers: list[Any] | None = None
    for k in found:
        idx = [int(a[k]) for a in at]
        if not _chained([decode(v[i]) for (_ids, _w, v), i in zip(lists, idx, strict=True)], slop):
            continue
        if scorers is None:
            weighting = sub.get_parent().weighting
            for w in words:
                if (fieldname, w) not in word_scorers:
                    word_scorers[(fieldname, w)] = weighting.scorer(sub, fieldname, field.to_bytes(w))
            scorers = [word_scorers[(fieldname, w)] for w in words]
        d = int(docs[k])
        length = sub.doc_field_length(d, fieldname, 1)
        words_score = sum(sc._score(float(w[i]), length)
                          for sc, (_ids, w, _v), i in zip(scorers, lists, idx, strict=True))
        out[d + offset] = out.get(d + offset, 0.0) + words_score * boost


def _postings_values(m: Any) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """(document numbers, weights, encoded values) of one term's raw postings in a segment."""
    if _decodable(m):
        return _read_blocks(m, values=True)
    return _read_matcher(m, values=True)


def _word_scores(scorer: Any, weights: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A term scorer's `_score(weight, length)` for many documents (float64, as Whoosh)."""
    if type(scorer) is _Scorer:
        k1, b = scorer.k1, scorer.b
        norm = (1 - b) + b * lengths / scorer.avgfl
        return scorer.idf * (weights * (k1 + 1)) / (weights + k1 * norm)
    pairs = zip(weights.tolist(), lengths.tolist(), strict=True)
    return np.array([scorer._score(w, n) for w, n in pairs], dtype=np.float64)


def phrase_match_all(searcher: Any, phrases: list[Pair],
                     lengths: LengthCache) -> tuple[np.ndarray, np.ndarray]:
    """(scores, matches) of an OR of phrases over every document of `searcher`: the same
    matches and scores as Whoosh's `Phrase` queries, computed from each word's postings read
    a block at a time, intersected with numpy, positions decoded only where all words are."""
    parent = searcher.get_parent()
    size = parent.doc_count_all()
    scores = np.zeros(size, dtype=np.float64)
    matched = np.zeros(size, dtype=bool)
    weighting = parent.weighting
    for sub, offset in parent.leaf_searchers():
        reader = sub.reader()
        for fieldname, words, slop, boost in phrases:
            texts = _phrase_texts(sub, reader, fieldname, words)
            if texts is None:
                continue
            lists = [_postings_values(_leaf_matcher(reader, fieldname, t)) for t in texts]
            common = lists[0][0]
            for ids, _w, _v in lists[1:]:
                common = np.intersect1d(common, ids, assume_unique=True)
            if not len(common):
                continue
            at = [np.searchsorted(ids, common) for ids, _w, _v in lists]
            decode = _positions_decoder(sub.schema[fieldname])
            values = [v for _ids, _w, v in lists]
            keep = np.fromiter(
                (_chained([decode(vs[i]) for vs, i in zip(values, idx, strict=True)], slop)
                 for idx in zip(*(a.tolist() for a in at), strict=True)),
                dtype=bool, count=len(common))
            docs = common[keep]
            if not len(docs):
                continue
            dl = lengths.at(reader, fieldname, docs).astype(np.float64)
            part: np.ndarray | None = None
            for (_ids, w, _v), a, t in zip(lists, at, texts, strict=True):
                word = _word_scores(weighting.scorer(sub, fieldname, t), w[a[keep]], dl)
                part = word if part is None else part + word
            scores[docs + offset] += part * boost  # type: ignore[operator]
            matched[docs + offset] = True
    return scores, matched
