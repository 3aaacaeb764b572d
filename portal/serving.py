"""`portal serve`: waitress in one process, or in several worker processes on one socket.

Python runs one thread at a time per process, so a single waitress process uses one CPU core
however many threads it has. With `workers` > 1 the parent binds the listening socket, then
forks that many workers, each with its own app (catalogue connections, index searcher, page
cache) accepting connections on the shared socket. Exactly one worker drains the index
journal (the index has a single writer); every worker writes its own readers' counts. The
parent only watches: a worker that dies is replaced, and SIGTERM or Ctrl+C stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import Any

from publications.settings import Settings


def serve(settings: Settings, host: str, port: int, threads: int, workers: int = 1) -> None:
    """Serve until interrupted. Raises OSError when the address cannot be bound."""
    if workers <= 1:
        _run_worker(settings, threads, apply_journal=True, host=host, port=port)
        return
    listener = socket.create_server((host, port), backlog=1024)
    children: dict[int, int] = {}  # pid -> worker number
    started: dict[int, float] = {}  # worker number -> when it last started
    quick_deaths = 0
    stopping = failed = False

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                _run_worker(settings, threads, apply_journal=number == 0, sock=listener)
            except BaseException as exc:  # noqa: BLE001 - never return into the parent's code
                print(f"portal serve: worker {number} stopped: {exc!r}", file=sys.stderr)
                code = 1
            os._exit(code)
        children[pid] = number
        started[number] = time.monotonic()

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(workers):
        start(number)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        number = children.pop(pid, None)
        if number is None or stopping:
            continue
        # A worker that dies at once, again and again, cannot start at all (a broken data
        # home, say): stop rather than restart it forever.
        quick_deaths = quick_deaths + 1 if time.monotonic() - started[number] < 5 else 0
        if quick_deaths >= 5:
            print("portal serve: workers keep exiting as they start; stopping",
                  file=sys.stderr)
            stop(signal.SIGTERM, None)
            failed = True
            continue
        print(f"portal serve: worker {number} (pid {pid}) exited; starting another",
              file=sys.stderr)
        time.sleep(0.5)
        start(number)
    listener.close()
    if failed:
        raise SystemExit(1)


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def one_malloc_arena() -> bool:
    """Have every thread of this process allocate from one glibc malloc arena; True if set.

    By default glibc gives each thread that allocates concurrently an arena of its own, and a
    search allocates arrays as long as the index has documents (25 MB each at 100,000
    publications). Freed in one waitress thread's arena, that memory is not reused by the
    next request, served by another thread: a serving process grew to 660 MB at 100,000
    publications where a single-threaded one stays at 300 MB. Python's GIL already lets one
    thread run at a time, so sharing one arena costs nothing measurable. Elsewhere than glibc
    this does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_ARENA_MAX, 1))
    except (OSError, AttributeError):
        return False


def _run_worker(settings: Settings, threads: int, apply_journal: bool,
                host: str | None = None, port: int | None = None,
                sock: socket.socket | None = None) -> None:
    from waitress import serve as waitress_serve

    one_malloc_arena()  # before any thread of this worker starts

    from portal.app import create_app, start_indexer

    from portal.staff.upload import MAX_FILES

    app = create_app(settings)
    start_indexer(app, apply_journal=apply_journal)
    app.extensions["staff_uploads"].kick()  # uploads left waiting by a stop or a crash
    # waitress buffers a whole request body before the app sees it: no body larger than the
    # biggest upload form (MAX_FILES files at the upload limit, plus the form) is read at all.
    options: dict[str, Any] = {
        "threads": threads, "ident": "portal",
        "max_request_body_size": settings.max_upload_bytes * MAX_FILES + (1 << 20),
    }
    if sock is not None:
        waitress_serve(app, sockets=[sock], **options)
    else:
        waitress_serve(app, host=host, port=port, **options)
