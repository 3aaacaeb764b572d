"""Export the whole portal to a self-describing directory, and restore one into an empty home.

An export holds everything that is a source of truth: every catalogue table (publications,
people, files, page texts, versions, slugs, users with their password hashes, audit events,
the upload queue, usage counts) as JSON lines, one file per table, and every stored file
under the same `files/ab/cd/<sha256>` layout as the store. `manifest.json` says what the
directory is (format name and version, the catalogue's schema revision, row and file
counts); `SHA256SUMS` lists the SHA-256 of every other file, in the format `sha256sum -c`
reads. The search index and cover thumbnails are derived and are rebuilt on restore.

The tables are read in one read transaction, so the export is one consistent state even
while the portal is serving and ingesting; stored files never change, so copying them after
the read is safe. The export is written under a temporary name beside DIR and renamed into
place only when complete.

Restore checks the whole export before it writes anything, then copies files (verifying each
SHA-256 again), inserts every row in one transaction and rebuilds the index. On any failure
it removes what it wrote, leaving the data home as empty as it found it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Date, DateTime, Table, func, insert, select, text
from sqlalchemy.engine import Connection

from publications import db
from publications.catalogue import Catalogue
from publications.errors import PortalError
from publications.filestore import CHUNK
from publications.models import Base
from publications.settings import Settings

# Every table lives in Base.metadata once its module is imported.
from publications import uploads as _uploads  # noqa: F401
from publications import usage as _usage  # noqa: F401
from publications import users as _users  # noqa: F401

FORMAT = "policy-portal-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
TABLES_DIR = "tables"
FILES_DIR = "files"


class BackupError(PortalError):
    """An export could not be written or an export cannot be restored; the message says why."""


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


ProgressFactory = Callable[[str, int | None, str], Progress]


class _Quiet:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(_desc: str, _total: int | None, _unit: str) -> Progress:
    return _Quiet()


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    rows: dict[str, int]
    files: int
    bytes: int


@dataclass(frozen=True)
class RestoreSummary:
    rows: dict[str, int]
    files: int
    publications: int


# --- values <-> JSON ---------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _decoder(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turns one JSON row back into column values (dates and times from ISO text)."""
    converters: dict[str, Callable[[str], Any]] = {}
    for column in table.columns:
        if isinstance(column.type, DateTime):
            converters[column.name] = dt.datetime.fromisoformat
        elif isinstance(column.type, Date):
            converters[column.name] = dt.date.fromisoformat
    names = {c.name for c in table.columns}

    def decode(row: dict[str, Any]) -> dict[str, Any]:
        unknown = set(row) - names
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(sorted(unknown))}")
        out = {}
        for name, value in row.items():
            conv = converters.get(name)
            out[name] = conv(value) if conv is not None and value is not None else value
        return out

    return decode


def _tables() -> list[Table]:
    """Every catalogue table, parents before children (the order rows must be inserted in)."""
    return list(Base.metadata.sorted_tables)


# --- export ------------------------------------------------------------------------------


