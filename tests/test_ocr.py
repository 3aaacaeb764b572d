"""Scanned PDFs: flagged and told about OCR without it; searchable after OCR with it installed.

The scanned samples are in the corpus (`ocrmypdf__*.pdf`: page images, no text layer). OCR
needs OCRmyPDF and Tesseract; without them the OCR tests skip, except under CI=true, where
they must run (`.ci/run` installs them).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from publications import ocr, uploads
from publications.catalogue import Catalogue
from tests.cli import ROOT, portal, portal_env
from tests.conftest import corpus_path
from tests.staff_helpers import make_app, pdf_upload, sign_in

# One-page scans and a word printed on each (the OCR must read it for search to find it).
LINN = "ocrmypdf__linn.pdf"  # a product sheet for the LinnSequencer MIDI recorder
CHAPTER = "ocrmypdf__c02-22.pdf"  # a page of Huckleberry Finn ("Miss Watson's")
WIKI = "ocrmypdf__epson.pdf"  # a printed Wikipedia article on optical character recognition


def need_ocr() -> None:
    reason = ocr.unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must install OCR for these tests: {reason}")
    pytest.skip(reason)


def scanned(name: str) -> Path:
    path = corpus_path() / "pdfs" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in the corpus")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _search(home: Path, query: str) -> list[dict]:
    run = portal(home, "search", query, "--json")
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)["hits"]


# --- without OCR ------------------------------------------------------------------------


def test_sidecar_text_is_split_into_pages() -> None:
    assert ocr._pages("one\n\ftwo\n\f", 2) == ("one", "two")
    assert ocr._pages("only\f", 3) == ("only", "", "")  # a missing page is empty, not shifted
    assert ocr._pages("a\fb\fc\f", 2) == ("a", "b")


def test_recognised_text_replaces_missing_text_and_failures_keep_the_file(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from publications.errors import IngestError
    from publications.records import Extraction

    scan = Extraction(page_count=3, pages=("", "Page two printed text, longer", ""),
                      flags=("no-text-layer", "encrypted"))
    monkeypatch.setattr(ocr, "recognise", lambda *a, **k: ("Seen one", "two", "Seen three"))
    done = ocr.with_recognised_text(scan, Path("x.pdf"), timeout=5, memory_mb=0)
    assert done.pages == ("Seen one", "Page two printed text, longer", "Seen three")
    assert done.flags == ("encrypted", "ocr")
    # a file with a text layer is not touched
    text = Extraction(page_count=1, pages=("words " * 50,))
    assert ocr.with_recognised_text(text, Path("x.pdf"), timeout=5, memory_mb=0) is text

    def fail(*a, **k):  # type: ignore[no-untyped-def]
        raise IngestError("recognising the text took longer than 5 seconds and was stopped")

    monkeypatch.setattr(ocr, "recognise", fail)
    kept = ocr.with_recognised_text(scan, Path("x.pdf"), timeout=5, memory_mb=0)
    assert kept.pages == scan.pages and kept.flags == (*scan.flags, "ocr-failed")
    monkeypatch.setattr(ocr, "recognise", lambda *a, **k: ("", " ", ""))
    blank = ocr.with_recognised_text(scan, Path("x.pdf"), timeout=5, memory_mb=0)
    assert "ocr-failed" in blank.flags and "no-text-layer" in blank.flags


def test_a_stuck_ocr_is_stopped_at_its_time_limit(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from publications.errors import IngestError

    # a stand-in `ocrmypdf` that never finishes, first on PATH
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("ocrmypdf", "tesseract"):
        script = fake / name
        script.write_text("#!/bin/sh\nsleep 60\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(IngestError, match="longer than 1 seconds and was stopped"):
        ocr.recognise(pdf, timeout=1, memory_mb=512, page_count=1)


def test_the_hint_offers_ocr_and_says_how_to_install_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    hint = ocr.no_text_layer_hint(2)
    assert hint.startswith("2 files have no text layer")
    assert "OCR is available as an option" in hint and "apt-get install ocrmypdf" in hint
    assert "--ocr" in hint


@pytest.mark.corpus
def test_a_scanned_file_is_stored_flagged_and_ocr_is_offered(tmp_path: Path) -> None:
    path = scanned(LINN)
    run = portal(tmp_path / "home", "ingest", str(path))
    assert run.code == 0, run.stderr
    assert "[no-text-layer, needs-title]" in run.stdout
    assert "1 file has no text layer" in run.stderr and "--ocr" in run.stderr


@pytest.mark.corpus
def test_asking_for_ocr_without_it_installed_says_what_to_install(tmp_path: Path) -> None:
    import subprocess

    path = scanned(LINN)
    env = portal_env(tmp_path / "home")
    env["PATH"] = str(Path(sys.executable).parent)  # a PATH with Python only: no ocrmypdf
    proc = subprocess.run([sys.executable, "-m", "portal", "ingest", "--ocr", str(path)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "OCR needs ocrmypdf and tesseract" in proc.stderr
    assert "apt-get install ocrmypdf tesseract-ocr" in proc.stderr
    assert "Traceback" not in proc.stderr
    # nothing was taken in: the file is new to the catalogue afterwards
    (line,) = portal(tmp_path / "home", "ingest", "--json", str(path)).lines
    assert line["status"] == "added"


# --- with OCR -----------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.slow
def test_ingest_with_ocr_makes_a_scanned_pdf_searchable(tmp_path: Path) -> None:
    need_ocr()
    path = scanned(LINN)
    home = tmp_path / "home"
    run = portal(home, "ingest", "--ocr", "--publish", "--json", str(path))
    assert run.code == 0, run.stderr
    (line,) = run.lines
    assert line["status"] == "added"
    assert "ocr" in line["flags"] and "no-text-layer" not in line["flags"]
    assert "LinnSequencer" in line["title"]  # proposed from the recognised text
    hits = _search(home, "MIDI sequence recorder")
    assert hits and hits[0]["id"] == line["id"]
    assert "<mark>" in hits[0]["pages"][0]["snippet"]
    # the original bytes are what is stored, untouched
    shown = json.loads(portal(home, "show", str(line["id"]), "--json").stdout)
    assert shown["file"]["sha256"] == _sha(path)
    assert portal(home, "check", "--verify-hashes").code == 0
    # the same scan again is the same file
    again = portal(home, "ingest", "--ocr", "--json", str(path))
    assert again.lines[0]["status"] == "duplicate"


@pytest.mark.corpus
@pytest.mark.slow
def test_portal_ocr_gives_a_stored_scan_its_text_and_a_title(tmp_path: Path) -> None:
    need_ocr()
    path = scanned(CHAPTER)
    home = tmp_path / "home"
    (line,) = portal(home, "ingest", "--json", str(path)).lines
    assert "no-text-layer" in line["flags"] and "needs-title" in line["flags"]
    run = portal(home, "ocr", str(line["id"]))
    assert run.code == 0, run.stderr
    assert "text recognised on 1 page(s)" in run.stdout
    shown = json.loads(portal(home, "show", str(line["id"]), "--json").stdout)
    assert shown["title"]  # the draft can now be published
    assert "ocr" in shown["file"]["flags"] and "no-text-layer" not in shown["file"]["flags"]
    assert portal(home, "publish", str(line["id"])).code == 0
    hits = _search(home, "Miss Watson")
    assert [h["id"] for h in hits] == [line["id"]]
    assert portal(home, "check").code == 0
    # asking again changes nothing
    assert "already has a text layer" in portal(home, "ocr", str(line["id"])).stdout


@pytest.mark.corpus
@pytest.mark.slow
def test_the_upload_form_can_recognise_text(settings, catalogue: Catalogue) -> None:  # type: ignore[no-untyped-def]
    need_ocr()
    path = scanned(WIKI)
    app = make_app(settings)
    client = app.test_client()
    sign_in(client)
    form = client.get("/staff/upload").get_data(as_text=True)
    assert "Recognise text in scanned pages (OCR)" in form
    assert 'name="ocr"' in form and "disabled" not in form.split('name="ocr"')[1].split(">")[0]
    sent = client.post("/staff/upload", content_type="multipart/form-data",
                       data={"files": [pdf_upload(path.read_bytes(), "scan.pdf")], "ocr": "yes"})
    assert sent.status_code == 303
    deadline = time.monotonic() + 300
    batch = sent.headers["Location"].rsplit("/", 1)[1]
    while time.monotonic() < deadline:
        states = uploads.batch_states(catalogue, batch)
        if states and all(s.finished for s in states):
            break
        time.sleep(0.2)
    (state,) = uploads.batch_states(catalogue, batch)
    assert state.status == uploads.ADDED, state.error
    assert "character recognition" in state.title.lower()
    with catalogue.reading() as session:
        pub = catalogue.get(session, state.publication_id)  # type: ignore[arg-type]
        assert "ocr" in pub.current_version.file.flags  # type: ignore[union-attr]
        texts = catalogue.page_texts(session, pub.current_version.file.id)  # type: ignore[union-attr]
    assert "optical character" in texts[0].lower()
    from tests.staff_helpers import close

    close(app)


def test_the_upload_form_refuses_ocr_when_it_is_not_installed(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests import pdfs

    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    app = make_app(settings)
    client = app.test_client()
    sign_in(client)
    form = client.get("/staff/upload").get_data(as_text=True)
    assert "Not available: text recognition" in form
    sent = client.post("/staff/upload", content_type="multipart/form-data",
                       data={"files": [pdf_upload(pdfs.report_pdf("A", "b"), "a.pdf")],
                             "ocr": "yes"})
    assert sent.status_code == 400
    assert "not installed on this server" in sent.get_data(as_text=True)
    from tests.staff_helpers import close

    close(app)
