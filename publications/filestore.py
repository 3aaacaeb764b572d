"""The content-addressed file store: `files/ab/cd/<sha256>`, written atomically, never changed.

Several portal nodes may share one store directory (a network file system). Every write goes
to a temporary file whose name carries the writer's host and process id (so two nodes never
pick the same name, and each node only ever removes its own dead writers' leftovers), is
fsynced, and is renamed into place. Two nodes storing the same bytes at once both rename
identical content onto the same name: whichever rename lands last wins, and either way the
file under that name is complete.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class FileTooLarge(Exception):
    """The incoming bytes passed the size cap while streaming."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit // (1024 * 1024)} MB")
        self.limit = limit


class FileStore:
    """Stores files by their SHA-256. The same bytes twice are one file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def path_for(self, sha256: str) -> Path:
        # Only a SHA-256 names a file, so no value can make a path outside the store.
        if len(sha256) != 64 or not all(ch in "0123456789abcdef" for ch in sha256):
            raise ValueError(f"not a SHA-256: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def receive(self, stream: BinaryIO, limit: int) -> tuple[Path, str, int]:
        """Stream bytes into a temporary file under the store, hashing as they arrive.

        Returns (temporary path, sha256, size). Raises FileTooLarge once `limit` bytes are
        passed (the partial file is removed). The caller must `put` or `discard` the path.
        """
        self.tmp.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix=_temp_prefix("in"), suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise FileTooLarge(limit)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name), digest.hexdigest(), size

    def put(self, temp_path: Path, sha256: str) -> Path:
        """Move a received temporary file into place, durably. Idempotent for equal bytes."""
        target = self.path_for(sha256)
        if target.is_file():
            temp_path.unlink(missing_ok=True)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(temp_path, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(temp_path, 0o444)
        os.replace(temp_path, target)
        _fsync_dir(target.parent)
        return target

    def put_copy(self, source: Path, sha256: str) -> Path:
        """Copy a file already on disk (whose hash is known) into the store atomically."""
        target = self.path_for(sha256)
        if target.is_file():
            return target
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix=_temp_prefix("cp"), suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            return self.put(Path(name), sha256)
        except BaseException:
            # A failed write (disk full at the fsync, say) leaves no temporary behind.
            Path(name).unlink(missing_ok=True)
            raise

    @staticmethod
    def discard(temp_path: Path) -> None:
        temp_path.unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")

    def all_hashes(self) -> Iterator[str]:
        """Every stored file's hash (files in the temporary area excluded)."""
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if first.name == "tmp" or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                for f in sorted(second.iterdir()):
                    if f.is_file():
                        yield f.name

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name."""
        digest = hashlib.sha256()
        with self.open(sha256) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def stale_temporaries(self, older_than: float = 6 * 3600.0) -> list[Path]:
        """Temporary files left by an interrupted write: their writer process is gone.

        Temporary names carry the writer's host and process id. A file written on this host
        whose process no longer exists is stale; so is any file older than `older_than`
        seconds (in case the id was reused). A file from another host sharing the store is
        judged by age alone: its process cannot be seen from here. (Names without a host,
        from before hosts were recorded, count as this host's.)
        """
        if not self.tmp.is_dir():
            return []
        cutoff = time.time() - older_than
        here = _host_label()
        stale = []
        for p in self.tmp.iterdir():
            pid, host = _writer_of(p.name)
            try:
                old = p.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if old or (host in (here, None) and not _process_alive(pid)):
                stale.append(p)
        return stale

    def remove_stale_temporaries(self) -> int:
        removed = 0
        for p in self.stale_temporaries():
            p.unlink(missing_ok=True)
            removed += 1
        return removed


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return digest.hexdigest(), size


def _host_label() -> str:
    """This machine's name, reduced to characters that cannot confuse a temporary name."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"


def _temp_prefix(kind: str) -> str:
    return f"{kind}-{os.getpid()}-{_host_label()}-"


def _writer_of(name: str) -> tuple[int, str | None]:
    """(process id, host label) from a temporary file's name; host None when not recorded."""
    parts = name.split("-", 3)
    try:
        pid = int(parts[1])
    except (IndexError, ValueError):
        return 0, None
    return pid, (parts[2] if len(parts) == 4 else None)


def process_alive(pid: int) -> bool:
    """True while a process with this id runs on this machine."""
    return _process_alive(pid)


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
