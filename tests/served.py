"""A real `portal serve` in a subprocess on a free loopback port, and a staff HTTP client."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.cli import ROOT, portal, portal_env

STAFF = ("loader@hub.example", "a long staff password 7")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_staff(home: Path, who: tuple[str, str] = STAFF) -> None:
    run = portal(home, "users", "add", who[0], "--role", "editor", "--password-stdin",
                 stdin=who[1] + "\n")
    assert run.code == 0, run.stderr


class Server:
    """`portal serve` for one data home; `kill()` sends SIGKILL, `start()` starts it again."""

    def __init__(self, home: Path, threads: int = 8, **env: str) -> None:
        self.home = home
        self.threads = threads
        # Every client of these tests comes from 127.0.0.1: the per-address rate limits would
        # turn load into 429s, so they are off unless a test asks for them.
        self.env = {**portal_env(home), "PORTAL_SECRET_KEY": "reliability-tests-secret",
                    "PORTAL_SEARCH_RATE_LIMIT": "off", "PORTAL_LOGIN_RATE_LIMIT": "off", **env}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = home.parent / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "portal", "serve", "--port", str(self.port),
                 "--threads", str(self.threads)],
                stdout=log, stderr=log, env=self.env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"portal serve exited: {self.log.read_text()[-2000:]}")
            try:
                requests.get(self.url + "/", timeout=2)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("portal serve did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def errors_logged(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class StaffClient:
    """A signed-in member of staff talking HTTP to a served portal (session + CSRF)."""

    def __init__(self, base_url: str, who: tuple[str, str] = STAFF) -> None:
        self.base = base_url
        self.http = requests.Session()
        token = self.csrf("/staff/login")
        r = self.http.post(self.base + "/staff/login", allow_redirects=False, timeout=60,
                           data={"email": who[0], "password": who[1], "csrf_token": token})
        assert r.status_code == 302, r.text[:500]

    def clone(self) -> StaffClient:
        """Another client in the same signed-in session (one login, many connections)."""
        other = object.__new__(StaffClient)
        other.base = self.base
        other.http = requests.Session()
        other.http.cookies.update(self.http.cookies)
        return other

    def csrf(self, path: str) -> str:
        html = self.http.get(self.base + path, timeout=60).text
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert m, f"no CSRF token on {path}"
        return m.group(1)

    def upload(self, files: list[tuple[str, bytes]], timeout: float = 120) -> requests.Response:
        """POST files to /staff/upload; the response is the 303 to the batch's status page."""
        token = self.csrf("/staff/upload")
        return self.http.post(
            self.base + "/staff/upload", data={"csrf_token": token},
            files=[("files", (name, data, "application/pdf")) for name, data in files],
            allow_redirects=False, timeout=timeout)

    def status(self, batch_url: str) -> requests.Response:
        return self.http.get(self.base + batch_url, allow_redirects=False, timeout=60)


def wait_indexed(home: Path, timeout: float = 120.0) -> None:
    """Wait until no upload waits to be read and the serving process's indexer has applied
    every journal row (what a person waits for before searching for a new upload)."""
    from index import SearchIndex
    from publications import uploads
    from publications.catalogue import Catalogue
    from publications.settings import Settings

    cat = Catalogue(Settings(home=home))
    index = SearchIndex(home / "index")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with cat.reading() as session:
                head = cat.journal_head(session)
            if uploads.unfinished(cat) == 0 and (index.last_applied() or 0) >= head:
                return
            time.sleep(0.3)
        raise AssertionError(f"uploads were not read and indexed within {timeout}s")
    finally:
        index.close()
        cat.close()
