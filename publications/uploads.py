"""The staff upload queue: files kept safe at once, read and turned into drafts in the background.

A web request only receives, sniffs, de-duplicates and stores each file, then records it here
as `waiting`. A worker (any process may run one) claims waiting uploads one at a time,
extracts them in the extraction pool and adds each as a draft publication. The file is in the
store before its row commits, so a crash at any point loses nothing: a claimed upload whose
worker died goes back to `waiting` and is read again.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from publications.catalogue import Catalogue, DuplicateFile, FileInput
from publications.errors import IngestError, InvalidRecord, write_failure
from publications.filestore import FileTooLarge, process_alive
from publications.ingest import Ingester, record_from
from publications.models import Base, utcnow
from publications.sniff import sniff_pdf

WAITING, WORKING, ADDED, DUPLICATE, FAILED = "waiting", "working", "added", "duplicate", "failed"
FINISHED = (ADDED, DUPLICATE, FAILED)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(40), index=True)
    filename: Mapped[str] = mapped_column(String(300), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=WAITING, index=True)
    publication_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(320), default="")
    # Recognise the text of scanned pages (OCR) when the file has no text layer.
    ocr: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class UploadState:
    """One uploaded file as the status page shows it."""

    id: int
    filename: str
    status: str
    publication_id: int | None
    title: str
    error: str

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def receive(catalogue: Catalogue, batch: str, stream: BinaryIO, filename: str,
            actor: str, *, ocr: bool = False) -> UploadState:
    """Take one file from a request: size-capped while streaming, sniffed, checked for a
    duplicate and put in the store. Returns its state (`waiting` unless refused).
    With `ocr`, a file without a text layer has its text recognised when it is read."""
    row = Upload(batch=batch, filename=filename[:300], actor=actor[:320], ocr=ocr)
    try:
        temp, sha, size = catalogue.files.receive(stream, catalogue.settings.max_upload_bytes)
    except FileTooLarge as exc:
        row.status, row.error = FAILED, str(exc)
        return _save(catalogue, row)
    except OSError as exc:  # disk full, read-only: the file is refused, nothing is kept
        row.status, row.error = FAILED, _not_stored(exc)
        return _save(catalogue, row)
    try:
        sniff_pdf(temp)
        row.sha256, row.size = sha, size
        with catalogue.reading() as session:
            existing = catalogue.find_file(session, sha)
        if existing is not None:
            row.status, row.publication_id = DUPLICATE, existing.id
        else:
            catalogue.files.put(temp, sha)
    except IngestError as exc:
        row.status, row.error = FAILED, str(exc)
    except OSError as exc:
        row.status, row.error, row.sha256 = FAILED, _not_stored(exc), ""
    finally:
        catalogue.files.discard(temp)  # already moved into the store when it was kept
    return _save(catalogue, row)


def _not_stored(exc: OSError) -> str:
    reason = write_failure(exc)
    if reason is None:
        raise exc
    return f"the file could not be stored ({reason}); nothing was kept, try again later"


def batch_states(catalogue: Catalogue, batch: str) -> list[UploadState]:
    """The files of one upload, in the order they were sent."""
    from publications.models import Publication

    with catalogue.reading() as session:
        rows = session.execute(
            select(Upload, Publication.title)
            .outerjoin(Publication, Publication.id == Upload.publication_id)
            .where(Upload.batch == batch)
            .order_by(Upload.id)
        ).all()
        return [_state(u, title or "") for u, title in rows]


def unfinished(catalogue: Catalogue) -> int:
    """How many uploaded files are still waiting to be read (or being read)."""
    from sqlalchemy import func

    with catalogue.reading() as session:
        return int(session.scalar(select(func.count(Upload.id))
                                  .where(Upload.status.in_((WAITING, WORKING)))) or 0)


class UploadWorker:
    """Reads waiting uploads in a background thread of this process; stops when none are left.

    `kick()` after queueing starts the thread if it is not running. The extraction pool lives
    only while there is work, so an idle portal keeps no worker processes.
    """

    def __init__(self, catalogue: Catalogue, on_error: Callable[[Exception], None]) -> None:
        self.catalogue = catalogue
        self.on_error = on_error
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Set by every kick, cleared by the thread before each look at the queue: a kick that
        # arrives while the thread is finding the queue empty makes it look again, so an
        # upload queued at that moment is never left waiting for the next kick.
        self._wanted = False

    def kick(self) -> None:
        with self._lock:
            self._wanted = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="portal-uploads",
                                                daemon=True)
                self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        try:
            release_stale(self.catalogue)
            # partial files of uploads cut off by a crash or a kill (their writer is gone)
            self.catalogue.files.remove_stale_temporaries()
            with Ingester(self.catalogue) as ingester:
                while True:
                    with self._lock:
                        self._wanted = False
                    while (claimed := claim_next(self.catalogue)) is not None:
                        process(self.catalogue, ingester, claimed)
                    with self._lock:
                        if not self._wanted:
                            self._thread = None
                            return
        except Exception as exc:  # reported; a later kick (or another process) carries on
            with self._lock:
                self._thread = None
            self.on_error(exc)


def claim_next(catalogue: Catalogue) -> int | None:
    """Mark the oldest waiting upload as being worked on by this worker; its id or None.

    The conditional update means two workers (threads or processes) never claim the same row.
    """
    while True:
        with catalogue.reading() as session:
            upload_id = session.scalar(
                select(Upload.id).where(Upload.status == WAITING).order_by(Upload.id).limit(1)
            )
        if upload_id is None:
            return None
        with catalogue.session() as session:
            claimed = session.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.status == WAITING)
                .values(status=WORKING, updated_at=utcnow(), error=_claimer())
            ).rowcount
        if claimed:
            return upload_id


def release_stale(catalogue: Catalogue) -> int:
    """Put back uploads claimed by a worker that died (claimed longer ago than any
    extraction, with OCR, may take)."""
    settings = catalogue.settings
    # reading may include OCR of a scan, which has its own, longer, time limit
    cutoff = utcnow() - timedelta(
        seconds=settings.extract_timeout * 2 + settings.ocr_timeout + 60)
    with catalogue.session() as session:
        released = session.execute(
            update(Upload)
            .where(Upload.status == WORKING, Upload.updated_at < cutoff)
            .values(status=WAITING, error="")
        ).rowcount
        # A claim made by a process of this machine that no longer runs (killed, say) is
        # given back at once rather than after the cutoff.
        here = _claimer().rsplit(":", 1)[0] + ":"
        for upload_id, claimer in session.execute(
                select(Upload.id, Upload.error).where(Upload.status == WORKING,
                                                      Upload.error.startswith(here))).all():
            pid = claimer[len(here):]
            if pid.isdigit() and not process_alive(int(pid)):
                released += session.execute(
                    update(Upload).where(Upload.id == upload_id, Upload.status == WORKING,
                                         Upload.error == claimer)
                    .values(status=WAITING, error="")).rowcount
        return released


def _claimer() -> str:
    """Who holds a claim, kept in the `error` column while an upload is being read."""
    return f"claimed by {socket.gethostname()}:{os.getpid()}"


def process(catalogue: Catalogue, ingester: Ingester, upload_id: int) -> None:
    """Extract one claimed upload and add it as a draft with the proposed metadata."""
    with catalogue.reading() as session:
        row = session.get(Upload, upload_id)
        assert row is not None
        sha, size, filename, actor = row.sha256, row.size, row.filename, row.actor
        ocr = bool(row.ocr)
    status, pub_id, error = FAILED, None, ""
    try:
        extraction = ingester.extract(catalogue.files.path_for(sha), ocr=ocr)
        record, provenance = record_from(extraction, {}, filename, supplied_by="staff")
        stored = catalogue.add(record, file=FileInput(sha, size, extraction, filename),
                               provenance=provenance, status="draft", actor=actor)
        status, pub_id = ADDED, stored.id
    except DuplicateFile as dup:  # the same bytes arrived twice at once, or see below
        status, pub_id = _earlier_attempt_or_duplicate(catalogue, upload_id, filename,
                                                       dup.existing.id)
    except (IngestError, InvalidRecord) as exc:
        error = str(exc)
    with catalogue.session() as session:
        session.execute(update(Upload).where(Upload.id == upload_id).values(
            status=status, publication_id=pub_id, error=error, updated_at=utcnow()))


def _earlier_attempt_or_duplicate(catalogue: Catalogue, upload_id: int, filename: str,
                                  pub_id: int) -> tuple[str, int]:
    """A publication already holds this upload's bytes. When a worker was killed after it
    added the publication but before it marked the upload, the upload is read again and
    finds its own publication: that is `added`, not a duplicate. It is ours when it was
    stored under this upload's file name and no other upload was added as it."""
    from publications.models import FileVersion

    with catalogue.reading() as session:
        other = session.scalar(select(Upload.id).where(
            Upload.publication_id == pub_id, Upload.status == ADDED, Upload.id != upload_id
        ).limit(1))
        names = set(session.scalars(select(FileVersion.original_name)
                                    .where(FileVersion.publication_id == pub_id)))
    if other is None and filename[:500] in names:
        return ADDED, pub_id
    return DUPLICATE, pub_id


def _save(catalogue: Catalogue, row: Upload) -> UploadState:
    with catalogue.session() as session:
        session.add(row)
        session.flush()
        return _state(row, "")


def _state(row: Upload, title: str) -> UploadState:
    return UploadState(row.id, row.filename, row.status, row.publication_id, title, row.error)
