"""`portal serve --workers N`: several processes answer on one address, and stop together."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests import pdfs
from tests.cli import ROOT, portal, portal_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def test_workers_serve_pages_and_stop_with_the_parent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pdfs.write(tmp_path / "a.pdf", pdfs.report_pdf("Public service reform in Ashdown"))
    added = portal(home, "ingest", "--publish", "--json", str(tmp_path / "a.pdf"))
    slug = added.lines[0]["slug"]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", "--port", str(port), "--workers", "2"],
        env=portal_env(home), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = _get(port, "/robots.txt")
                break
            except OSError:
                assert proc.poll() is None, "portal serve exited"
                assert time.monotonic() < deadline, "portal serve did not answer"
                time.sleep(0.2)
        assert status == 200
        workers = _children(proc.pid)
        assert len(workers) == 2
        for _ in range(6):  # several connections: whichever worker takes one answers alike
            status, html = _get(port, f"/publications/{slug}")
            assert status == 200 and "Public service reform in Ashdown" in html
        status, html = _get(port, "/search?q=reform")
        assert status == 200 and f"/publications/{slug}" in html
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0
    for pid in workers:  # no worker outlives the parent
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_serve_says_when_the_address_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = portal(tmp_path / "home", "serve", "--port", str(port), "--workers", "2",
                     timeout=60)
    assert run.code == 1
    assert f"cannot serve on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr


def test_workers_that_cannot_start_stop_the_server(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data home's database folder should be")
    port = _free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "portal", "serve", "--port", str(port), "--workers", "2"],
        env={**portal_env(tmp_path / "home"),
             "PORTAL_DATABASE_URL": f"sqlite:///{blocked}/catalogue.sqlite"},
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "workers keep exiting as they start" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_serving_process_keeps_one_malloc_arena() -> None:
    """Threads of `portal serve` share one glibc malloc arena (see `one_malloc_arena`): set
    in a fresh process, as `portal serve` sets it before its threads start."""
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        import pytest

        pytest.skip("glibc's mallopt only")
    code = "from portal.serving import one_malloc_arena; print(one_malloc_arena())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "True"
