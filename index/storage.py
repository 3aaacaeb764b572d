"""On-disk layout: index generations behind an atomic `CURRENT` pointer, locks and retries."""

from __future__ import annotations

import gc
import io
import mmap
import os
import pickle
import random
import re
import shutil
import struct
import time
import warnings
import weakref
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.filedb import compound as _compound
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.index import LockError

from .errors import IndexBusy, IndexUnavailable

POINTER = "CURRENT"
META_FILE = "portal-index.json"
_GEN_RE = re.compile(r"^gen-(\d{6,})$")
OPEN_ATTEMPTS = 6

# Errors meaning "the files are not (yet, or any more) what a reader expects".
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    windex.IndexError,
)


class _ViewReader:
    """A read-only, seekable file over a memoryview, without copying the view.

    Only the bytes asked for are copied (`read`, `readline`), so a memory-mapped segment
    stays in the page cache, shared between processes and reclaimable, instead of being
    duplicated into each process's own memory.
    """

    __slots__ = ("_view", "_pos", "_size")

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0
        self._size = len(view)

    def read(self, n: int | None = -1) -> bytes:
        start = self._pos
        end = self._size if n is None or n < 0 else min(self._size, start + n)
        if end <= start:
            return b""
        self._pos = end
        return self._view[start:end].tobytes()

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        n = min(len(out), self._size - self._pos)
        if n <= 0:
            return 0
        out[:n] = self._view[self._pos:self._pos + n]
        self._pos += n
        return n

    def readline(self, limit: int = -1) -> bytes:
        start = self._pos
        stop = self._size if limit is None or limit < 0 else min(self._size, start + limit)
        end = start
        while end < stop:
            chunk = self._view[end:min(stop, end + 256)].tobytes()
            newline = chunk.find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += len(chunk)
        self._pos = end
        return self._view[start:end].tobytes()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += self._size
        if offset < 0:
            raise ValueError("negative seek position")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._view = memoryview(b"")
        self._size = self._pos = 0


