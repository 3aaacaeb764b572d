"""The file store shared by several processes (and nodes): atomic, complete, no lost files."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from publications.filestore import FileStore

ROOT = Path(__file__).resolve().parents[1]

# Each writer process stores the same bytes many times, by both routes (a streamed upload and
# a copy of a file on disk), racing the others to rename onto the same name.
WRITER = textwrap.dedent(
    """
    import io, sys
    from pathlib import Path
    from publications.filestore import FileStore
    store = FileStore(Path(sys.argv[1]))
    data = Path(sys.argv[2]).read_bytes()
    sha = sys.argv[3]
    for n in range(int(sys.argv[4])):
        if n % 2:
            store.put_copy(Path(sys.argv[2]), sha)
        else:
            tmp, got, size = store.receive(io.BytesIO(data), limit=10**8)
            assert got == sha and size == len(data)
            store.put(tmp, sha)
        assert store.path_for(sha).read_bytes() == data
    """
)


def test_concurrent_writers_of_the_same_bytes_leave_one_complete_file(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, so a torn write would show
    sha = hashlib.sha256(data).hexdigest()
    source = tmp_path / "report.pdf"
    source.write_bytes(data)
    files = tmp_path / "shared-files"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(files), str(source), sha, "8"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    store = FileStore(files)
    assert list(store.all_hashes()) == [sha]
    assert store.verify(sha)
    assert store.path_for(sha).read_bytes() == data
    assert list(store.tmp.iterdir()) == []  # every temporary was renamed or removed


def test_temporary_names_carry_host_and_process(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    tmp, _, _ = store.receive(io.BytesIO(b"%PDF-1.4 x"), limit=1000)
    try:
        kind, pid, host, _rest = tmp.name.split("-", 3)
        assert (kind, int(pid)) == ("in", os.getpid())
        assert host and "-" not in host
    finally:
        store.discard(tmp)


def test_another_hosts_temporary_is_left_alone_until_it_is_old(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    store.tmp.mkdir(parents=True)
    dead_pid = _dead_pid()
    ours = store.tmp / f"in-{dead_pid}-{_this_host(store)}-abc.part"
    theirs = store.tmp / f"in-{dead_pid}-another.node-abc.part"
    old_theirs = store.tmp / f"in-{dead_pid}-another.node-old.part"
    for p in (ours, theirs, old_theirs):
        p.write_bytes(b"partial")
    week_ago = os.path.getmtime(old_theirs) - 7 * 86400
    os.utime(old_theirs, (week_ago, week_ago))

    # A process id on another machine says nothing here: that node may still be writing.
    assert sorted(p.name for p in store.stale_temporaries()) == sorted(
        [ours.name, old_theirs.name]
    )
    assert store.remove_stale_temporaries() == 2
    assert theirs.exists()


def _this_host(store: FileStore) -> str:
    tmp, _, _ = store.receive(io.BytesIO(b"x"), limit=10)
    store.discard(tmp)
    return tmp.name.split("-", 3)[2]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
