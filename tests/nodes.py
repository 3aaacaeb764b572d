"""Portal nodes as real `portal serve` processes sharing one PostgreSQL catalogue.

Each node has its own index directory; the data home (file store, covers) and the secret key
are shared, as in docs/deployment.md.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.cli import ROOT, Run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    name: str
    env: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def index_dir(self) -> Path:
        return Path(self.env["PORTAL_INDEX_DIR"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> None:
        env = {**self.env, **extra_env}
        log = open(self.logs / f"{self.name}.log", "ab")  # noqa: SIM115 (the process owns it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "serve", "--port", str(self.port), "--threads", "4"],
            stdout=log, stderr=log, env=env, cwd=ROOT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node {self.name} exited: {self.log_text()}")
            try:
                if self.status("/") == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"node {self.name} did not answer: {self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)
        self.proc = None

    def log_text(self) -> str:
        return (self.logs / f"{self.name}.log").read_text(errors="replace")[-3000:]

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def search(self, q: str) -> dict[str, Any]:
        """The JSON API's answer for query `q` (up to 100 hits)."""
        query = urlencode({"q": q, "limit": 100})
        with urllib.request.urlopen(f"{self.url}/api/search?{query}", timeout=20) as r:
            return json.load(r)

    def titles(self, q: str) -> set[str]:
        return {h["title"] for h in self.search(q)["hits"]}

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 600) -> Run:
        """Run a `portal` command as an operator on this node would."""
        proc = subprocess.run(
            [sys.executable, "-m", "portal", *args], input=stdin,
            capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=timeout,
        )
        for stream in (proc.stdout, proc.stderr):
            assert "Traceback" not in stream, stream
        return Run(proc.returncode, proc.stdout, proc.stderr)


def make_nodes(
    tmp_path: Path, database_url: str, names: tuple[str, ...] = ("a", "b")
) -> list[Node]:
    shared = tmp_path / "shared-home"  # file store and covers, as on a network file system
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    base.update(
        PORTAL_HOME=str(shared),
        PORTAL_DATABASE_URL=database_url,
        PORTAL_SECRET_KEY="one secret shared by every node of this test",
    )
    return [
        Node(n, {**base, "PORTAL_INDEX_DIR": str(tmp_path / f"index-{n}")}, logs) for n in names
    ]


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` until it holds; returns the seconds it took, fails after `timeout`."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)
