"""Searching while another process ingests: no errors, and each answer is a whole state."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import pdfs
from tests.cli import ROOT, portal, portal_env

pytestmark = pytest.mark.slow

DURATION = 60.0
SEARCHERS = 4
PER_BATCH = 3


class Searcher:
    """A `portal search -` process fed a query every 50 ms, its answers collected."""

    def __init__(self, home: Path, stop: threading.Event) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "search", "-", "--json", "--limit", "1000"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=portal_env(home), cwd=ROOT,
        )
        self.stop = stop
        self.lines: list[str] = []
        self.err = ""
        self.threads = [threading.Thread(target=self._feed), threading.Thread(target=self._read),
                        threading.Thread(target=self._read_err)]
        for t in self.threads:
            t.start()

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        try:
            while not self.stop.is_set():
                self.proc.stdin.write("community libraries\n")
                self.proc.stdin.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ValueError):
            pass
        finally:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def _read(self) -> None:
        assert self.proc.stdout is not None
        self.lines.extend(self.proc.stdout)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.err = self.proc.stderr.read()

    def finish(self) -> int:
        for t in self.threads:
            t.join(120)
        code = self.proc.wait(60)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code


def test_four_searchers_and_an_ingest_for_a_minute(tmp_path: Path) -> None:
    home = tmp_path / "home"
    seed = pdfs.write(tmp_path / "seed" / "s.pdf",
                      pdfs.report_pdf("Community libraries seed report", "libraries", 2))
    assert portal(home, "ingest", "--publish", str(seed)).code == 0

    stop = threading.Event()
    searchers = [Searcher(home, stop) for _ in range(SEARCHERS)]
    batches = 0
    deadline = time.monotonic() + DURATION
    try:
        while time.monotonic() < deadline:
            folder = tmp_path / f"batch{batches}"
            for i in range(PER_BATCH):
                pdfs.write(folder / f"{i}.pdf",
                           pdfs.report_pdf(f"Community libraries batch {batches} item {i}",
                                           "libraries community", 2))
            run = portal(home, "ingest", "--publish", str(folder))
            assert run.code == 0, run.stderr
            batches += 1
    finally:
        stop.set()
        codes = [s.finish() for s in searchers]

    final_total = 1 + PER_BATCH * batches
    assert batches >= 3
    for searcher, code in zip(searchers, codes, strict=True):
        assert code == 0, searcher.err
        assert "Traceback" not in searcher.err and "error" not in searcher.err.lower(), searcher.err
        answers = [json.loads(line) for line in searcher.lines]
        assert len(answers) > 20
        totals = [a["total"] for a in answers]
        for a in answers:
            # a whole state: the count and the list agree, each publication appears once
            ids = [h["id"] for h in a["hits"]]
            assert a["total"] == len(ids) == len(set(ids))
            # states grow in whole ingest runs (the seed plus PER_BATCH per run)
            assert (a["total"] - 1) % PER_BATCH == 0, a["total"]
        assert totals == sorted(totals), "a searcher went back to an older state"
        assert 1 <= totals[0] and totals[-1] <= final_total
