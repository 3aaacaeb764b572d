"""`portal export DIR` and `portal restore DIR`: a restored portal is the same portal, and a
damaged export is refused with its reason and leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from publications import uploads
from publications.backup import CHECKSUMS, MANIFEST
from publications.catalogue import Catalogue
from publications.settings import Settings
from tests import pdfs
from tests.cli import ROOT, Run, popen, portal, portal_env


def _on(database_url: str):  # type: ignore[no-untyped-def]
    """`portal` as `tests.cli.portal`, with the catalogue at `database_url` ('' = SQLite in
    the data home)."""
    if not database_url:
        return portal

    def run(home: Path, *args: str, stdin: str | None = None, timeout: float = 600) -> Run:
        env = {**portal_env(home), "PORTAL_DATABASE_URL": database_url}
        proc = subprocess.run([sys.executable, "-m", "portal", *args], input=stdin,
                              capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=timeout)
        for stream in (proc.stdout, proc.stderr):
            assert "Traceback" not in stream, stream
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@contextmanager
def _another_catalogue(database_url: str) -> Iterator[str]:
    """A second, empty catalogue of the same kind as `database_url`."""
    if not database_url:
        yield ""
        return
    from tests.pg import fresh_schema

    with fresh_schema() as url:
        yield url


def _make_portal(tmp_path: Path, database_url: str = "") -> Path:
    """A small portal with a bit of everything: published, draft, withdrawn, an edited
    record, a second file version, a staff account and an upload still waiting."""
    run = _on(database_url)
    home = tmp_path / "home"
    src = tmp_path / "src"
    for i, title in enumerate(["Community libraries in 2021", "Play streets in Riverside",
                               "Bus lanes and high streets"]):
        pdfs.write(src / f"{i}.pdf", pdfs.report_pdf(title, "libraries buses play", pages=3))
    assert run(home, "ingest", "--publish", str(src)).code == 0
    assert run(home, "edit", "1", "--set", "topics=Libraries;Culture",
               "--set", "organisations=Riverside Council [partner]").code == 0
    assert run(home, "withdraw", "2", "--reason", "Superseded by the 2022 study").code == 0
    newer = pdfs.write(tmp_path / "v2.pdf",
                       pdfs.report_pdf("Bus lanes and high streets", "revised edition", 2))
    assert run(home, "replace-file", "3", str(newer)).code == 0
    assert run(home, "users", "add", "ed@hub.example", "--role", "editor",
               "--password-stdin", stdin="a long password 1\n").code == 0
    cat = Catalogue(Settings(home=home, database_url=database_url))
    try:
        uploads.receive(cat, "queued", io.BytesIO(pdfs.report_pdf("Waiting upload", "x", 1)),
                        "waiting.pdf", "ed@hub.example")
    finally:
        cat.close()
    return home


def _store_hashes(home: Path) -> dict[str, str]:
    """Every file in the store: its name -> the SHA-256 of its bytes as read now."""
    out = {}
    for p in (home / "files").glob("??/??/*"):
        out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _shows(home: Path, ids: range, database_url: str = "") -> list[dict]:
    run = _on(database_url)
    return [json.loads(run(home, "show", str(i), "--json").stdout) for i in ids]


def test_a_restored_portal_has_the_same_records_files_and_a_good_index(tmp_path: Path) -> None:
    home = _make_portal(tmp_path)
    export = tmp_path / "backup"
    run = portal(home, "export", str(export))
    assert run.code == 0, run.stderr
    assert "exported 3 publications" in run.stdout
    manifest = json.loads((export / MANIFEST).read_text())
    assert manifest["format_version"] == 1 and manifest["tables"]["users"]["rows"] == 1

    restored = tmp_path / "restored"
    run = portal(restored, "restore", str(export))
    assert run.code == 0, run.stderr
    assert "restored 3 publications" in run.stdout

    assert _shows(restored, range(1, 4)) == _shows(home, range(1, 4))
    before, after = _store_hashes(home), _store_hashes(restored)
    assert after == before and len(after) == 5  # 3 originals, 1 new version, 1 waiting upload
    assert all(name == digest for name, digest in after.items())
    check = portal(restored, "check", "--verify-hashes")
    assert check.code == 0, check.stdout
    assert "(3 publications)" in check.stdout
    hits = json.loads(portal(restored, "search", "revised edition", "--json").stdout)
    assert [h["id"] for h in hits["hits"]] == [3]
    assert portal(restored, "users", "list").stdout == portal(home, "users", "list").stdout
    # the restored portal keeps working: a new ingest gets a fresh id, not a clash
    extra = pdfs.write(tmp_path / "new.pdf", pdfs.report_pdf("Allotments and food", "food", 1))
    run = portal(restored, "ingest", "--json", str(extra))
    assert run.lines[0]["status"] == "added" and run.lines[0]["id"] == 4
    assert portal(restored, "check").code == 0


def test_an_export_is_checkable_with_sha256sum_and_refuses_a_used_directory(
        tmp_path: Path) -> None:
    home = _make_portal(tmp_path)
    export = tmp_path / "backup"
    export.mkdir()
    (export / "old.txt").write_text("something else")
    run = portal(home, "export", str(export))
    assert run.code == 1 and "not an empty directory" in run.stderr
    assert sorted(p.name for p in export.iterdir()) == ["old.txt"]
    (export / "old.txt").unlink()
    assert portal(home, "export", str(export)).code == 0  # an empty directory is fine
    listed = {}
    for line in (export / CHECKSUMS).read_text().splitlines():
        digest, rel = line.split("  ", 1)
        listed[rel] = digest
    on_disk = {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    assert set(listed) == on_disk - {CHECKSUMS}
    for rel, digest in listed.items():
        assert hashlib.sha256((export / rel).read_bytes()).hexdigest() == digest
    assert not list(tmp_path.glob(".backup.partial-*"))


# --- damaged exports -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("backup")
    home = _make_portal(base)
    export = base / "export"
    assert portal(home, "export", str(export)).code == 0
    return export


def _copy(export: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "export"
    shutil.copytree(export, target)
    for p in target.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    return target


def _resum(export: Path, rel: str) -> None:
    """Make SHA256SUMS agree with a changed file (a damage the checksums cannot see)."""
    digest = hashlib.sha256((export / rel).read_bytes()).hexdigest()
    lines = []
    for line in (export / CHECKSUMS).read_text().splitlines():
        old, name = line.split("  ", 1)
        lines.append(f"{digest if name == rel else old}  {name}")
    (export / CHECKSUMS).write_text("\n".join(lines) + "\n")


def _first_file(export: Path) -> Path:
    return sorted((export / "files").glob("??/??/*"))[0]


def _missing_file(export: Path) -> None:
    _first_file(export).unlink()


def _flipped_byte(export: Path) -> None:
    path = _first_file(export)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(bytes(data))


def _truncated_table(export: Path) -> None:
    rel = "tables/publications.jsonl"
    data = (export / rel).read_bytes()
    (export / rel).write_bytes(data[: len(data) - 40])


def _truncated_table_resummed(export: Path) -> None:
    _truncated_table(export)
    _resum(export, "tables/publications.jsonl")


def _unknown_version(export: Path) -> None:
    manifest = json.loads((export / MANIFEST).read_text())
    manifest["format_version"] = 99
    (export / MANIFEST).write_text(json.dumps(manifest))
    _resum(export, MANIFEST)


def _no_checksums(export: Path) -> None:
    (export / CHECKSUMS).unlink()


def _not_an_export(export: Path) -> None:
    (export / MANIFEST).unlink()


def _stray_file(export: Path) -> None:
    (export / "files" / "notes.txt").write_text("added by hand")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_missing_file, "are missing, first files/"),
        (_flipped_byte, "is damaged: its SHA-256 differs"),
        (_truncated_table, "tables/publications.jsonl is damaged"),
        (_truncated_table_resummed, "tables/publications.jsonl line 3 is not valid JSON"),
        (_unknown_version, "format version 99"),
        (_no_checksums, "SHA256SUMS is missing"),
        (_not_an_export, "is not a portal export"),
        (_stray_file, "not listed in SHA256SUMS, first files/notes.txt"),
    ],
)
def test_a_damaged_export_is_refused_with_its_reason_and_nothing_is_kept(
        good_export: Path, tmp_path: Path, damage, reason: str) -> None:  # type: ignore[no-untyped-def]
    export = _copy(good_export, tmp_path)
    damage(export)
    home = tmp_path / "restored"
    run = portal(home, "restore", str(export))
    assert run.code == 1
    assert run.stderr.startswith("error: ") and reason in run.stderr, run.stderr
    assert not home.exists() or not any(home.iterdir())


def test_restore_refuses_a_data_home_that_is_in_use(good_export: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    pdfs.write(tmp_path / "a.pdf", pdfs.report_pdf("Already here", "x", 1))
    assert portal(home, "ingest", str(tmp_path / "a.pdf")).code == 0
    before = _store_hashes(home)
    run = portal(home, "restore", str(good_export))
    assert run.code == 1 and "is not empty" in run.stderr
    assert _store_hashes(home) == before
    assert json.loads(portal(home, "show", "1", "--json").stdout)["title"] == "Already here"


@pytest.mark.databases
def test_a_restore_that_fails_late_removes_what_it_wrote(good_export: Path, tmp_path: Path,
                                                         database_url: str) -> None:
    # The rows contradict each other (a version pointing at a file row that is not there):
    # every checksum is right, the insert fails, and the half-restored home is removed. On
    # PostgreSQL the catalogue is left empty: the good export restores into it afterwards.
    export = _copy(good_export, tmp_path)
    rel = "tables/files.jsonl"
    lines = (export / rel).read_text().splitlines()
    (export / rel).write_text("\n".join(lines[1:]) + "\n")
    _resum(export, rel)
    manifest = json.loads((export / MANIFEST).read_text())
    manifest["tables"]["files"]["rows"] -= 1
    (export / MANIFEST).write_text(json.dumps(manifest))
    _resum(export, MANIFEST)
    home = tmp_path / "restored"
    on = _on(database_url)
    run = on(home, "restore", str(export))
    assert run.code == 1 and "could not be restored" in run.stderr, run.stderr
    assert not home.exists()
    run = on(home, "restore", str(good_export))
    assert run.code == 0 and "restored 3 publications" in run.stdout, run.stderr
    assert on(home, "check").code == 0


@pytest.mark.slow
def test_an_export_taken_during_an_ingest_is_one_consistent_state(tmp_path: Path) -> None:
    home = tmp_path / "home"
    src = tmp_path / "src"
    for i in range(30):
        pdfs.write(src / f"{i:02d}.pdf",
                   pdfs.report_pdf(f"Housing survey part {i}", "housing rents", pages=4))
    assert portal(home, "check").code in (0, 1)  # creates the catalogue
    ingest = popen(home, "ingest", "--json", "--publish", str(src))
    exports = []
    try:
        for n in range(4):
            time.sleep(1.0)
            target = tmp_path / f"export{n}"
            run = portal(home, "export", str(target))
            assert run.code == 0, run.stderr
            exports.append(target)
    finally:
        out, err = ingest.communicate(timeout=600)
    assert ingest.returncode == 0, err
    counts = []
    for n, export in enumerate(exports):
        restored = tmp_path / f"restored{n}"
        run = portal(restored, "restore", str(export))
        assert run.code == 0, run.stderr
        check = portal(restored, "check", "--verify-hashes")
        assert check.code == 0, check.stdout
        counts.append(json.loads((export / MANIFEST).read_text())["tables"]["publications"]["rows"])
    assert counts == sorted(counts)


def test_restore_refuses_a_catalogue_in_use_outside_the_data_home(good_export: Path,
                                                                   tmp_path: Path) -> None:
    # PORTAL_DATABASE_URL may name a database outside the data home (PostgreSQL in
    # production; a second SQLite file here): an empty home is not enough, and the catalogue
    # already in use is left exactly as it was.
    import os
    import subprocess
    import sys

    from tests.cli import ROOT, portal_env

    db = tmp_path / "shared.sqlite"
    first = tmp_path / "first"
    env = {**portal_env(first), "PORTAL_DATABASE_URL": f"sqlite:///{db}"}
    pdfs.write(tmp_path / "a.pdf", pdfs.report_pdf("Already here", "x", 1))

    def run(*args: str, home: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "portal", *args], capture_output=True,
                              text=True, cwd=ROOT, env={**env, "PORTAL_HOME": str(home)},
                              timeout=300)

    assert run("ingest", str(tmp_path / "a.pdf"), home=first).returncode == 0
    empty_home = tmp_path / "second"
    refused = run("restore", str(good_export), home=empty_home)
    assert refused.returncode == 1 and "the catalogue already holds" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not empty_home.exists() or not any(empty_home.iterdir())
    shown = run("show", "1", "--json", home=first)
    assert json.loads(shown.stdout)["title"] == "Already here"
    assert os.path.getsize(db) > 0


def _disk_full_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    import errno
    import os

    real = os.fsync
    seen = 0

    def fsync(fd: int) -> None:
        nonlocal seen
        seen += 1
        if seen > calls:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_disk_that_fills_during_restore_leaves_the_home_empty(
        good_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from publications.backup import BackupError, restore

    home = tmp_path / "restored"
    home.mkdir()
    _disk_full_after(monkeypatch, 3)  # a few files land, then the disk is full
    with pytest.raises(BackupError, match="could not be written: No space left on device"):
        restore(Settings(home=home), good_export)
    assert home.is_dir() and list(home.iterdir()) == []


def test_a_disk_that_fills_during_export_leaves_no_export(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from publications.backup import BackupError, export

    home = _make_portal(tmp_path)
    cat = Catalogue(Settings(home=home))
    try:
        _disk_full_after(monkeypatch, 5)
        with pytest.raises(BackupError, match="could not be written: No space left on device"):
            export(cat, tmp_path / "backup")
    finally:
        cat.close()
    assert not (tmp_path / "backup").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- on each database (SQLite and PostgreSQL) ------------------------------------------------


@pytest.mark.databases
def test_a_restore_on_each_database_is_the_same_portal_and_keeps_working(
        tmp_path: Path, database_url: str) -> None:
    home = _make_portal(tmp_path, database_url)
    export = tmp_path / "backup"
    run = _on(database_url)(home, "export", str(export))
    assert run.code == 0, run.stderr
    with _another_catalogue(database_url) as target_url:
        target = _on(target_url)
        restored = tmp_path / "restored"
        run = target(restored, "restore", str(export))
        assert run.code == 0, run.stderr
        assert "restored 3 publications" in run.stdout
        assert _shows(restored, range(1, 4), target_url) == _shows(home, range(1, 4),
                                                                   database_url)
        assert _store_hashes(restored) == _store_hashes(home)
        check = target(restored, "check", "--verify-hashes")
        assert check.code == 0, check.stdout
        assert target(restored, "users", "list").stdout == \
            _on(database_url)(home, "users", "list").stdout

        # New rows of every kind get fresh ids past the restored ones: a publication (with
        # its file, version, slug, index journal entry and audit event), a staff account, an
        # upload, and an edit and a withdrawal of a restored record.
        extra = pdfs.write(tmp_path / "new.pdf",
                           pdfs.report_pdf("Allotments and food growing", "allotments", 1))
        run = target(restored, "ingest", "--json", "--publish", str(extra))
        assert run.code == 0, run.stderr
        assert run.lines[0]["status"] == "added" and run.lines[0]["id"] == 4
        assert target(restored, "users", "add", "sam@hub.example", "--role", "admin",
                      "--password-stdin", stdin="another long password 2\n").code == 0
        assert "sam@hub.example" in target(restored, "users", "list").stdout
        assert target(restored, "edit", "1", "--set", "title=Community libraries, revised"
                      ).code == 0
        assert target(restored, "withdraw", "3", "--reason", "Replaced").code == 0
        cat = Catalogue(Settings(home=restored, database_url=target_url))
        try:
            uploads.receive(cat, "queued", io.BytesIO(pdfs.report_pdf("Second wait", "y", 1)),
                            "second.pdf", "sam@hub.example")
        finally:
            cat.close()
        # the index follows the new and changed records
        hits = json.loads(target(restored, "search", "allotments", "--json").stdout)
        assert [h["id"] for h in hits["hits"]] == [4]
        hits = json.loads(target(restored, "search", "bus lanes", "--json").stdout)
        assert hits["hits"] == []  # 3 is withdrawn now
        shown = json.loads(target(restored, "show", "1", "--json").stdout)
        assert shown["title"] == "Community libraries, revised"
        check = target(restored, "check")
        assert check.code == 0, check.stdout
        assert "(4 publications)" in check.stdout


@pytest.mark.databases
def test_an_export_sees_one_state_while_another_connection_writes(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from publications import backup
    from publications.fields import build_record

    reader = Catalogue(settings)
    writer = Catalogue(settings)
    try:
        for title in ("Rents in 2020", "Rents in 2021"):
            writer.add(build_record({"title": title, "type": "report", "date": "2021"}),
                       status="published")
        real = backup._dump_table
        dumped: list[str] = []

        def dump_then_write(conn, table, path):  # type: ignore[no-untyped-def]
            out = real(conn, table, path)
            dumped.append(table.name)
            if len(dumped) == 1:  # the snapshot is taken: another connection changes things
                writer.add(build_record({"title": "Rents in 2022", "type": "report",
                                         "date": "2022"}), status="published")
                writer.set_status(1, "withdrawn", reason="Superseded")
            return out

        monkeypatch.setattr(backup, "_dump_table", dump_then_write)
        backup.export(reader, tmp_path / "backup")
    finally:
        reader.close()
        writer.close()
    assert len(dumped) > 3
    tables = tmp_path / "backup" / "tables"

    def rows(name: str) -> list[dict]:
        return [json.loads(line) for line in (tables / f"{name}.jsonl").read_text().splitlines()]

    assert [(p["id"], p["status"]) for p in rows("publications")] == [(1, "published"),
                                                                       (2, "published")]
    assert {j["publication_id"] for j in rows("index_journal")} <= {1, 2}
    assert {s["publication_id"] for s in rows("slugs")} == {1, 2}
    assert all(e.get("publication_id") in (1, 2, None) for e in rows("audit_events"))


def test_a_sqlite_export_restores_into_postgresql_and_back(tmp_path: Path) -> None:
    # The way an organisation moves from one node (SQLite) to several (PostgreSQL), and back.
    from tests.pg import fresh_schema

    home = _make_portal(tmp_path)
    assert portal(home, "export", str(tmp_path / "from-sqlite")).code == 0
    with fresh_schema() as pg_url:
        on_pg = _on(pg_url)
        moved = tmp_path / "on-postgresql"
        run = on_pg(moved, "restore", str(tmp_path / "from-sqlite"))
        assert run.code == 0, run.stderr
        assert _shows(moved, range(1, 4), pg_url) == _shows(home, range(1, 4))
        assert _store_hashes(moved) == _store_hashes(home)
        check = on_pg(moved, "check", "--verify-hashes")
        assert check.code == 0, check.stdout
        assert on_pg(moved, "users", "list").stdout == portal(home, "users", "list").stdout
        extra = pdfs.write(tmp_path / "new.pdf",
                           pdfs.report_pdf("Allotments and food growing", "allotments", 1))
        run = on_pg(moved, "ingest", "--json", "--publish", str(extra))
        assert run.lines[0]["status"] == "added" and run.lines[0]["id"] == 4
        hits = json.loads(on_pg(moved, "search", "allotments", "--json").stdout)
        assert [h["id"] for h in hits["hits"]] == [4]
        assert on_pg(moved, "export", str(tmp_path / "from-postgresql")).code == 0
        on_postgresql = _shows(moved, range(1, 5), pg_url)
    back = tmp_path / "back-on-sqlite"
    run = portal(back, "restore", str(tmp_path / "from-postgresql"))
    assert run.code == 0, run.stderr
    assert "restored 4 publications" in run.stdout
    assert _shows(back, range(1, 5)) == on_postgresql
    check = portal(back, "check", "--verify-hashes")
    assert check.code == 0, check.stdout
    hits = json.loads(portal(back, "search", "allotments", "--json").stdout)
    assert [h["id"] for h in hits["hits"]] == [4]


def test_restore_refuses_a_postgresql_catalogue_in_use(good_export: Path,
                                                       tmp_path: Path) -> None:
    # Several nodes share one PostgreSQL catalogue: a restore on a node with an empty data
    # home must not touch the records the others are using.
    from tests.pg import fresh_schema

    pdfs.write(tmp_path / "a.pdf", pdfs.report_pdf("Already here", "x", 1))
    with fresh_schema() as pg_url:
        on_pg = _on(pg_url)
        assert on_pg(tmp_path / "first", "ingest", str(tmp_path / "a.pdf")).code == 0
        empty_home = tmp_path / "second"
        refused = on_pg(empty_home, "restore", str(good_export))
        assert refused.code == 1 and "the catalogue already holds" in refused.stderr
        assert not empty_home.exists() or not any(empty_home.iterdir())
        shown = on_pg(tmp_path / "first", "show", "1", "--json")
        assert json.loads(shown.stdout)["title"] == "Already here"
        assert on_pg(tmp_path / "first", "check").code == 0


@pytest.mark.databases
def test_a_write_that_lands_during_a_restore_is_kept(good_export: Path, tmp_path: Path,
                                                     database_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # The catalogue is empty when the restore looks, then another node (or another restore)
    # writes to it before the restored rows go in: the restore is refused and the other
    # node's record is kept, not deleted as if it were the restore's own.
    from publications import backup
    from publications.fields import build_record

    url = database_url or f"sqlite:///{tmp_path / 'shared.sqlite'}"
    real = backup._copy_files_in

    def other_node_writes_first(catalogue, checked, progress):  # type: ignore[no-untyped-def]
        other = Catalogue(Settings(home=tmp_path / "other-node", database_url=url))
        try:
            other.add(build_record({"title": "Written by another node", "type": "report",
                                    "date": "2024"}), status="published")
        finally:
            other.close()
        return real(catalogue, checked, progress)

    monkeypatch.setattr(backup, "_copy_files_in", other_node_writes_first)
    home = tmp_path / "restored"
    with pytest.raises(backup.BackupError, match="the catalogue already holds"):
        backup.restore(Settings(home=home, database_url=url), good_export)
    assert not home.exists()
    other = Catalogue(Settings(home=tmp_path / "other-node", database_url=url))
    try:
        with other.reading() as session:
            assert other.get(session, 1).title == "Written by another node"
    finally:
        other.close()


@pytest.mark.databases
def test_an_index_that_cannot_be_built_leaves_the_catalogue_empty(
        good_export: Path, tmp_path: Path, database_url: str) -> None:
    # The rows are committed when the index is built; if that fails they are removed again,
    # so the same export restores cleanly into the same catalogue afterwards.
    import errno

    from publications.backup import BackupError, restore

    settings = Settings(home=tmp_path / "restored", database_url=database_url)

    def disk_full(_catalogue: Catalogue) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(BackupError, match="No space left on device; nothing was kept"):
        restore(settings, good_export, rebuild_index=disk_full)
    assert not settings.home.exists()
    summary = restore(settings, good_export)
    assert summary.rows["publications"] == 3 and summary.files == 5


def test_text_postgresql_cannot_hold_is_refused_with_its_reason(good_export: Path,
                                                                 tmp_path: Path) -> None:
    # SQLite stores any text; PostgreSQL refuses a NUL character and a value longer than its
    # column. A SQLite export holding either is refused whole, with the reason.
    from tests.pg import fresh_schema

    export = _copy(good_export, tmp_path)
    rel = "tables/publications.jsonl"
    rows = [json.loads(line) for line in (export / rel).read_text().splitlines()]
    rows[0]["title"] = "Community\u0000libraries"
    rows[1]["slug"] = "x" * 5000
    (export / rel).write_text("".join(json.dumps(r) + "\n" for r in rows))
    _resum(export, rel)
    with fresh_schema() as pg_url:
        on_pg = _on(pg_url)
        home = tmp_path / "restored"
        run = on_pg(home, "restore", str(export))
        assert run.code == 1
        assert "the export's records could not be restored: DataError" in run.stderr, run.stderr
        assert not home.exists()
        assert on_pg(home, "restore", str(good_export)).code == 0
