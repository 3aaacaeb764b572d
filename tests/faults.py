"""Runs the real `portal` command with a write fault injected, for the write-fault tests.

`PORTAL_TEST_FAULT` names the fault (read here, in the test harness, never by the portal):

- `enospc-fsync:N` — from the Nth call on, `os.fsync` fails with "No space left on device",
  as a full disk reports it when data reaches the device (the first N-1 calls succeed).
- `fsize:BYTES` — the process may not grow any file past BYTES (RLIMIT_FSIZE): a real write
  that would pass it fails with "File too large", in the file store and SQLite alike.

Usage: `python -c "from tests.faults import main; main()" ingest ...` with the environment
of `tests.cli.portal_env`.
"""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

from tests.cli import ROOT, Run, portal_env

VARIABLE = "PORTAL_TEST_FAULT"


def install(spec: str) -> None:
    kind, _, arg = spec.partition(":")
    if kind == "enospc-fsync":
        real_fsync = os.fsync
        calls = 0
        nth = int(arg)

        def failing_fsync(fd: int) -> None:
            nonlocal calls
            calls += 1
            if calls >= nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        os.fsync = failing_fsync
    elif kind == "fsize":
        limit = int(arg)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    else:
        raise SystemExit(f"unknown fault {spec!r}")


def main() -> None:
    spec = os.environ.pop(VARIABLE, "")
    if spec:
        install(spec)
    from portal.cli import main as portal_main

    sys.argv = ["portal", *sys.argv[1:]]
    portal_main()


def portal_with_fault(home: Path, fault: str, *args: str, timeout: float = 300) -> Run:
    """Like `tests.cli.portal`, with `fault` injected into the portal process only (its
    extraction workers are separate processes and read, they do not write)."""
    env = portal_env(home)
    env[VARIABLE] = fault
    proc = subprocess.run(
        [sys.executable, "-c", "from tests.faults import main; main()", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