class MappedSubfile(BufferFile):
    """Whoosh's `BufferFile` for a file inside a memory-mapped compound segment, minus the copy.

    Whoosh wraps the mapped bytes in `io.BytesIO`, which copies them: every segment file a
    reader opens (term dictionary, postings, stored fields) was duplicated into the process,
    so a serving process held about twice the index size. Reading through `_ViewReader`
    leaves the bytes in the map.
    """

    def __init__(self, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        view = memoryview(buf)
        self.file = _ViewReader(view)
        if isinstance(view.obj, mmap.mmap):
            _MAPS.add(view.obj)

    def get(self, position: int, length: int) -> bytes:
        _BUDGET.count()
        return self._buf[position:position + length].tobytes()

    def read_pickle(self) -> Any:
        """Unpickle at the current position from a small copied window of the map.

        The C unpickler reading a Python file object calls its `read` for every few bytes;
        from an in-memory window it runs at C speed. A window that ends inside the pickle
        cannot produce a value (a pickle ends with its STOP opcode), so it is widened.
        """
        reader = self.file
        start, size = reader._pos, reader._size
        window = 4096
        while True:
            end = min(size, start + window)
            chunk = io.BytesIO(reader._view[start:end])
            try:
                value = pickle.load(chunk)
            except (EOFError, pickle.UnpicklingError):
                if end >= size:
                    raise
                window *= 8
                continue
            reader._pos = start + chunk.tell()
            return value


# Every segment map a reader has opened in this process (forgotten when the map goes away).
_MAPS: weakref.WeakSet[mmap.mmap] = weakref.WeakSet()
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def mapped_resident_bytes() -> int | None:
    """Resident file-backed and shared pages of this process (Linux), or None if unknown."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[2]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class _ReadBudget:
    """Checks the mapped pages during long reads too: every `CHECK_READS` reads from maps.

    `trim_maps` after each search keeps a process within its budget between searches; this
    keeps one long search ("more like this" over a long report, a question's feedback) from
    mapping hundreds of megabytes before it ends. The budget is the process's: the smallest
    one any `SearchIndex` in it has asked for.
    """

    # A read of a few bytes (a term's entry, a block header) maps a whole run of pages, so
    # the number of reads tells the growth better than their bytes; a check costs ~20 us.
    CHECK_READS = 500

    def __init__(self) -> None:
        self.budget: int | None = None
        self._reads = 0

    def limit(self, budget_bytes: int | None) -> None:
        if budget_bytes and budget_bytes > 0 and (self.budget is None or budget_bytes < self.budget):
            self.budget = budget_bytes

    def count(self, reads: int = 1) -> None:
        self._reads += reads
        if self._reads >= self.CHECK_READS:
            self._reads = 0
            trim_maps(self.budget)


_BUDGET = _ReadBudget()


def count_read(reads: int = 1) -> None:
    """Count reads that went straight to a segment's buffer (not through `get`): as many as
    the file object would have made for the same bytes, so the mapped pages are checked as
    often as before."""
    _BUDGET.count(reads)


def limit_mapped(budget_bytes: int | None) -> None:
    """Ask for at most `budget_bytes` of mapped index pages in this process (None: no bound)."""
    _BUDGET.limit(budget_bytes)


def trim_maps(budget_bytes: int | None) -> bool:
    """Unmap the resident pages of the segment maps when they exceed `budget_bytes`.

    Pages a search touches in a memory-mapped segment count towards the process's resident
    size until the kernel reclaims them. `MADV_DONTNEED` on a read-only file mapping only
    drops this process's references: the bytes stay in the page cache (shared with the other
    workers) and the next read maps them again without disk I/O. So a serving process's
    resident size stays bounded whatever the size of the index. Returns True if it trimmed.
    """
    if not budget_bytes or budget_bytes <= 0 or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    resident = mapped_resident_bytes()
    if resident is None or resident <= budget_bytes:
        return False
    for mapped in list(_MAPS):
        try:
            mapped.madvise(mmap.MADV_DONTNEED)
        except (ValueError, OSError):  # closed, or the platform refuses: nothing to give back
            continue
    return True


# Segments open their compound file through `whoosh.filedb.compound`, which looks the class
# up at call time; this is the one place the portal changes how Whoosh reads its files.
_compound.BufferFile = MappedSubfile


def read_in_place(enabled: bool) -> None:
    """Read segments in place (the default), or with Whoosh's copying reads (benchmarks)."""
    _compound.BufferFile = MappedSubfile if enabled else BufferFile


def reads_in_place() -> bool:
    """True when segments are read through `MappedSubfile` (nothing has put Whoosh's back)."""
    return _compound.BufferFile is MappedSubfile


class Layout:
    """The index directory: `CURRENT` names the live `gen-NNNNNN` subdirectory."""

    def __init__(self, directory: Path) -> None:
        self.root = Path(directory)

    def current_name(self) -> str | None:
        try:
            name = (self.root / POINTER).read_text(encoding="ascii").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexUnavailable(f"cannot read the index pointer: {exc}") from exc
        return name if _GEN_RE.match(name) else None

    def path(self, name: str) -> Path:
        return self.root / name

    def generations(self) -> list[str]:
        try:
            names = [p.name for p in self.root.iterdir() if p.is_dir() and _GEN_RE.match(p.name)]
        except FileNotFoundError:
            return []
        return sorted(names, key=lambda n: int(n[4:]))

    def next_name(self) -> str:
        existing = self.generations()
        n = int(existing[-1][4:]) + 1 if existing else 1
        return f"gen-{n:06d}"

    def swap(self, name: str) -> None:
        """Point `CURRENT` at `name` atomically (write a temp file, fsync, rename)."""
        tmp = self.root / f"{POINTER}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / POINTER)
        try:
            dfd = os.open(self.root, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)

    def remove_old(self, keep: set[str]) -> None:
        """Delete generations not in `keep` (a reader may still use the previous one)."""
        for name in self.generations():
            if name not in keep:
                shutil.rmtree(self.path(name), ignore_errors=True)

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        """Hold a named file lock in the index directory (retrying until `timeout`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        lk = FileStorage(str(self.root)).lock(name)
        deadline = time.monotonic() + timeout
        delay = 0.01
        while not lk.acquire(blocking=False):
            if time.monotonic() > deadline:
                raise IndexBusy(f"index lock {name!r} is held by another process")
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            lk.release()


def open_with_retry(path: Path, schema: Any) -> Any:
    """Open a Whoosh index, retrying the transient FileNotFoundError seen during commits."""
    delay = 0.005
    problem = ""
    for _ in range(OPEN_ATTEMPTS):
        transient = False
        # Whoosh leaves the TOC file open when it fails to parse it; the handle is closed when
        # the exception is released, inside this block, so its ResourceWarning stays quiet.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                return windex.open_dir(str(path), schema=schema)
            except (FileNotFoundError, windex.EmptyIndexError) as exc:
                transient, problem = True, str(exc)
            except READ_ERRORS + (ValueError, TypeError, struct.error, zlib.error, pickle.UnpicklingError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            gc.collect()
        if not transient:
            raise IndexUnavailable(f"cannot open the search index: {problem}")
        time.sleep(delay)
        delay *= 2
    raise IndexUnavailable(f"cannot open the search index: {problem}")


@contextmanager
def writer(ix: Any, timeout: float, writer_class: Any = None, **kwargs: Any) -> Iterator[Any]:
    """A Whoosh writer obtained with backoff; commits on success, cancels on any exception.
    `writer_class`: a `SegmentWriter` subclass to use instead of the index's own writer."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            make = writer_class or (lambda ix, **kw: ix.writer(**kw))
            w = make(ix, timeout=0.0, **kwargs)
            break
        except LockError:
            if time.monotonic() > deadline:
                raise IndexBusy("the index writer lock stayed busy") from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
    try:
        yield w
    except BaseException:
        w.cancel()
        raise
    else:
        w.commit()