def export(
    catalogue: Catalogue, directory: Path, progress: ProgressFactory = _no_progress
) -> ExportSummary:
    """Write a complete export of `catalogue` (and its stored files) to `directory`.

    `directory` must not exist or be empty. Raises BackupError when it is not, when a stored
    file is missing or no longer matches its SHA-256, or when writing fails (disk full...);
    nothing is left behind at `directory` in that case.
    """
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} already exists and is not an empty directory")
    parent = directory.resolve().parent
    if not parent.is_dir():
        raise BackupError(f"the folder {parent} does not exist")
    staging = parent / f".{directory.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        summary = _write_export(catalogue, staging, progress)
        if directory.exists():
            directory.rmdir()
        os.replace(staging, directory)
    except BackupError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BackupError(f"the export could not be written: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(directory, summary.rows, summary.files, summary.bytes)


def _write_export(catalogue: Catalogue, out: Path, progress: ProgressFactory) -> ExportSummary:
    (out / TABLES_DIR).mkdir(parents=True)
    sums: dict[str, str] = {}
    rows: dict[str, int] = {}
    catalogued: set[str] = set()
    queued: set[str] = set()
    with _snapshot(catalogue) as conn:
        revision = db.current_revision(conn)
        tables = _tables()
        bar = progress("reading the catalogue", len(tables), "table")
        try:
            for table in tables:
                rel = f"{TABLES_DIR}/{table.name}.jsonl"
                sums[rel], rows[table.name] = _dump_table(conn, table, out / rel)
                if table.name == "files":
                    catalogued = set(conn.scalars(select(table.c.sha256)))
                elif table.name == "uploads":
                    # An upload waiting to be read owns a stored file without a file row
                    # (a refused or duplicate upload has no file of its own in the store).
                    queued = {h for h in conn.scalars(select(table.c.sha256)) if h}
                bar.update(1)
        finally:
            bar.close()
    store = catalogue.files
    wanted = sorted(catalogued | {h for h in queued if store.exists(h)})
    total = 0
    bar = progress("copying files", len(wanted), "file")
    try:
        for sha in wanted:
            src = store.path_for(sha)
            rel = f"{FILES_DIR}/{sha[:2]}/{sha[2:4]}/{sha}"
            if not src.is_file():
                raise BackupError(f"stored file {sha} is in the catalogue but missing from "
                                  "the store (run `portal check`)")
            got, size = _copy_hashing(src, out / rel)
            if got != sha:
                raise BackupError(f"stored file {sha} no longer matches its SHA-256 "
                                  "(run `portal check --verify-hashes`)")
            sums[rel] = sha
            total += size
            bar.update(1)
    finally:
        bar.close()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "schema_revision": revision,
        "tables": {name: {"file": f"{TABLES_DIR}/{name}.jsonl", "rows": n}
                   for name, n in rows.items()},
        "files": {"count": len(wanted), "bytes": total},
        "contains": "catalogue tables incl. staff accounts (password hashes) and the "
                    "stored files; the search index and covers are rebuilt on restore",
    }
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    sums[MANIFEST] = _write_durably(out / MANIFEST, data)
    listing = "".join(f"{h}  {rel}\n" for rel, h in sorted(sums.items()))
    _write_durably(out / CHECKSUMS, listing.encode())
    return ExportSummary(out, rows, len(wanted), total)


def _snapshot(catalogue: Catalogue) -> AbstractContextManager[Connection]:
    """One read transaction over the whole catalogue (every SELECT sees the same state)."""
    engine = catalogue.read_engine

    class _Txn:
        def __enter__(self) -> Connection:
            conn = engine.connect()
            if engine.dialect.name != "sqlite":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            self.conn = conn
            self.txn = conn.begin()
            return conn

        def __exit__(self, *exc: object) -> None:
            try:
                self.txn.rollback()
            finally:
                self.conn.close()

    return _Txn()


def _dump_table(conn: Connection, table: Table, path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    n = 0
    order = list(table.primary_key.columns) or list(table.columns)
    with open(path, "wb") as f:
        result = conn.execution_options(yield_per=500).execute(select(table).order_by(*order))
        for row in result.mappings():
            line = (json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False,
                               sort_keys=True) + "\n").encode()
            digest.update(line)
            f.write(line)
            n += 1
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest(), n


def _copy_hashing(src: Path, dst: Path) -> tuple[str, int]:
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest(), size


