"""Recognises the text of scanned pages (OCRmyPDF + Tesseract) so scanned PDFs become searchable.

OCR is optional: it needs the `ocrmypdf` command and Tesseract with its English data
(Debian: `ocrmypdf tesseract-ocr tesseract-ocr-eng`). It runs on a copy of the file, in a
child process with a time limit and an address-space limit, like extraction. The stored file
is never changed: its original bytes stay in the store (so its SHA-256, and the duplicate check,
stay those of the file that was received) and the recognised text becomes the file's page
texts in the catalogue, which is what the index and the snippets read.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from publications.errors import IngestError
from publications.records import FLAG_NO_TEXT_LAYER, Extraction

FLAG_OCR = "ocr"  # page texts were recognised from page images
FLAG_OCR_FAILED = "ocr-failed"  # OCR was asked for and did not give any text
MAX_PAGE_CHARS = 200_000
LANGUAGE = "eng"

INSTALL_HINT = (
    "install OCRmyPDF and Tesseract (Debian/Ubuntu: "
    "apt-get install ocrmypdf tesseract-ocr tesseract-ocr-eng)"
)

# The child sets its own address-space limit and then becomes `ocrmypdf`; doing it there
# rather than in a preexec_fn keeps the parent (which runs threads) safe.
_LIMITED_EXEC = (
    "import os, resource, sys\n"
    "mb = int(sys.argv[1])\n"
    "if mb:\n"
    "    resource.setrlimit(resource.RLIMIT_AS, (mb * 1048576, mb * 1048576))\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def unavailable_reason() -> str | None:
    """None when OCR can run here; otherwise a sentence saying what is missing."""
    missing = [name for name in ("ocrmypdf", "tesseract") if shutil.which(name) is None]
    if missing:
        return f"OCR needs {' and '.join(missing)}, which is not installed: {INSTALL_HINT}"
    return None


def available() -> bool:
    return unavailable_reason() is None


def no_text_layer_hint(count: int) -> str:
    """What to tell a person about `count` stored files that have no text layer."""
    files = "1 file has" if count == 1 else f"{count} files have"
    base = f"{files} no text layer (scanned pages?), so their words cannot be searched"
    if available():
        return (f"{base}: ingest with --ocr to recognise their text, or run "
                "`portal ocr REF` for a publication already stored")
    return (f"{base}. OCR is available as an option: {INSTALL_HINT}, then ingest with --ocr "
            "or run `portal ocr REF`")


def recognise(path: Path, *, timeout: float, memory_mb: int, page_count: int) -> tuple[str, ...]:
    """The recognised text of each page of the PDF at `path` (page 1 first).

    Works on a copy in a temporary folder; `path` is only read. Raises IngestError with a
    readable reason when OCR is not installed, overruns `timeout` seconds, or fails.
    """
    reason = unavailable_reason()
    if reason:
        raise IngestError(reason)
    with tempfile.TemporaryDirectory(prefix="portal-ocr-") as tmp:
        work = Path(tmp)
        source = work / "input.pdf"
        shutil.copyfile(path, source)
        sidecar = work / "text.txt"
        command = [
            sys.executable, "-c", _LIMITED_EXEC, str(memory_mb),
            "ocrmypdf", "--quiet", "--force-ocr", "--rotate-pages",
            "--output-type", "pdf", "--optimize", "0", "--jobs", "1",
            "--language", LANGUAGE, "--sidecar", str(sidecar),
            str(source), str(work / "output.pdf"),
        ]
        # One thread per Tesseract: the machine is shared with extraction and the web.
        env = dict(os.environ, OMP_THREAD_LIMIT="1", TMPDIR=str(work))
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise IngestError(
                f"recognising the text took longer than {timeout:g} seconds and was stopped"
            ) from None
        if proc.returncode != 0 or not sidecar.is_file():
            raise IngestError(f"OCR failed: {_last_line(err)}")
        text = sidecar.read_text(encoding="utf-8", errors="replace")
    return _pages(text, page_count)


def with_recognised_text(
    extraction: Extraction, path: Path, *, timeout: float, memory_mb: int
) -> Extraction:
    """`extraction` with OCR text as its page texts when it has no text layer.

    A file that has a text layer comes back unchanged. When OCR fails or finds no words the
    file keeps its `no-text-layer` flag and gains `ocr-failed`; it is still stored.
    """
    if FLAG_NO_TEXT_LAYER not in extraction.flags:
        return extraction
    others = tuple(f for f in extraction.flags if f not in (FLAG_NO_TEXT_LAYER, FLAG_OCR_FAILED))
    try:
        pages = recognise(path, timeout=timeout, memory_mb=memory_mb,
                          page_count=extraction.page_count)
    except IngestError:
        return replace(extraction, flags=(*extraction.flags, FLAG_OCR_FAILED))
    if not any(p.strip() for p in pages):
        return replace(extraction, flags=(*extraction.flags, FLAG_OCR_FAILED))
    # Only the pages that were read are kept, as extraction does (max_pages). A page whose
    # own text layer says more than the recognised text keeps its own text.
    merged = tuple(own if len(own.strip()) >= len(seen) else seen
                   for own, seen in zip(extraction.pages, pages, strict=False))
    return replace(extraction, pages=merged, flags=(*others, FLAG_OCR))


def _pages(text: str, page_count: int) -> tuple[str, ...]:
    # OCRmyPDF's sidecar ends each page with a form feed.
    parts = text.split("\f")
    if parts and not parts[-1].strip() and len(parts) > page_count:
        parts = parts[:-1]
    parts = (parts + [""] * page_count)[:page_count]
    return tuple(_clean(p)[:MAX_PAGE_CHARS] for p in parts)


def _clean(text: str) -> str:
    return "".join(ch if ch >= " " or ch in "\n\t" else " " for ch in text).strip()


def _kill_group(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.communicate(timeout=10)  # reaps it and closes its pipe


def _last_line(err: bytes | None) -> str:
    lines = [line.strip() for line in (err or b"").decode("utf-8", "replace").splitlines()
             if line.strip()]
    message = lines[-1] if lines else "ocrmypdf gave no reason"
    return message if len(message) <= 200 else message[:199] + "…"
