"""Reads a PDF with pypdf inside a worker process that has a time limit and a memory limit.

PDF parsing of hostile or broken files can loop or balloon, so it never runs in the process
that holds the catalogue. `ExtractionPool` keeps N workers; a worker that overruns its time is
killed and replaced, and the file is refused with a reason a person understands.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import queue
import re
import select
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from publications.errors import IngestError
from publications.records import (
    FLAG_ENCRYPTED,
    FLAG_NO_TEXT_LAYER,
    FLAG_REPAIRED,
    FLAG_UNREADABLE_PAGES,
    Extraction,
)

# Below this many characters per page on average (and no page with a paragraph's worth of
# text) a PDF is treated as having no text layer: probably scanned.
MIN_CHARS_PER_PAGE = 20
MIN_CHARS_ON_ANY_PAGE = 60
MAX_PAGE_CHARS = 200_000


@dataclass(frozen=True)
class ExtractLimits:
    timeout: float = 120.0
    memory_mb: int = 2048
    max_pages: int = 5000


def quiet_pypdf() -> None:
    """pypdf's log chatter ("incorrect startxref pointer", ...) never reaches the user."""
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    logging.getLogger("pypdf").propagate = False


def extract_pdf(path: Path, max_pages: int = 5000) -> Extraction:
    """Read per-page text, page count, document info and XMP from one PDF.

    Runs in the worker. Raises IngestError with a readable reason when the file cannot be
    used (password needed, damaged beyond repair, page tree loops, decompression bomb).
    """
    quiet_pypdf()
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    from publications import signals

    flags: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(str(path), strict=False)
        except Exception as exc:  # pypdf raises many kinds on broken files
            raise IngestError(explain(exc)) from exc
        try:
            encrypted = reader.is_encrypted
        except Exception as exc:
            raise IngestError(explain(exc)) from exc
        if encrypted:
            flags.append(FLAG_ENCRYPTED)
            try:
                ok = reader.decrypt("")
            except Exception as exc:
                raise IngestError(explain(exc)) from exc
            if not ok:
                raise IngestError(
                    "the PDF is password-protected: a password is needed to open it "
                    "(remove the password and upload it again)"
                )
        try:
            page_count = len(reader.pages)
        except FileNotDecryptedError as exc:
            raise IngestError(
                "the PDF is password-protected: a password is needed to open it"
            ) from exc
        except Exception as exc:
            raise IngestError(explain(exc)) from exc
        if page_count == 0:
            raise IngestError("the PDF has no pages (it may be damaged or truncated)")

        texts: list[str] = []
        unreadable: list[int] = []
        collector: signals.RunCollector | None = None
        for number in range(1, min(page_count, max_pages) + 1):
            try:
                page = reader.pages[number - 1]
                if number == 1:
                    # page one's text runs with their font sizes come from the same pass
                    collector = signals.RunCollector(page)
                    text = page.extract_text(visitor_text=collector.visit) or ""
                else:
                    text = page.extract_text() or ""
            except MemoryError:
                raise
            except (PdfReadError, Exception) as exc:
                if _is_bomb(exc):
                    raise IngestError(explain(exc)) from exc
                unreadable.append(number)
                text = ""
            texts.append(_clean_text(text)[:MAX_PAGE_CHARS])

        info = signals.clean_info(reader)
        xmp = signals.read_xmp(reader)
        runs = collector.runs() if collector is not None else ()
        try:
            if reader.xref_index == 0 and getattr(reader, "_xref_repaired", False):
                flags.append(FLAG_REPAIRED)
        except Exception:
            pass

    if unreadable:
        flags.append(FLAG_UNREADABLE_PAGES)
    if len(unreadable) == len(texts):
        raise IngestError("no page of the PDF could be read (the file is damaged)")
    total = sum(len(t.strip()) for t in texts)
    longest = max((len(t.strip()) for t in texts), default=0)
    if total < MIN_CHARS_PER_PAGE * len(texts) and longest < MIN_CHARS_ON_ANY_PAGE:
        flags.append(FLAG_NO_TEXT_LAYER)
    return Extraction(
        page_count=page_count,
        pages=tuple(texts),
        info=info,
        xmp=xmp,
        first_page_runs=tuple(runs),
        flags=tuple(flags),
        unreadable_pages=tuple(unreadable),
    )


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f]")


def _clean_text(text: str) -> str:
    # NUL and other control characters break databases and snippets; keep newlines and tabs.
    return _CONTROL_CHARS.sub(" ", text)


def _is_bomb(exc: BaseException) -> bool:
    return type(exc).__name__ == "LimitReachedError"


def explain(exc: BaseException) -> str:
    """Turn a pypdf exception into a sentence for people."""
    name = type(exc).__name__
    message = str(exc)
    low = message.lower()
    if _is_bomb(exc):
        return (
            "part of the PDF expands to more data than allowed when decompressed "
            "(a damaged file or a decompression bomb)"
        )
    if name in ("FileNotDecryptedError", "WrongPasswordError") or "password" in low:
        return "the PDF is password-protected: a password is needed to open it"
    if "cyclic" in low or "loop" in low or isinstance(exc, RecursionError):
        return "the PDF's page tree loops back on itself, so its pages cannot be listed"
    if name == "DependencyError":
        return f"a library needed to read this PDF is missing ({message})"
    if "ended unexpectedly" in low or "unexpected end" in low or "truncated" in low:
        return "the PDF is truncated (its end is missing) and could not be repaired"
    if "eof marker" in low or "startxref" in low or "xref" in low or "trailer" in low:
        if _python_internals(low):
            return "the PDF is damaged or truncated and could not be repaired"
        return f"the PDF is damaged or truncated and could not be repaired ({_short(message)})"
    if "header" in low:
        return "the file does not have a valid PDF header"
    if isinstance(exc, MemoryError):
        return "reading the PDF needed more memory than the limit allows"
    if isinstance(exc, AttributeError | TypeError | KeyError | IndexError) or _python_internals(
            low):
        # pypdf tripping over a structure it did not expect; its message names Python
        # internals ("'NoneType' object is not subscriptable") that mean nothing to people.
        return "the PDF is damaged: its internal structure is not what a PDF should contain"
    return f"the PDF could not be read: {_short(message) or name}"


