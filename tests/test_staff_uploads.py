"""The upload queue keeps every file: stored before it is read, re-read after a crash."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import update

from publications import uploads
from publications.catalogue import Catalogue
from publications.models import utcnow
from tests import pdfs

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


def test_a_file_is_stored_before_it_is_read_and_survives_a_dead_worker(
        catalogue: Catalogue) -> None:
    data = pdfs.report_pdf("Play streets in Riverside", "Children play", pages=2)
    state = uploads.receive(catalogue, "b1", io.BytesIO(data), "play.pdf", "ed@hub.example")
    assert state.status == uploads.WAITING
    (row,) = uploads.batch_states(catalogue, "b1")
    with catalogue.reading() as session:
        sha = session.get(uploads.Upload, row.id).sha256  # type: ignore[union-attr]
    assert catalogue.files.exists(sha)  # kept before anything reads it
    # a worker claims it, then its process dies
    assert uploads.claim_next(catalogue) == row.id
    assert uploads.claim_next(catalogue) is None  # nobody else takes a claimed upload
    assert uploads.release_stale(catalogue) == 0  # not yet given up on
    with catalogue.session() as session:
        session.execute(update(uploads.Upload).values(updated_at=utcnow() - timedelta(hours=1)))
    assert uploads.release_stale(catalogue) == 1
    errors: list[Exception] = []
    worker = uploads.UploadWorker(catalogue, on_error=errors.append)
    worker.kick()
    worker.join(60)
    assert errors == []
    (done,) = uploads.batch_states(catalogue, "b1")
    assert done.status == uploads.ADDED and done.title == "Play streets in Riverside"
    with catalogue.reading() as session:
        pub = catalogue.get(session, done.publication_id)  # type: ignore[arg-type]
        assert pub.status == "draft" and pub.current_version.original_name == "play.pdf"  # type: ignore[union-attr]


def test_refused_files_are_reported_not_queued(catalogue: Catalogue) -> None:
    refused = uploads.receive(catalogue, "b2", io.BytesIO(b"PK\x03\x04 zip"), "a.docx", "ed")
    assert refused.status == uploads.FAILED and "ZIP archive" in refused.error
    empty = uploads.receive(catalogue, "b2", io.BytesIO(b""), "empty.pdf", "ed")
    assert empty.status == uploads.FAILED and "empty" in empty.error
    assert uploads.claim_next(catalogue) is None
    assert list(catalogue.files.all_hashes()) == []


def test_an_upload_read_again_after_a_crash_finds_its_own_publication(
        catalogue: Catalogue) -> None:
    # The worker added the publication, then died before marking the upload: read again,
    # the upload is `added` (as its own publication), not a `duplicate` of itself.
    data = pdfs.report_pdf("Allotment waiting lists", "food growing", pages=1)
    first = uploads.receive(catalogue, "b3", io.BytesIO(data), "allot.pdf", "ed@hub.example")
    same_bytes_later = uploads.receive(catalogue, "b4", io.BytesIO(data), "other.pdf", "ed")
    assert uploads.claim_next(catalogue) == first.id
    from publications.ingest import Ingester

    with Ingester(catalogue) as ingester:
        uploads.process(catalogue, ingester, first.id)
        with catalogue.session() as session:  # as if the worker died before recording it
            session.execute(update(uploads.Upload).where(uploads.Upload.id == first.id)
                            .values(status=uploads.WORKING))
        uploads.process(catalogue, ingester, first.id)
        assert uploads.claim_next(catalogue) == same_bytes_later.id
        uploads.process(catalogue, ingester, same_bytes_later.id)
    (again,) = uploads.batch_states(catalogue, "b3")
    (later,) = uploads.batch_states(catalogue, "b4")
    assert again.status == uploads.ADDED and again.title == "Allotment waiting lists"
    assert later.status == uploads.DUPLICATE and later.publication_id == again.publication_id


def test_the_upload_worker_removes_partial_files_of_a_killed_server(catalogue: Catalogue) -> None:
    # A server killed while an upload streamed in leaves its partial file in the store's
    # temporary folder; the next server's upload worker (kicked when it starts) removes it,
    # so `portal check` does not find an unfinished file later.
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    store = catalogue.files
    tmp, _, _ = store.receive(io.BytesIO(b"%PDF-1.4 partial"), limit=1000)
    left = tmp.with_name(tmp.name.replace(f"-{os.getpid()}-", f"-{gone.pid}-", 1))
    tmp.rename(left)
    assert store.stale_temporaries() == [left]
    errors: list[Exception] = []
    worker = uploads.UploadWorker(catalogue, on_error=errors.append)
    worker.kick()
    worker.join(60)
    assert errors == []
    assert not left.exists()
