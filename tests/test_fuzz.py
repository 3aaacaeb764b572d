"""Fuzzing ingest: 500 PDFs mutated from the corpus (seeded) through `portal ingest --json`.

The parent never crashes, each file gets exactly one result line, no file takes longer than
the extraction time limit (plus slack for start-up and a busy machine), and no process of the
run grows past the worker memory limit. The mutants live in a temporary folder only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fuzz import generate, run_ingest, summary
from tests.cli import portal
from tests.conftest import corpus_path

pytestmark = [pytest.mark.slow, pytest.mark.corpus]

COUNT = 500
SEED = 20261126
TIMEOUT = 10.0
MEMORY_MB = 512
SLACK = 20.0  # start-up of the command and of a replacement worker, on a loaded machine


def test_mutated_pdfs_never_crash_ingest(tmp_path: Path) -> None:
    corpus = corpus_path() / "pdfs"
    made = generate(corpus, tmp_path / "mutants", COUNT, SEED)
    assert len(made) == COUNT
    home = tmp_path / "home"
    run = run_ingest(tmp_path / "mutants", home, TIMEOUT, MEMORY_MB)
    for line in summary(run, made, TIMEOUT, MEMORY_MB):
        print(line)
    assert run.code in (0, 1), run.stderr[-2000:]  # 1: some files failed, as they should
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    assert run.lines == COUNT and set(run.results) == set(made)
    for name, row in run.results.items():
        assert row["status"] in ("added", "duplicate", "failed"), (name, row)
        if row["status"] == "failed":
            assert row["error"] and "internal error" not in row["error"], (name, row)
            # reasons are for people: no Python internals leak through from the PDF library
            for leak in ("object has no attribute", "not subscriptable", "Traceback"):
                assert leak not in row["error"], (name, row)
    assert max(run.gaps.values()) <= TIMEOUT + SLACK
    assert run.peak_rss_mb <= MEMORY_MB
    statuses = {row["status"] for row in run.results.values()}
    assert {"added", "failed"} <= statuses  # the mutants are neither all fine nor all junk
    check = portal(home, "check")
    assert check.code == 0, check.stdout