def _python_internals(low: str) -> bool:
    """True when a (lower-cased) message is Python's, not the PDF library's own words."""
    return any(w in low for w in ("object has no attribute", "not subscriptable",
                                  "object is not", "unsupported operand", "takes no",
                                  "index out of range"))


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the worker process ---------------------------------------------------------------
# Workers are plain child processes (`python -c ...`) speaking length-prefixed pickles over
# their standard input and output, so they work the same whatever the parent's main module
# is and however the parent was started.

_HEADER = struct.Struct("!Q")
_WORKER_CODE = "from publications.extract import serve_worker; serve_worker()"


def _send(stream: BinaryIO, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError("the worker closed its pipe")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(stream: BinaryIO) -> object:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))


# Allocations between two collections of the youngest generation in an extraction worker
# (Python's default is 700). Parsing a page's content stream makes millions of short-lived
# objects, nearly all freed by reference counting; at the default the collector runs
# thousands of times a file for little, each older pass through every module's objects too.
# Bare pypdf over the corpus in one process with Python's defaults took 5-7% longer than with
# these settings (most of it the modules frozen out of the passes).
GC_THRESHOLD = 50_000


def few_collections() -> None:
    """Set the worker's garbage collector to run rarely (`GC_THRESHOLD`), with the modules
    loaded so far frozen out of its passes; the worker collects after each file instead."""
    import pypdf  # noqa: F401 - loaded before freezing, as every file needs it

    from publications import signals  # noqa: F401

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)


def serve_worker() -> None:
    """The worker's main loop: read (path, max_pages), answer ("ok", Extraction) or
    ("error", reason), until the parent closes the pipe."""
    memory_mb = int(os.environ.get("PORTAL_WORKER_MEMORY_MB", "0") or 0)
    if memory_mb:
        try:
            import resource

            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    # Keep the real stdout for answers; anything a library prints goes to stderr (discarded).
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    quiet_pypdf()
    few_collections()
    while True:
        try:
            task = _recv(requests)
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        path, max_pages = task  # type: ignore[misc]
        try:
            result: tuple[str, object] = ("ok", extract_pdf(Path(path), max_pages))
        except IngestError as exc:
            result = ("error", str(exc))
        except MemoryError:
            result = ("error", "reading the PDF needed more memory than the limit allows")
        except RecursionError:
            result = ("error", "the PDF's structure nests or loops too deeply to be read")
        except Exception as exc:  # anything else pypdf throws on a hostile file
            result = ("error", explain(exc))
        gc.collect()  # the file's reference cycles go now, not some files later
        try:
            _send(answers, result)
        except MemoryError:
            _send(answers, ("error", "reading the PDF needed more memory than the limit allows"))
        except OSError:
            return


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ, PORTAL_WORKER_MEMORY_MB=str(memory_mb))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: BinaryIO = self.process.stdin
        self.stdout: BinaryIO = self.process.stdout

    def ask(self, task: object, timeout: float) -> object:
        """Send a task and wait for the answer; TimeoutError when none comes in time."""
        _send(self.stdin, task)
        ready, _, _ = select.select([self.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        return _recv(self.stdout)

    def stop(self, kill: bool = False) -> None:
        self.ask_to_stop(kill)
        self.wait_stopped()

    def ask_to_stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                _send(self.stdin, None)
            except (OSError, ValueError):
                pass
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def wait_stopped(self) -> None:
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class ExtractionPool:
    """N extraction worker processes; `extract` may be called from N threads at once."""

    def __init__(self, jobs: int = 1, limits: ExtractLimits | None = None) -> None:
        self.limits = limits or ExtractLimits()
        self.jobs = max(1, jobs)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._ending: list[_Worker] = []  # told to stop, not yet waited for
        for _ in range(self.jobs):
            self._add_worker()

    def _add_worker(self) -> None:
        worker = _Worker(self.limits.memory_mb)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.stop(kill=True)
        self._add_worker()

    def extract(self, path: Path) -> Extraction:
        """Extract one PDF in a worker; raises IngestError with a readable reason."""
        worker = self._idle.get()
        try:
            status, payload = worker.ask((str(path), self.limits.max_pages), self.limits.timeout)  # type: ignore[misc]
        except TimeoutError:
            self._replace(worker)
            raise IngestError(
                f"reading the PDF took longer than {self.limits.timeout:g} seconds "
                "and was stopped (the file may be damaged or built to loop)"
            ) from None
        except (EOFError, OSError, pickle.UnpicklingError):
            self._replace(worker)
            raise IngestError(
                "the PDF reader stopped while reading this file (it may have needed more "
                "memory than the limit allows)"
            ) from None
        self._idle.put(worker)
        if status == "ok":
            return payload  # type: ignore[no-any-return]
        raise IngestError(str(payload))

    def stop_soon(self) -> None:
        """Tell every worker to end, without waiting for them (`close` waits)."""
        with self._lock:
            workers, self._all = self._all, []
            self._ending.extend(workers)
        for w in workers:
            w.ask_to_stop()

    def close(self) -> None:
        self.stop_soon()  # all told first, so that they end side by side
        with self._lock:
            workers, self._ending = self._ending, []
        for w in workers:
            w.wait_stopped()

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Extractor = Callable[[Path], Extraction]
