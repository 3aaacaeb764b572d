"""A write failure (disk full, a read-only data home) during ingest or upload: a clear error,
no traceback, nothing half-stored visible, `portal check` passes and a retry works."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from publications import uploads
from tests import pdfs
from tests.cli import portal
from tests.faults import portal_with_fault
from tests.staff_helpers import close, make_app, pdf_upload, sign_in

TITLES = ["Community libraries in 2021", "Play streets in Riverside", "Bus lanes and trade"]


def _inputs(folder: Path, padding: int = 0) -> list[Path]:
    return [pdfs.write(folder / f"{i}.pdf", _report(t, padding)) for i, t in enumerate(TITLES)]


def _report(title: str, padding: int) -> bytes:
    """A three-page report; with `padding`, made that many bytes larger by an object no page
    uses (so the file, not the catalogue, is what a size limit stops)."""
    if not padding:
        return pdfs.report_pdf(title, "libraries", 3)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(3))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{kids}] /Count 3 >>".encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i in range(3):
        text = f"BT /F1 18 Tf 72 700 Td ({title if i == 0 else 'libraries'}) Tj ET".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       f"<< /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
    objects.append(b"<< /Length %d >>\nstream\n" % padding + b"\0" * padding + b"\nendstream")
    return pdfs._pdf(objects)


def _assert_consistent(home: Path) -> None:
    check = portal(home, "check", "--verify-hashes")
    assert check.code == 0, check.stdout


def _assert_nothing_half_stored(home: Path, run_lines: list[dict]) -> None:
    """Each input reported added is whole (record, file, text, searchable); each failed one
    has no record at all."""
    for line in run_lines:
        title = TITLES[int(Path(line["path"]).stem)]
        found = json.loads(portal(home, "search", f'"{title}"', "--json").stdout)
        if line["status"] == "added":
            shown = json.loads(portal(home, "show", str(line["id"]), "--json").stdout)
            assert shown["file"]["pages"] == 3
            assert [h["id"] for h in found["hits"]] == [line["id"]]
        else:
            assert found["hits"] == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "padding", "stored_before_fault"),
    [
        ("enospc-fsync:1", 0, 0),  # the disk is full before the first file lands
        ("enospc-fsync:3", 0, 1),  # ... after the first file (2 fsyncs: file, folder)
        ("fsize:8000000", 12_000_000, 0),  # a real write refused half way (File too large)
    ],
)
def test_a_full_disk_during_ingest_fails_clearly_and_keeps_the_store_whole(
        tmp_path: Path, fault: str, padding: int, stored_before_fault: int) -> None:
    home = tmp_path / "home"
    _inputs(tmp_path / "in", padding)
    assert portal(home, "check").code == 0  # the catalogue exists before the disk fills
    run = portal_with_fault(home, fault, "ingest", "--json", "--publish", str(tmp_path / "in"))
    assert "Traceback" not in run.stderr + run.stdout
    assert run.code == 1
    lines = run.lines
    assert len(lines) == 3
    assert sum(line["status"] == "added" for line in lines) == stored_before_fault
    for line in lines:
        if line["status"] == "failed":
            assert line["error"].startswith("not stored: "), line
            assert "space" in line["error"] or "larger than allowed" in line["error"], line
    assert list((home / "files" / "tmp").iterdir()) == []  # no half-written temporaries
    _assert_consistent(home)
    _assert_nothing_half_stored(home, lines)

    retry = portal(home, "ingest", "--json", "--publish", str(tmp_path / "in"))
    assert retry.code == 0, retry.stdout
    assert sorted(line["status"] for line in retry.lines) == sorted(
        ["duplicate"] * stored_before_fault + ["added"] * (3 - stored_before_fault))
    _assert_consistent(home)


# --- a read-only data home (a real read-only mount; root ignores file permissions) ---------


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` read-only for everyone, root included, with a read-only bind mount."""
    try:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"a read-only mount needs root with mount rights ({exc})")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True,
                       capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True, capture_output=True)


