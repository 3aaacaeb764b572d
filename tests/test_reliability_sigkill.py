"""SIGKILL at many moments during `portal reindex`, a web upload and `portal ingest`: nothing
reported as stored is lost, nothing half-stored is visible, the next run completes and
`portal check` passes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests

from publications import uploads
from publications.catalogue import Catalogue
from publications.settings import Settings
from tests import pdfs
from tests.cli import popen, portal
from tests.served import Server, StaffClient, add_staff, wait_indexed

pytestmark = pytest.mark.slow

MOMENTS = 9  # kill moments spread evenly over one run
PUBLICATIONS = 150  # enough that most of a reindex run is rebuilding, not starting up


def _moments(duration: float, startup: float = 0.0) -> list[float]:
    """Kill moments spread evenly over the working part of a run (after `startup`, the time
    the command takes to start and do nothing), with the first one inside the start-up."""
    startup = min(startup, duration * 0.8)
    span = duration - startup
    return [startup * 0.5] + [startup + span * (k + 0.5) / (MOMENTS - 1)
                              for k in range(MOMENTS - 1)]


def _startup(home: Path) -> float:
    """How long a `portal` command takes to start, open everything and do nothing."""
    started = time.monotonic()
    assert portal(home, "reindex", "--if-needed").code == 0
    return time.monotonic() - started


def _search_ids(home: Path, query: str) -> list[int]:
    run = portal(home, "search", query, "--json", "--limit", "1000")
    assert run.code == 0, run.stderr
    return sorted(h["id"] for h in json.loads(run.stdout)["hits"])


def _assert_check(home: Path) -> None:
    check = portal(home, "check", "--verify-hashes")
    assert check.code == 0, check.stdout


def test_sigkill_during_reindex_never_shows_a_half_built_index(tmp_path: Path) -> None:
    home = tmp_path / "home"
    src = tmp_path / "src"
    for i in range(PUBLICATIONS):
        pdfs.write(src / f"{i:03d}.pdf",
                   pdfs.report_pdf(f"Street lighting review {i}", "lighting councils", 6))
    assert portal(home, "ingest", "--publish", str(src)).code == 0
    everyone = _search_ids(home, "lighting")
    assert len(everyone) == PUBLICATIONS

    started = time.monotonic()
    assert portal(home, "reindex").code == 0
    duration = time.monotonic() - started
    moments = _moments(duration, _startup(home))
    print(f"reindex: one run {duration:.2f} s; killed at "
          + ", ".join(f"{d:.2f}" for d in moments) + " s")
    for delay in moments:
        proc = popen(home, "reindex")
        time.sleep(delay)
        proc.kill()
        proc.communicate()
        # readers still see one whole index: the old one, or the new one once swapped
        assert _search_ids(home, "lighting") == everyone, f"killed at {delay:.2f}s"
        _assert_check(home)
    generations = sorted(p.name for p in (home / "index").glob("gen-*"))
    final = portal(home, "reindex")
    assert final.code == 0, final.stderr
    assert f"rebuilt the index: {PUBLICATIONS} publications" in final.stdout
    assert _search_ids(home, "lighting") == everyone
    _assert_check(home)
    # generations left by killed rebuilds are cleared by the next complete one
    left = sorted(p.name for p in (home / "index").glob("gen-*"))
    assert len(left) <= 2 and len(left) <= len(generations)


def test_sigkill_during_ingest_at_many_moments_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    src = tmp_path / "src"
    for i in range(24):
        pdfs.write(src / f"{i:02d}.pdf",
                   pdfs.report_pdf(f"Adult education survey {i}", "adult learning", 8))
    probe = tmp_path / "probe"
    started = time.monotonic()
    assert portal(probe, "ingest", "--jobs", "2", str(src)).code == 0
    duration = time.monotonic() - started
    moments = _moments(duration, _startup(probe))
    print(f"ingest: one run {duration:.2f} s; killed at "
          + ", ".join(f"{d:.2f}" for d in moments) + " s")
    reported: dict[str, int] = {}
    for delay in moments:
        proc = popen(home, "ingest", "--json", "--jobs", "2", "--publish", str(src))
        time.sleep(delay)
        proc.kill()
        out, _err = proc.communicate()
        for line in out.splitlines():
            row = json.loads(line) if line.startswith("{") and line.endswith("}") else None
            if row and row["status"] in ("added", "duplicate"):
                reported[row["path"]] = row["id"]
        # everything reported as stored is there, whole
        for path, pub_id in reported.items():
            shown = json.loads(portal(home, "show", str(pub_id), "--json").stdout)
            assert shown["file"]["pages"] == 8, path
        # nothing half-stored: every publication has its file and its page texts; what a
        # kill may leave is bytes nobody points at yet, and journal rows to apply
        for line in portal(home, "check").stdout.splitlines():
            assert line.startswith("ok:") or any(
                allowed in line for allowed in ("in the store but in no catalogue record",
                                                "unfinished temporary file",
                                                "journal change")), line
    final = portal(home, "ingest", "--json", "--jobs", "2", "--publish", str(src))
    print(f"ingest: {len(reported)} of 24 files reported stored before the last kill")
    assert final.code == 0
    assert len(final.lines) == 24
    for row in final.lines:
        if row["path"] in reported:
            assert row == {**row, "status": "duplicate", "id": reported[row["path"]]}
    _assert_check(home)
    assert len(_search_ids(home, "adult learning")) == 24


def test_sigkill_of_the_server_during_web_uploads_loses_no_accepted_file(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    add_staff(home)
    server = Server(home, PORTAL_EXTRACT_TIMEOUT="60").start()
    files_per_post = 4
    accepted: dict[str, str] = {}  # file name -> status page of the batch it was accepted in
    posted: list[str] = []
    try:
        client = StaffClient(server.url)
        # one round without a kill tells how long receiving and reading a batch takes
        started = time.monotonic()
        batch = _post(client, "warmup", files_per_post, accepted)
        _wait_finished(client, batch)
        duration = time.monotonic() - started
        print(f"upload: one batch {duration:.2f} s; killed at "
              + ", ".join(f"{d:.2f}" for d in _moments(duration)) + " s")

        for n, delay in enumerate(_moments(duration)):
            names = [f"k{n}-{i}.pdf" for i in range(files_per_post)]
            posted += names
            result: dict[str, str] = {}
            thread = threading.Thread(target=_post_quietly,
                                      args=(client, f"k{n}", files_per_post, result))
            thread.start()
            time.sleep(delay)
            server.kill()
            thread.join(60)
            for name in names:
                if "batch" in result:
                    accepted[name] = result["batch"]
            server.start()
            client = StaffClient(server.url)
            if "batch" not in result:  # the person saw an error and sends the files again
                batch = _post(client, f"k{n}", files_per_post, accepted)
        # after the last restart every accepted upload is read and kept as a draft
        for batch in set(accepted.values()):
            _wait_finished(client, batch)
        wait_indexed(home)
    finally:
        server.stop()
    print(f"upload: {len(accepted)} files accepted, {len(posted)} posted around kills")
    assert "Traceback" not in server.errors_logged()

    cat = Catalogue(Settings(home=home))
    try:
        with cat.reading() as session:
            rows = session.query(uploads.Upload).all()
            by_name: dict[str, list[uploads.Upload]] = {}
            for row in rows:
                by_name.setdefault(row.filename, []).append(row)
            titles = {}
            for name in accepted:
                states = [r.status for r in by_name[name]]
                assert uploads.ADDED in states, (name, states)
                assert set(states) <= {uploads.ADDED, uploads.DUPLICATE}, (name, states)
                added = next(r for r in by_name[name] if r.status == uploads.ADDED)
                titles[name] = cat.get(session, added.publication_id).title
        assert uploads.unfinished(cat) == 0
    finally:
        cat.close()
    for name, title in titles.items():
        assert title == _title(name), (name, title)
    _assert_check(home)


def _title(name: str) -> str:
    stem = name.removesuffix(".pdf")
    return f"Parish council minutes {stem.replace('-', ' part ')}"


def _files(prefix: str, n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        name = f"{prefix}-{i}.pdf"
        out.append((name, pdfs.report_pdf(_title(name), "parish minutes", 6)))
    return out


def _post(client: StaffClient, prefix: str, n: int, accepted: dict[str, str]) -> str:
    response = client.upload(_files(prefix, n))
    assert response.status_code == 303, response.text[:500]
    batch = response.headers["Location"]
    for name, _data in _files(prefix, n):
        accepted[name] = batch
    return batch


def _post_quietly(client: StaffClient, prefix: str, n: int, result: dict[str, str]) -> None:
    try:
        response = client.upload(_files(prefix, n), timeout=60)
    except requests.RequestException:
        return  # the server died before it answered: nothing was promised
    if response.status_code == 303:
        result["batch"] = response.headers["Location"]


def _wait_finished(client: StaffClient, batch: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.status(batch)
        if r.status_code == 303 or (r.status_code == 200 and 'http-equiv="refresh"' not in r.text):
            return
        time.sleep(0.3)
    raise AssertionError(f"uploads of {batch} were not read within {timeout}s")
