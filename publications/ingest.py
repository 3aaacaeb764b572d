"""Takes files in: sniff the bytes, hash, de-duplicate, extract, propose metadata, store.

Each step is a small function; `Ingester` runs them for a batch, extracting in parallel
worker processes while one thread does the storing. A failure in one file never stops a batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publications.catalogue import NEEDS_TITLE, Catalogue, DuplicateFile, FileInput, Stored
from publications.errors import IngestError, InvalidRecord, write_failure
from publications.extract import ExtractionPool, ExtractLimits
from publications.fields import build_record
from publications.filestore import sha256_of
from publications.propose import propose_metadata
from publications.records import Extraction
from publications.sniff import sniff_pdf


@dataclass(frozen=True)
class Outcome:
    """What happened to one input: `added`, `duplicate` or `failed` (with a reason)."""

    path: str
    status: str
    id: int | None = None
    slug: str | None = None
    title: str | None = None
    pages: int | None = None
    flags: tuple[str, ...] = ()
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.status == "failed":
            out["error"] = self.error
        else:
            out.update(
                id=self.id,
                slug=self.slug,
                title=self.title,
                pages=self.pages,
                flags=list(self.flags),
            )
        return out


@dataclass(frozen=True)
class Job:
    """One thing to take in: a file (maybe with supplied metadata) or a file-less record."""

    label: str
    path: Path | None = None
    supplied: Mapping[str, Any] = field(default_factory=dict)


def find_files(paths: Iterable[Path]) -> Iterator[Path | tuple[Path, str]]:
    """Expand folders recursively (sorted, hidden entries skipped); yield files as given.

    A path that does not exist is yielded as (path, reason) so it is reported, not dropped.
    """
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        elif path.exists():
            yield path
        else:
            yield (path, "the file does not exist")


# --- the steps ------------------------------------------------------------------------


def check_and_hash(path: Path) -> tuple[str, int]:
    """Sniff the bytes and hash them. Raises IngestError for anything that is not a PDF."""
    sniff_pdf(path)
    try:
        return sha256_of(path)
    except OSError as exc:
        raise IngestError(f"the file cannot be read ({exc.strerror or exc})") from exc


def record_from(
    extraction: Extraction | None,
    supplied: Mapping[str, Any],
    filename: str | None,
    supplied_by: str = "manifest",
):
    """Merge supplied values with a proposal; returns (Record, provenance).

    Supplied values win; `supplied_by` names where they came from ("manifest", "staff").
    """
    known = {k: v for k, v in supplied.items() if v not in (None, "", [])}
    if extraction is None:
        provenance = {k: supplied_by for k in known if k not in ("file", "status")}
        return build_record(known), provenance
    proposal = propose_metadata(extraction, supplied=known, filename=filename)
    values = dict(known)
    provenance: dict[str, str] = {}
    for name, proposed in proposal.fields.items():
        if name in known:
            continue
        values[name] = proposed.value
        provenance[name] = proposed.source
    for name in known:
        if name not in ("file", "status"):
            provenance[name] = supplied_by
    if not values.get("title"):
        # Nothing usable anywhere: keep the file as a draft and let staff supply a title.
        # A made-up title ("Untitled document") would be worse than none.
        values["title"] = ""
        provenance["title"] = NEEDS_TITLE
    return build_record(values), provenance


class Ingester:
    """Runs the steps for many inputs; reports one Outcome per input as each finishes."""

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        jobs: int = 1,
        limits: ExtractLimits | None = None,
        publish: bool = False,
        actor: str = "portal ingest",
        ocr: bool = False,
    ) -> None:
        self.catalogue = catalogue
        self.jobs = max(1, jobs)
        settings = catalogue.settings
        self.limits = limits or ExtractLimits(
            timeout=settings.extract_timeout,
            memory_mb=settings.extract_memory_mb,
            max_pages=settings.max_pages,
        )
        self.publish = publish
        self.actor = actor
        self.ocr = ocr
        self._pool: ExtractionPool | None = None
        self._pool_lock = threading.Lock()

    def __enter__(self) -> Ingester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def release_workers(self) -> None:
        """Tell the extraction workers to end (a batch is over); `close` waits for them."""
        if self._pool is not None:
            self._pool.stop_soon()

    @property
    def pool(self) -> ExtractionPool:
        with self._pool_lock:  # threads ask for it at once; start the workers only once
            if self._pool is None:
                self._pool = ExtractionPool(self.jobs, self.limits)
            return self._pool

    def run(
        self, jobs: Iterable[Job], on_outcome: Callable[[Outcome], None] | None = None
    ) -> list[Outcome]:
        """Take every job in; extraction runs in parallel, storing in this thread."""
        outcomes: list[Outcome] = []
        self.catalogue.files.remove_stale_temporaries()

        def report(o: Outcome) -> None:
            outcomes.append(o)
            if on_outcome is not None:
                on_outcome(o)

        with ThreadPoolExecutor(max_workers=self.jobs) as threads:
            running: dict[Future, Job] = {}
            for job in jobs:
                running[threads.submit(self._prepare, job)] = job
                if len(running) >= self.jobs * 2:
                    running = self._drain(running, report, FIRST_COMPLETED)
            self._drain(running, report, None)
        return outcomes

    def _drain(self, running: dict, report: Callable[[Outcome], None], mode) -> dict:  # type: ignore[type-arg]
        if mode is None:
            done, pending = wait(running)
        else:
            done, pending = wait(running, return_when=mode)
        for fut in sorted(done, key=lambda f: running[f].label):
            job = running[fut]
            try:
                prepared = fut.result()
                report(self._store(job, prepared))
            except IngestError as exc:
                report(Outcome(job.label, "failed", error=str(exc)))
            except InvalidRecord as exc:
                report(Outcome(job.label, "failed", error=f"invalid metadata: {exc}"))
            except Exception as exc:  # a bug of ours must still not stop the batch
                reason = write_failure(exc)
                error = (f"not stored: {reason}" if reason is not None
                         else f"internal error: {exc!r}")
                report(Outcome(job.label, "failed", error=error))
        return {f: running[f] for f in pending}

    def _prepare(self, job: Job) -> tuple[str, Any]:
        """Runs in a thread: everything before storing (sniff, hash, de-dup, extract)."""
        if job.path is None:
            return ("record", None)
        sha, size = check_and_hash(job.path)
        with self.catalogue.reading() as session:
            existing = self.catalogue.find_file(session, sha)
        if existing is not None:
            return ("duplicate", existing)
        extraction = self.extract(job.path, ocr=self.ocr)
        return ("file", (sha, size, extraction))

    def extract(self, path: Path, *, ocr: bool = False) -> Extraction:
        """Extract one file in the pool; with `ocr`, a file without a text layer gets its
        page texts recognised from the page images (see publications.ocr)."""
        extraction = self.pool.extract(path)
        if ocr:
            from publications.ocr import with_recognised_text

            settings = self.catalogue.settings
            extraction = with_recognised_text(
                extraction, path, timeout=settings.ocr_timeout,
                memory_mb=settings.extract_memory_mb,
            )
        return extraction

    def _store(self, job: Job, prepared: tuple[str, Any]) -> Outcome:
        kind, payload = prepared
        if kind == "duplicate":
            return _duplicate(job.label, payload)
        status = str(job.supplied.get("status") or ("published" if self.publish else "draft"))
        if status not in ("draft", "published"):
            raise InvalidRecord(f"status {status!r} must be draft or published")
        if kind == "record":
            record, provenance = record_from(None, job.supplied, None)
            with self.catalogue.reading() as session:
                existing = self.catalogue.find_same_record(session, record)
            if existing is not None:
                return _duplicate(job.label, existing)
            stored = self.catalogue.add(
                record, provenance=provenance, status=status, actor=self.actor
            )
            return Outcome(job.label, "added", stored.id, stored.slug, stored.title, None, ())
        sha, size, extraction = payload
        assert job.path is not None
        record, provenance = record_from(extraction, job.supplied, job.path.name)
        if not record.title and status == "published":
            status = "draft"  # cannot be published without a title; it waits for staff
        # The file goes into the store first; the catalogue row that points at it commits
        # only after it is in place.
        self.catalogue.files.put_copy(job.path, sha)
        try:
            stored = self.catalogue.add(
                record,
                file=FileInput(sha, size, extraction, job.path.name),
                provenance=provenance,
                status=status,
                actor=self.actor,
            )
        except DuplicateFile as dup:
            return _duplicate(job.label, dup.existing)
        return Outcome(
            job.label, "added", stored.id, stored.slug, stored.title, stored.pages, stored.flags
        )


def _duplicate(label: str, existing: Stored) -> Outcome:
    return Outcome(
        label,
        "duplicate",
        existing.id,
        existing.slug,
        existing.title,
        existing.pages,
        existing.flags,
    )