@pytest.mark.slow
@pytest.mark.parametrize("part", ["home", "files"])
def test_a_read_only_data_home_during_ingest_fails_clearly(tmp_path: Path, part: str) -> None:
    home = tmp_path / "home"
    _inputs(tmp_path / "in")
    first = portal(home, "ingest", "--json", "--publish", str(tmp_path / "in" / "0.pdf"))
    assert first.lines[0]["status"] == "added"
    target = home if part == "home" else home / "files"
    with read_only(target):
        run = portal(home, "ingest", "--json", "--publish", str(tmp_path / "in"))
        assert "Traceback" not in run.stderr + run.stdout
        assert run.code == 1
        if part == "home":  # the catalogue itself cannot be opened for writing
            assert "could not be written" in run.stderr, run.stderr
        else:  # the catalogue works, the file store refuses: each new file fails, clearly
            statuses = {Path(r["path"]).name: r for r in run.lines}
            assert statuses["0.pdf"]["status"] == "duplicate"
            for name in ("1.pdf", "2.pdf"):
                assert statuses[name]["error"] == "not stored: the data home is read-only"
    _assert_consistent(home)
    retry = portal(home, "ingest", "--json", "--publish", str(tmp_path / "in"))
    assert sorted(r["status"] for r in retry.lines) == ["added", "added", "duplicate"]
    _assert_consistent(home)


# --- uploads through the staff pages -------------------------------------------------------


@pytest.fixture
def staff_app(settings) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = make_app(settings)
    yield app
    close(app)


def test_a_full_disk_during_an_upload_is_reported_on_the_page(
        staff_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    client = staff_app.test_client()
    sign_in(client)
    cat = staff_app.extensions["catalogue"]
    real_fsync = os.fsync

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    data = pdfs.report_pdf("Play streets in Riverside", "play", 2)
    response = client.post("/staff/upload", data={"files": [pdf_upload(data, "play.pdf")]},
                           follow_redirects=True)
    monkeypatch.setattr(os, "fsync", real_fsync)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "not taken in: the file could not be stored (no space left on the device)" in page
    assert list(cat.files.all_hashes()) == []
    assert list((cat.files.tmp).iterdir()) == []
    from publications.check import check_consistency

    assert check_consistency(cat) == []
    # once there is room again, the same file goes in
    response = client.post("/staff/upload", data={"files": [pdf_upload(data, "play.pdf")]})
    assert response.status_code == 303
    staff_app.extensions["staff_uploads"].join(60)
    batch = response.headers["Location"].rsplit("/", 1)[-1]
    (state,) = uploads.batch_states(cat, batch)
    assert state.status == uploads.ADDED and state.title == "Play streets in Riverside"
    assert check_consistency(cat) == []


def test_an_upload_when_the_catalogue_cannot_be_written_gets_a_clear_page(
        staff_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    client = staff_app.test_client()
    sign_in(client)
    cat = staff_app.extensions["catalogue"]

    def full(*_a, **_k):  # type: ignore[no-untyped-def]
        import sqlite3

        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(uploads, "_save", full)
    data = pdfs.report_pdf("Play streets in Riverside", "play", 2)
    response = client.post("/staff/upload", data={"files": [pdf_upload(data, "play.pdf")]})
    page = response.get_data(as_text=True)
    assert response.status_code == 507
    assert "The upload could not be stored (no space left on the device)" in page
    assert "Traceback" not in page
    assert uploads.unfinished(cat) == 0


def test_receive_keeps_nothing_when_the_store_is_read_only(
        catalogue, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    def read_only_fs(*_a, **_k):  # type: ignore[no-untyped-def]
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only_fs)
    state = uploads.receive(catalogue, "b", io.BytesIO(pdfs.report_pdf("A", "b", 1)), "a.pdf",
                            "ed@hub.example")
    assert state.status == uploads.FAILED
    assert state.error.startswith("the file could not be stored (the data home is read-only)")
    assert uploads.claim_next(catalogue) is None
