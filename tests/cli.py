"""Runs the real `portal` command in a subprocess, as a user or a script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def portal_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_HOME"] = str(home)
    return env


def portal(home: Path, *args: str, stdin: str | None = None, timeout: float = 600) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "portal", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=portal_env(home),
        cwd=ROOT,
        timeout=timeout,
    )
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream, stream
    return Run(proc.returncode, proc.stdout, proc.stderr)


def popen(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "portal", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=portal_env(home),
        cwd=ROOT,
    )
