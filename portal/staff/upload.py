"""Uploading PDFs: each file is kept safe at once, read in the background, then reviewed.

The request only receives, checks and stores the files and queues them; a status page
refreshes itself until every file is read and kept as a draft. Closing the browser at any
point loses nothing: the drafts wait on the staff home page.
"""

from __future__ import annotations

import re
import secrets
from typing import BinaryIO

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from portal.staff import access
from publications import uploads
from publications.catalogue import Catalogue, FileInput
from publications.errors import IngestError, write_failure
from publications.filestore import FileTooLarge
from publications.ingest import Ingester
from publications.ocr import available as ocr_available
from publications.sniff import sniff_pdf

bp = Blueprint("upload", __name__)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_FILES = access.UPLOAD_ENDPOINTS["staff.upload.upload"]  # files in one upload
REFRESH_SECONDS = 2
OCR_MISSING = ("Text recognition (OCR) is not installed on this server, so scanned pages cannot "
               "be read. Upload without it, or ask an administrator to install OCRmyPDF and "
               "Tesseract.")


def worker() -> uploads.UploadWorker:
    return current_app.extensions["staff_uploads"]


@bp.route("/upload", methods=["GET", "POST"])
def upload():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("staff/upload.html", ocr_ready=ocr_available(), error=None)
    cat = access.catalogue()
    # The staff guard capped the whole request before the form was parsed
    # (access.body_limit), so a huge body was refused while it streamed in.
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files or len(files) > MAX_FILES:
        error = ("Choose one or more PDF files to upload." if not files
                 else f"Upload at most {MAX_FILES} files at a time.")
        return render_template("staff/upload.html", ocr_ready=ocr_available(), error=error), 400
    ocr = request.form.get("ocr") == "yes"
    if ocr and not ocr_available():
        return render_template("staff/upload.html", ocr_ready=False, error=OCR_MISSING), 400
    batch = secrets.token_hex(8)
    try:
        for f in files:
            uploads.receive(cat, batch, f.stream, plain_name(f.filename or ""), access.actor(),
                            ocr=ocr)
    except Exception as exc:  # the catalogue itself could not be written (disk full...)
        reason = write_failure(exc)
        if reason is None:
            raise
        error = (f"The upload could not be stored ({reason}). Files listed on the uploads "
                 "page were kept; send the others again once the problem is fixed.")
        return render_template("staff/upload.html", ocr_ready=ocr_available(), error=error), 507
    worker().kick()
    return redirect(url_for(".status", batch=batch), 303)


@bp.get("/uploads/<batch>")
def status(batch: str):  # type: ignore[no-untyped-def]
    states = uploads.batch_states(access.catalogue(), batch)
    if not states:
        abort(404)
    working = [s for s in states if not s.finished]
    if working:
        worker().kick()  # picks up uploads left waiting by a restart
    elif len(states) == 1 and states[0].status == uploads.ADDED:
        return redirect(url_for("staff.edit.edit", pub_id=states[0].publication_id, new=1), 303)
    return render_template("staff/uploads.html", states=states, working=len(working),
                           refresh=REFRESH_SECONDS if working else None)


def receive_file(catalogue: Catalogue, stream: BinaryIO, filename: str
                 ) -> tuple[FileInput | None, str]:
    """A replacement file checked, extracted and placed in the store: (file, "") or
    (None, reason). The caller attaches it to a publication."""
    try:
        temp, sha, size = catalogue.files.receive(stream, catalogue.settings.max_upload_bytes)
    except FileTooLarge as exc:
        return None, str(exc)
    try:
        sniff_pdf(temp)
        with Ingester(catalogue) as ingester:
            extraction = ingester.pool.extract(temp)
        catalogue.files.put(temp, sha)
        return FileInput(sha, size, extraction, filename), ""
    except IngestError as exc:
        return None, str(exc)
    finally:
        catalogue.files.discard(temp)


def plain_name(name: str) -> str:
    """The file's own name without any folders a browser may send, control characters (NUL,
    CR, LF) or a bare `.`/`..`. It is only ever shown and recorded, never used as a path."""
    name = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:300] if name not in ("", ".", "..") else "unnamed.pdf"