def _write_durably(path: Path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- checking an export -----------------------------------------------------------------


@dataclass(frozen=True)
class CheckedExport:
    directory: Path
    manifest: dict[str, Any]
    checksums: dict[str, str]

    @property
    def file_hashes(self) -> list[str]:
        prefix = FILES_DIR + "/"
        return sorted(h for rel, h in self.checksums.items() if rel.startswith(prefix))


def check_export(directory: Path, progress: ProgressFactory = _no_progress) -> CheckedExport:
    """Read an export's manifest and checksums and verify every byte; raises BackupError
    with the first reason the export cannot be trusted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a directory")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{directory} is not a portal export: {MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{MANIFEST} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{directory} is not a portal export ({MANIFEST} names another format)")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BackupError(f"the export has format version {version!r}; this portal reads "
                          f"version {FORMAT_VERSION} only")
    checksums = _read_checksums(directory)
    if MANIFEST not in checksums:
        raise BackupError(f"{CHECKSUMS} does not list {MANIFEST}")
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        raise BackupError(f"{MANIFEST} lists no tables")
    for name, info in tables.items():
        rel = info.get("file") if isinstance(info, dict) else None
        if not rel or rel not in checksums:
            raise BackupError(f"table {name}: its file is not listed in {CHECKSUMS}")
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    present.discard(CHECKSUMS)
    missing = sorted(set(checksums) - present)
    if missing:
        raise BackupError(f"{len(missing)} file(s) listed in {CHECKSUMS} are missing, "
                          f"first {missing[0]}")
    extra = sorted(present - set(checksums))
    if extra:
        raise BackupError(f"{len(extra)} file(s) are not listed in {CHECKSUMS}, first "
                          f"{extra[0]}")
    files = manifest.get("files", {})
    n_files = sum(1 for rel in checksums if rel.startswith(FILES_DIR + "/"))
    if isinstance(files, dict) and files.get("count") not in (None, n_files):
        raise BackupError(f"{MANIFEST} says {files.get('count')} stored files, the export "
                          f"holds {n_files}")
    bar = progress("verifying the export", len(checksums), "file")
    try:
        for rel, expected in sorted(checksums.items()):
            if rel.startswith(FILES_DIR + "/") and Path(rel).name != expected:
                raise BackupError(f"{rel}: the checksum does not match the file's name")
            if _sha256_file(directory / rel) != expected:
                raise BackupError(f"{rel} is damaged: its SHA-256 differs from {CHECKSUMS}")
            bar.update(1)
    finally:
        bar.close()
    return CheckedExport(directory, manifest, checksums)


def _read_checksums(directory: Path) -> dict[str, str]:
    path = directory / CHECKSUMS
    if not path.is_file():
        raise BackupError(f"{CHECKSUMS} is missing from {directory}")
    out: dict[str, str] = {}
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"{CHECKSUMS} cannot be read: {exc}") from exc
    for n, line in enumerate(lines, start=1):
        digest, sep, rel = line.partition("  ")
        if (not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)
                or not rel or rel.startswith("/") or ".." in Path(rel).parts):
            raise BackupError(f"{CHECKSUMS} line {n} is not '<sha256>  <path>'")
        out[rel] = digest
    return out


# --- restore -----------------------------------------------------------------------------


def restore(
    settings: Settings,
    directory: Path,
    progress: ProgressFactory = _no_progress,
    rebuild_index: Callable[[Catalogue], int] | None = None,
) -> RestoreSummary:
    """Recreate a portal in the empty data home of `settings` from an export.

    Raises BackupError (and writes nothing, or removes what it wrote) when the data home is
    not empty, the export is damaged or from another schema revision, or writing fails.
    `rebuild_index(catalogue)` builds the search index once the catalogue is in place.
    """
    home = settings.home
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise BackupError(f"the data home {home} is not empty; restore only into an empty one")
    checked = check_export(directory, progress)
    expected_revision = checked.manifest.get("schema_revision")
    if expected_revision != db.HEAD_REVISION:
        raise BackupError(f"the export's catalogue schema is revision {expected_revision!r}, "
                          f"this portal's is {db.HEAD_REVISION!r}; restore it with the portal "
                          "version that made it")
    created_home = not home.exists()
    catalogue: Catalogue | None = None
    rows: dict[str, int] | None = None  # set once the restored rows are committed
    try:
        catalogue = Catalogue(settings)
        _require_empty_catalogue(catalogue)  # refuse early, before copying any file
        copied = _copy_files_in(catalogue, checked, progress)
        rows = _insert_rows(catalogue, checked, progress)  # checks again, under the lock
        publications = rebuild_index(catalogue) if rebuild_index is not None else 0
    except BaseException as exc:
        if catalogue is not None:
            # Only rows this restore committed are removed, and only while the catalogue
            # holds nothing else: never empty a catalogue (PostgreSQL, say) others write to.
            if rows is not None:
                _undo_rows(catalogue, rows)
            catalogue.close()
            catalogue = None
        _empty_home(home, remove=created_home)
        if isinstance(exc, OSError):
            raise BackupError(f"the restore could not be written: {exc.strerror or exc}; "
                              "nothing was kept") from exc
        raise
    finally:
        if catalogue is not None:
            catalogue.close()
    return RestoreSummary(rows, copied, publications)


def _require_empty_catalogue(catalogue: Catalogue) -> None:
    """Refuses a catalogue database with rows in it (PostgreSQL lives outside the home)."""
    with catalogue.reading() as session:
        _refuse_rows(session.connection())


def _refuse_rows(conn: Connection) -> None:
    for table in _tables():
        if conn.scalar(select(func.count()).select_from(table)):
            raise BackupError(f"the catalogue already holds {table.name}; restore only "
                              "into an empty one")


def _copy_files_in(catalogue: Catalogue, checked: CheckedExport,
                   progress: ProgressFactory) -> int:
    store = catalogue.files
    hashes = checked.file_hashes
    bar = progress("copying files", len(hashes), "file")
    try:
        for sha in hashes:
            src = checked.directory / FILES_DIR / sha[:2] / sha[2:4] / sha
            store.tmp.mkdir(parents=True, exist_ok=True)
            temp = store.tmp / f"restore-{os.getpid()}-{sha[:16]}.part"
            got, _size = _copy_hashing(src, temp)
            if got != sha:
                temp.unlink(missing_ok=True)
                raise BackupError(f"{FILES_DIR}/{sha} changed while it was being restored")
            store.put(temp, sha)
            bar.update(1)
    finally:
        bar.close()
    return len(hashes)


def _json_rows(path: Path, rel: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BackupError(f"{rel} line {n} is not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise BackupError(f"{rel} line {n} is not a JSON object")
            yield row


def _insert_rows(catalogue: Catalogue, checked: CheckedExport,
                 progress: ProgressFactory) -> dict[str, int]:
    tables_info = checked.manifest["tables"]
    known = {t.name: t for t in _tables()}
    unknown = sorted(set(tables_info) - set(known))
    if unknown:
        raise BackupError(f"the export has table(s) this portal does not know: "
                          f"{', '.join(unknown)}")
    counts: dict[str, int] = {}
    total = sum(int(info.get("rows", 0)) for info in tables_info.values())
    bar = progress("restoring records", total, "row")
    try:
        with catalogue.engine.begin() as conn:
            # A writing transaction holds the writer lock (PostgreSQL's advisory lock,
            # SQLite's BEGIN IMMEDIATE): look again, now that no other node or restore can
            # write until this commits, in case one wrote since the first look.
            _refuse_rows(conn)
            for table in _tables():
                info = tables_info.get(table.name)
                if info is None:
                    counts[table.name] = 0
                    continue
                rel = info["file"]
                decode = _decoder(table)
                batch: list[dict[str, Any]] = []
                n = 0
                for raw in _json_rows(checked.directory / rel, rel):
                    try:
                        batch.append(decode(raw))
                    except (ValueError, TypeError) as exc:
                        raise BackupError(f"{rel} row {n + 1}: {exc}") from exc
                    n += 1
                    if len(batch) >= 500:
                        conn.execute(insert(table), batch)
                        bar.update(len(batch))
                        batch = []
                if batch:
                    conn.execute(insert(table), batch)
                    bar.update(len(batch))
                if n != int(info.get("rows", -1)):
                    raise BackupError(f"{rel} holds {n} rows, {MANIFEST} says {info.get('rows')}")
                counts[table.name] = n
            _advance_sequences(conn)
    except BackupError:
        raise
    except OSError:
        raise
    except Exception as exc:  # a constraint the rows break: the export is not self-consistent
        raise BackupError(f"the export's records could not be restored: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    finally:
        bar.close()
    return counts


def _advance_sequences(conn: Connection) -> None:
    # PostgreSQL only: rows were inserted with their ids, so each id sequence must be moved
    # past the largest one or the next insert would collide. SQLite needs nothing.
    if conn.dialect.name != "postgresql":
        return
    for table in _tables():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].autoincrement in (True, "auto") and pk[0].type.python_type is int:
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"
            ))


def _undo_rows(catalogue: Catalogue, restored: dict[str, int]) -> None:
    """Empty every table again (for a catalogue outside the data home, e.g. PostgreSQL),
    unless another writer has added rows since the restore committed: those are kept."""
    try:
        with catalogue.engine.begin() as conn:
            for table in _tables():
                held = conn.scalar(select(func.count()).select_from(table))
                if held != restored.get(table.name, 0):
                    return
            for table in reversed(_tables()):
                conn.execute(table.delete())
    except Exception:  # the home is removed next; a failure here must not hide the cause
        pass


def _empty_home(home: Path, remove: bool) -> None:
    if not home.exists():
        return
    if remove:
        shutil.rmtree(home, ignore_errors=True)
        return
    for child in home.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
