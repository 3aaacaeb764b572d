"""The catalogue: stores, finds and changes publications, with their journal and audit rows.

Every change commits together with the journal row that asks for the publication's
re-indexing, so the search index can always catch up after a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slugify import slugify
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from publications import db
from publications.errors import InvalidRecord, NotFound
from publications.fields import Record, build_record
from publications.filestore import FileStore
from publications.models import (
    AuditEvent,
    Authorship,
    FileVersion,
    JournalEntry,
    Organisation,
    OrganisationRole,
    PageText,
    Person,
    Publication,
    PublicationTopic,
    Slug,
    StoredFile,
    Topic,
    utcnow,
)
from publications.records import Extraction
from publications.settings import Settings

SLUG_LENGTH = 80
# Provenance of a title nobody could propose: the publication waits as a draft for staff.
NEEDS_TITLE = "needs-title"
FLAG_NEEDS_TITLE = "needs-title"


@dataclass(frozen=True)
class FileInput:
    """A file already placed in the store, with what extraction read from it."""

    sha256: str
    size: int
    extraction: Extraction
    original_name: str = ""


@dataclass(frozen=True)
class Stored:
    """What the catalogue says about a publication after a store (or a duplicate found)."""

    id: int
    slug: str
    title: str
    status: str
    pages: int | None = None
    flags: tuple[str, ...] = ()


class DuplicateFile(Exception):
    """The same bytes are already attached to a publication."""

    def __init__(self, existing: Stored) -> None:
        super().__init__(f"already stored as publication {existing.id} ({existing.slug})")
        self.existing = existing


def _load_options() -> list[Any]:
    return [
        selectinload(Publication.authors).joinedload(Authorship.person),
        selectinload(Publication.organisations).joinedload(OrganisationRole.organisation),
        selectinload(Publication.topics),
        selectinload(Publication.versions).joinedload(FileVersion.file),
    ]


class Catalogue:
    """The source of truth for publications. Built from settings; owns the engine."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        self.engine = db.make_engine(settings)
        if migrate:
            db.migrate(self.engine)
        self._sessions = db.make_sessionmaker(self.engine)
        self.files = FileStore(settings.files_dir)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    # --- finding ----------------------------------------------------------------------

    def get(self, session: Session, ref: int | str) -> Publication:
        """A publication by id, current slug or any old slug; raises NotFound."""
        pub: Publication | None = None
        text = str(ref).strip()
        if text.isdigit():
            pub = session.get(Publication, int(text), options=_load_options())
        if pub is None:
            pub = session.scalar(
                select(Publication).where(Publication.slug == text).options(*_load_options())
            )
        if pub is None:
            old = session.get(Slug, text)
            if old is not None:
                pub = session.get(Publication, old.publication_id, options=_load_options())
        if pub is None:
            raise NotFound(f"no publication has the id or slug {text[:100]!r}")
        return pub

    def load_many(self, session: Session, ids: Sequence[int]) -> list[Publication]:
        """Publications by id with their people, organisations, topics and files loaded."""
        if not ids:
            return []
        q = select(Publication).where(Publication.id.in_(list(ids))).options(*_load_options())
        return list(session.scalars(q.order_by(Publication.id)))

    def find_file(self, session: Session, sha256: str) -> Stored | None:
        """The publication that already has these bytes (current or earlier version)."""
        row = session.execute(
            select(Publication, StoredFile)
            .join(FileVersion, FileVersion.publication_id == Publication.id)
            .join(StoredFile, StoredFile.id == FileVersion.file_id)
            .where(StoredFile.sha256 == sha256)
            .limit(1)
        ).first()
        if row is None:
            return None
        pub, f = row
        flags = tuple(f.flags) + (() if pub.title else (FLAG_NEEDS_TITLE,))
        return Stored(pub.id, pub.slug, pub.title, pub.status, f.page_count, flags)

    def find_same_record(self, session: Session, record: Record) -> Stored | None:
        """A file-less publication with the same title, date and link (for re-imports)."""
        q = select(Publication).where(
            func.lower(Publication.title) == record.title.lower(),
            Publication.date_year.is_(record.date[0])
            if record.date[0] is None
            else Publication.date_year == record.date[0],
            Publication.external_link == record.external_link,
            Publication.doi == record.doi,
        )
        # Same title but another abstract is another record (a back catalogue may reuse
        # titles); compared here rather than in SQL since long text compares poorly there.
        for pub in session.scalars(q.limit(20)):
            if not pub.versions and pub.abstract == record.abstract:
                return Stored(pub.id, pub.slug, pub.title, pub.status)
        return None

    def list(
        self,
        session: Session,
        *,
        status: Sequence[str] | None = ("published",),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Publication]:
        q = select(Publication).options(*_load_options())
        if status is not None:
            q = q.where(Publication.status.in_(status))
        q = q.order_by(
            Publication.date_year.desc().nulls_last(),
            Publication.date_month.desc().nulls_last(),
            Publication.id.desc(),
        )
        return list(session.scalars(q.limit(limit).offset(offset)))

    def count(self, session: Session, status: Sequence[str] | None = ("published",)) -> int:
        q = select(func.count(Publication.id))
        if status is not None:
            q = q.where(Publication.status.in_(status))
        return int(session.scalar(q) or 0)

    def page_texts(self, session: Session, file_id: int) -> list[str]:
        rows = session.execute(
            select(PageText.page, PageText.text)
            .where(PageText.file_id == file_id)
            .order_by(PageText.page)
        ).all()
        return [text for _page, text in rows]

    def page_text(self, session: Session, publication_id: int, page: int) -> str:
        text = session.scalar(
            select(PageText.text)
            .join(FileVersion, FileVersion.file_id == PageText.file_id)
            .where(
                FileVersion.publication_id == publication_id,
                FileVersion.is_current.is_(True),
                PageText.page == page,
            )
        )
        return text or ""

    # --- storing ----------------------------------------------------------------------

    def add(
        self,
        record: Record,
        *,
        file: FileInput | None = None,
        provenance: dict[str, str] | None = None,
        status: str = "draft",
        actor: str = "system",
    ) -> Stored:
        """Store a new publication (and its file's catalogue rows) in one transaction.

        The file itself must already be in the file store. Raises DuplicateFile when the
        same bytes are already attached to a publication (also when another process stored
        them a moment ago), InvalidRecord when the record has no title.
        """
        if not record.title and status != "draft":
            raise InvalidRecord("a publication needs a title before it is published")
        if status not in ("draft", "published"):
            raise InvalidRecord(f"a new publication cannot have status {status!r}")
        for attempt in range(5):
            try:
                with self.session() as session:
                    return self._add(session, record, file, provenance or {}, status, actor)
            except IntegrityError:
                if file is not None:
                    with self.reading() as session:
                        existing = self.find_file(session, file.sha256)
                    if existing is not None:
                        raise DuplicateFile(existing) from None
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _add(
        self,
        session: Session,
        record: Record,
        file: FileInput | None,
        provenance: dict[str, str],
        status: str,
        actor: str,
    ) -> Stored:
        if file is not None:
            existing = self.find_file(session, file.sha256)
            if existing is not None:
                raise DuplicateFile(existing)
        pub = Publication(
            slug=self._free_slug(session, record.title or f"untitled-{_short_id(file)}"),
            title=record.title,
            status=status,
            provenance=dict(provenance),
            published_at=utcnow() if status == "published" else None,
        )
        self._apply(session, pub, record)
        session.add(pub)
        session.flush()
        session.add(Slug(slug=pub.slug, publication_id=pub.id))
        pages: int | None = None
        flags: tuple[str, ...] = ()
        if file is not None:
            stored = self._file_row(session, file)
            session.add(
                FileVersion(
                    publication_id=pub.id,
                    file_id=stored.id,
                    number=1,
                    is_current=True,
                    original_name=file.original_name[:500],
                )
            )
            pages, flags = stored.page_count, tuple(stored.flags)
        self._journal(session, pub.id)
        self._audit(session, actor, "create", pub.id, {"title": pub.title, "status": status})
        if not pub.title:
            flags = (*flags, FLAG_NEEDS_TITLE)
        return Stored(pub.id, pub.slug, pub.title, pub.status, pages, flags)

    def _file_row(self, session: Session, file: FileInput) -> StoredFile:
        stored = session.scalar(select(StoredFile).where(StoredFile.sha256 == file.sha256))
        if stored is not None:
            return stored
        ex = file.extraction
        stored = StoredFile(
            sha256=file.sha256,
            size=file.size,
            page_count=ex.page_count,
            flags=list(ex.flags),
            unreadable_pages=list(ex.unreadable_pages),
            pdf_info=dict(ex.info),
        )
        session.add(stored)
        session.flush()
        session.add_all(
            PageText(file_id=stored.id, page=i, text=text)
            for i, text in enumerate(ex.pages, start=1)
        )
        return stored

    def _apply(self, session: Session, pub: Publication, record: Record) -> None:
        """Copy a record's fields onto a publication, resolving people, organisations, topics."""
        pub.title = record.title
        pub.subtitle = record.subtitle
        pub.type = record.type
        pub.date_year, pub.date_month, pub.date_day = record.date
        for name in (
            "series",
            "series_number",
            "abstract",
            "language",
            "licence",
            "doi",
            "isbn",
            "issn",
            "url",
            "external_link",
        ):
            setattr(pub, name, getattr(record, name))
        pub.keywords = list(record.keywords)
        if pub.id is not None:
            # Remove the old rows first: the new ones reuse their (publication, position).
            pub.authors.clear()
            pub.organisations.clear()
            session.flush()
        pub.authors = [
            Authorship(
                person=self._person(session, a.name), position=i, affiliation=a.affiliation
            )
            for i, a in enumerate(record.authors)
        ]
        pub.organisations = [
            OrganisationRole(organisation=self._organisation(session, o.name), role=o.role)
            for o in record.organisations
        ]
        pub.topics = [self._topic(session, t) for t in record.topics]

    def _person(self, session: Session, name: str) -> Person:
        found = session.scalar(select(Person).where(Person.name == name))
        if found is None:
            found = Person(name=name, slug=self._free_name_slug(session, Person, name))
            session.add(found)
            session.flush()
        return found

    def _organisation(self, session: Session, name: str) -> Organisation:
        found = session.scalar(select(Organisation).where(Organisation.name == name))
        if found is None:
            found = Organisation(name=name, slug=self._free_name_slug(session, Organisation, name))
            session.add(found)
            session.flush()
        return found

    def _topic(self, session: Session, name: str) -> Topic:
        found = session.scalar(select(Topic).where(func.lower(Topic.name) == name.lower()))
        if found is None:
            found = Topic(name=name, slug=self._free_name_slug(session, Topic, name))
            session.add(found)
            session.flush()
        return found

    @staticmethod
    def _free_name_slug(session: Session, model: type, name: str) -> str:
        base = slugify(name, max_length=SLUG_LENGTH, word_boundary=True) or "x"
        candidate, n = base, 1
        while session.scalar(select(model.slug).where(model.slug == candidate)) is not None:  # type: ignore[attr-defined]
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    @staticmethod
    def _free_slug(session: Session, title: str) -> str:
        base = slugify(title, max_length=SLUG_LENGTH, word_boundary=True) or "publication"
        if base.isdigit():
            base = f"publication-{base}"  # a slug must never look like an id
        candidate, n = base, 1
        while session.get(Slug, candidate) is not None:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    @staticmethod
    def _journal(session: Session, publication_id: int, action: str = "upsert") -> None:
        session.add(JournalEntry(publication_id=publication_id, action=action))

    @staticmethod
    def _audit(
        session: Session, actor: str, action: str, publication_id: int | None, details: dict
    ) -> None:
        session.add(
            AuditEvent(actor=actor, action=action, publication_id=publication_id, details=details)
        )

    # --- changing ---------------------------------------------------------------------

    def set_status(
        self, ref: int | str, status: str, *, reason: str = "", actor: str = "system"
    ) -> Stored:
        """Publish, unpublish (back to draft), withdraw (with a reason) or restore."""
        if status == "withdrawn" and not reason.strip():
            raise InvalidRecord("withdrawing a publication needs a reason")
        with self.session() as session:
            pub = self.get(session, ref)
            before = pub.status
            if status == "published" and not pub.title:
                raise InvalidRecord("a publication needs a title before it is published")
            pub.status = status
            pub.withdrawn_reason = reason.strip()[:2000] if status == "withdrawn" else ""
            if status == "published":
                pub.published_at = pub.published_at or utcnow()
                self._settle_slug(session, pub)
            self._journal(session, pub.id)
            action = {"published": "publish", "draft": "unpublish", "withdrawn": "withdraw"}[
                status
            ]
            if before == "withdrawn" and status != "withdrawn":
                action = "restore"
            details: dict[str, Any] = {"from": before, "to": status}
            if reason:
                details["reason"] = reason.strip()[:2000]
            self._audit(session, actor, action, pub.id, details)
            return Stored(pub.id, pub.slug, pub.title, pub.status)

    def update(
        self,
        ref: int | str,
        changes: dict[str, Any],
        *,
        actor: str = "system",
        expected_revision: int | None = None,
    ) -> Stored:
        """Change descriptive fields. A title change moves the slug; old slugs still work."""
        from publications.errors import ConflictError

        with self.session() as session:
            pub = self.get(session, ref)
            if expected_revision is not None and pub.revision != expected_revision:
                raise ConflictError("the publication was changed since it was opened")
            current = record_of(pub)
            merged = {**current, **changes}
            record = build_record(merged)
            if not record.title and (pub.status != "draft" or "title" in changes):
                raise InvalidRecord("a publication needs a title")
            old = {k: current.get(k) for k in changes}
            self._apply(session, pub, record)
            if "title" in changes and record.title != current["title"]:
                self._settle_slug(session, pub)
            prov = dict(pub.provenance or {})
            for k in changes:
                prov[k] = "staff" if actor != "system" else prov.get(k, "staff")
            pub.provenance = prov
            self._journal(session, pub.id)
            self._audit(
                session,
                actor,
                "edit",
                pub.id,
                {"changes": {k: [old.get(k), merged.get(k)] for k in changes}},
            )
            return Stored(pub.id, pub.slug, pub.title, pub.status)

    def _settle_slug(self, session: Session, pub: Publication) -> None:
        wanted = slugify(pub.title, max_length=SLUG_LENGTH, word_boundary=True) or "publication"
        if pub.slug == wanted or pub.slug.startswith(wanted + "-"):
            return
        owner = session.get(Slug, wanted)
        if owner is not None and owner.publication_id == pub.id:
            pub.slug = wanted
            return
        pub.slug = self._free_slug(session, pub.title)
        session.add(Slug(slug=pub.slug, publication_id=pub.id))

    # --- the journal ------------------------------------------------------------------

    def pending_journal(self, session: Session, after: int, limit: int = 500) -> list[JournalEntry]:
        return list(
            session.scalars(
                select(JournalEntry)
                .where(JournalEntry.id > after)
                .order_by(JournalEntry.id)
                .limit(limit)
            )
        )

    def journal_head(self, session: Session) -> int:
        return int(session.scalar(select(func.max(JournalEntry.id))) or 0)


