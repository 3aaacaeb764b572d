"""Acceptance on real PDFs: the whole corpus through `portal ingest`, re-runs, crashes, races."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.cli import popen, portal
from tests.conftest import corpus_path

pytestmark = pytest.mark.corpus

PASSWORD_FILES = {
    "formatcorpus__encryption_openpassword.pdf",
    "pdfminer__rc4-40.pdf",
    "pypdf-samples__libreoffice-writer-password.pdf",
}
SCANNED = {"ocrmypdf__c02-22.pdf", "ocrmypdf__cardinal.pdf", "ocrmypdf__jbig2.pdf",
           "ocrmypdf__linn.pdf", "ocrmypdf__epson.pdf"}
PLACEHOLDER = re.compile(
    r"^(microsoft (word|powerpoint)|untitled|document\d*$|slide \d+|powerpoint presentation)"
    r"|\.(docx?|pdf|xls|ppt|exe|txt|tex)\b",
    re.IGNORECASE,
)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@pytest.fixture
def ingested(corpus_ingest):  # type: ignore[no-untyped-def]
    return corpus_ingest


def test_every_file_gets_a_line_and_no_traceback(ingested) -> None:  # type: ignore[no-untyped-def]
    home, corpus, run = ingested
    names = sorted(p.name for p in (corpus / "pdfs").glob("*.pdf"))
    reported = sorted(Path(r["path"]).name for r in run.lines)
    assert reported == names
    assert run.code == 1  # the corpus holds files that cannot be used
    for r in run.lines:
        if r["status"] == "failed":
            assert r["error"] and len(r["error"]) < 300
        else:
            assert r["pages"] >= 1
            # no title is made up: a file with nothing to propose one from waits for staff
            assert r["title"] or "needs-title" in r["flags"], r


def test_password_protected_files_say_so(ingested) -> None:  # type: ignore[no-untyped-def]
    _home, _corpus, run = ingested
    by_name = {Path(r["path"]).name: r for r in run.lines}
    for name in PASSWORD_FILES:
        assert by_name[name]["status"] == "failed"
        assert "password" in by_name[name]["error"]
    # permissions-only encryption opens with the empty password: stored and flagged
    assert by_name["formatcorpus__encryption_nocopy.pdf"]["status"] == "added"
    assert "encrypted" in by_name["formatcorpus__encryption_nocopy.pdf"]["flags"]


def test_scanned_files_are_stored_and_flagged(ingested) -> None:  # type: ignore[no-untyped-def]
    _home, _corpus, run = ingested
    by_name = {Path(r["path"]).name: r for r in run.lines}
    for name in SCANNED:
        assert by_name[name]["status"] == "added"
        assert "no-text-layer" in by_name[name]["flags"]


def test_titles_agree_with_the_ground_truth(ingested) -> None:  # type: ignore[no-untyped-def]
    home, corpus, run = ingested
    by_name = {Path(r["path"]).name: r for r in run.lines}
    with open(corpus / "titles.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            proposed = by_name[row["file"]]
            truth = _norm(row["title"])
            if _norm(proposed["title"]) == truth:
                continue
            # The ground truth may join title and subtitle ("Title: Subtitle"); the portal
            # keeps them apart. Then the whole title and the truth's share of the subtitle
            # (which may stop before a trailing clause such as a place) must agree.
            shown = json.loads(portal(home, "show", str(proposed["id"]), "--json").stdout)
            full = _norm(f"{shown['title']} {shown['subtitle']}")
            assert shown["subtitle"] and truth.startswith(_norm(shown["title"])), row["file"]
            assert full.startswith(truth), (row["file"], full)


def test_no_title_is_a_placeholder_or_file_name(ingested) -> None:  # type: ignore[no-untyped-def]
    _home, _corpus, run = ingested
    for r in run.lines:
        if r["status"] != "added" or not r["title"]:
            continue
        stem = Path(r["path"]).stem
        assert not PLACEHOLDER.search(r["title"]), (r["path"], r["title"])
        assert _norm(r["title"]) != _norm(stem), (r["path"], r["title"])


def test_running_again_adds_nothing_and_check_passes(ingested) -> None:  # type: ignore[no-untyped-def]
    home, corpus, first = ingested
    again = portal(home, "ingest", "--json", "--jobs", "2", str(corpus / "pdfs"))
    statuses = {Path(r["path"]).name: r["status"] for r in again.lines}
    assert "added" not in statuses.values()
    for r in first.lines:
        if r["status"] == "added":
            assert statuses[Path(r["path"]).name] == "duplicate"
    check = portal(home, "check")
    assert check.code == 0, check.stdout


def _text_pdfs(corpus: Path, n: int) -> list[Path]:
    skip = PASSWORD_FILES | SCANNED
    files = [p for p in sorted((corpus / "pdfs").glob("*.pdf")) if p.name not in skip]
    return files[:n]


@pytest.mark.slow
def test_sigkill_during_ingest_loses_nothing(tmp_path: Path) -> None:
    corpus = corpus_path()
    folder = tmp_path / "in"
    folder.mkdir()
    for p in _text_pdfs(corpus, 40):
        os.symlink(p, folder / p.name)
    home = tmp_path / "home"
    for delay in (0.8, 2.0, 3.5):
        proc = popen(home, "ingest", "--json", "--jobs", "2", str(folder))
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, _err = proc.communicate()
        reported = [line for line in out.splitlines() if '"status": "added"' in line]
        # everything reported as stored before the kill is really there
        for line in reported:
            slug = line.split('"slug": "')[1].split('"')[0]
            assert portal(home, "show", slug).code == 0
    final = portal(home, "ingest", "--json", "--jobs", "2", str(folder))
    assert {r["status"] for r in final.lines} <= {"added", "duplicate", "failed"}
    check = portal(home, "check")
    assert check.code == 0, check.stdout


@pytest.mark.slow
def test_two_ingests_at_once_store_each_file_once(tmp_path: Path) -> None:
    corpus = corpus_path()
    files = _text_pdfs(corpus, 30)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for p in files[:20]:
        os.symlink(p, a / p.name)
    for p in files[10:]:
        os.symlink(p, b / p.name)
    home = tmp_path / "home"
    portal(home, "check")  # create the catalogue first so both start from the same schema
    procs = [popen(home, "ingest", "--json", str(folder)) for folder in (a, b)]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 1)
    added: dict[str, int] = {}
    for out, _err in outs:
        for line in out.splitlines():
            if '"status": "added"' in line:
                name = Path(line.split('"path": "')[1].split('"')[0]).name
                added[name] = added.get(name, 0) + 1
    assert all(n == 1 for n in added.values()), added
    check = portal(home, "check")
    assert check.code == 0, check.stdout