def _short_id(file: FileInput | None) -> str:
    return file.sha256[:8] if file is not None else "record"


def record_of(pub: Publication) -> dict[str, Any]:
    """A publication's descriptive fields as a plain mapping (the inverse of build_record)."""
    return {
        "title": pub.title,
        "subtitle": pub.subtitle,
        "authors": [{"name": a.person.name, "affiliation": a.affiliation} for a in pub.authors],
        "organisations": [
            {"name": o.organisation.name, "role": o.role} for o in pub.organisations
        ],
        "date": pub.date_iso,
        "type": pub.type,
        "series": pub.series,
        "series_number": pub.series_number,
        "topics": [t.name for t in pub.topics],
        "keywords": list(pub.keywords or []),
        "abstract": pub.abstract,
        "language": pub.language,
        "licence": pub.licence,
        "doi": pub.doi,
        "isbn": pub.isbn,
        "issn": pub.issn,
        "url": pub.url,
        "external_link": pub.external_link,
    }


def describe(pub: Publication) -> dict[str, Any]:
    """The JSON shape of `portal show --json`."""
    version = pub.current_version
    out: dict[str, Any] = {"id": pub.id, "slug": pub.slug, **record_of(pub)}
    out.update(
        {
            "date_precision": pub.date_precision,
            "status": pub.status,
            "withdrawn_reason": pub.withdrawn_reason or None,
            "provenance": dict(pub.provenance or {}),
            "created_at": pub.created_at.isoformat(timespec="seconds") + "Z",
            "updated_at": pub.updated_at.isoformat(timespec="seconds") + "Z",
            "file": None,
            "versions": [
                {
                    "number": v.number,
                    "sha256": v.file.sha256,
                    "size": v.file.size,
                    "pages": v.file.page_count,
                    "current": v.is_current,
                    "original_name": v.original_name,
                    "added_at": v.added_at.isoformat(timespec="seconds") + "Z",
                }
                for v in pub.versions
            ],
        }
    )
    if version is not None:
        f = version.file
        out["file"] = {
            "sha256": f.sha256,
            "size": f.size,
            "pages": f.page_count,
            "flags": list(f.flags),
            "unreadable_pages": list(f.unreadable_pages),
            "original_name": version.original_name,
        }
    return out
