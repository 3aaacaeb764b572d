"""The catalogue: stores, finds and changes publications, with their journal and audit rows.

Every change commits together with the journal row that asks for the publication's
re-indexing, so the search index can always catch up after a crash.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slugify import slugify
from sqlalchemy import delete, func, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from publications import db
from publications.errors import InvalidRecord, NotFound
from publications.fields import PLAIN_FIELDS, Record, build_record
from publications.filestore import FileStore
from publications.models import (
    PUBLICATION_TYPES,
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
        # Readers get their own engine: their transactions never take the writers' lock.
        self.read_engine = db.make_engine(settings, for_writing=False)
        self._read_sessions = db.make_sessionmaker(self.read_engine)
        self.files = FileStore(settings.files_dir)
        self._journal_sql: str | None = None

    def close(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read_sessions() as session:
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
        for name in PLAIN_FIELDS:
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
        return self._named(session, Person, Person.name == name, name)

    def _organisation(self, session: Session, name: str) -> Organisation:
        return self._named(session, Organisation, Organisation.name == name, name)

    def _topic(self, session: Session, name: str) -> Topic:
        # topics are a vocabulary: "housing" and "Housing" are the same topic
        return self._named(session, Topic, func.lower(Topic.name) == name.lower(), name)

    def _named(self, session: Session, model: type, same: Any, name: str) -> Any:
        """The row of `model` matching `same`, created (with a free slug) when there is none."""
        found = session.scalar(select(model).where(same))
        if found is None:
            found = model(name=name, slug=self._free_name_slug(session, model, name))
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

    def journal_position(self) -> int:
        """The newest journal row's id: every change to a publication moves it.

        Asked on every publication page view, so it skips the session and the explicit
        transaction: one statement on a pooled connection is a consistent read by itself.
        """
        if self._journal_sql is None:
            self._journal_sql = str(
                select(func.max(JournalEntry.id)).compile(dialect=self.read_engine.dialect)
            )
        conn = self.read_engine.raw_connection()
        try:
            cur = conn.cursor()
            try:
                cur.execute(self._journal_sql)
                row = cur.fetchone()
            finally:
                cur.close()
        finally:
            conn.close()  # back to the pool, which ends any transaction the driver began
        return int(row[0] or 0) if row else 0

    def journal_bounds(self, session: Session) -> tuple[int, int]:
        """(oldest kept position, newest position); (0, 0) for an empty journal."""
        oldest, newest = session.execute(
            select(func.min(JournalEntry.id), func.max(JournalEntry.id))
        ).one()
        return int(oldest or 0), int(newest or 0)

    def prune_journal(self, older_than: timedelta) -> int:
        """Delete the journal's oldest rows, those written more than `older_than` ago;
        returns how many went.

        Rows go as a prefix in position order (everything before the first row young enough
        to keep), never from the middle, even when the nodes' clocks disagree a little: so
        "the oldest kept row is past my position + 1" tells a node it may have missed rows.
        The newest row always stays, so the head position never goes backwards (and SQLite
        never hands its id out again).
        """
        cutoff = utcnow() - older_than
        with self.session() as session:
            first_kept = session.scalar(
                select(func.min(JournalEntry.id)).where(JournalEntry.created_at >= cutoff)
            )
            if first_kept is None:
                first_kept = self.journal_head(session)
            result = session.execute(delete(JournalEntry).where(JournalEntry.id < first_kept))
            return int(result.rowcount or 0)


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


# === Browsing: read-only listings for the reader's portal ===============================
# Everything below only reads. Listings count published publications only, so a draft or a
# withdrawn publication never shows up in a reader's count.

BROWSE_SORTS = ("newest", "oldest", "title")
OTHER_LETTER = "#"  # titles that start with a digit, a quote or a non-Latin letter


@dataclass(frozen=True)
class Grouping:
    """One value readers can browse by (a topic, a type, a year...) and how many it holds."""

    slug: str
    name: str
    count: int


@dataclass(frozen=True)
class Listing:
    """One page of a browse listing: the publications on it and the size of the whole list."""

    publications: list[Publication]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Scope:
    """What a browse listing is restricted to; every field left empty means no restriction."""

    topic_id: int | None = None
    type: str | None = None
    year: int | None = None
    organisation_id: int | None = None
    person_id: int | None = None
    series: str | None = None
    letter: str | None = None


def type_slug(type_name: str) -> str:
    """'working paper' -> 'working-paper': the URL form of a publication type."""
    return type_name.replace(" ", "-")


def series_slug(series: str) -> str:
    return slugify(series, max_length=SLUG_LENGTH, word_boundary=True) or "series"


def _published() -> Any:
    return Publication.status == "published"


def _first_letter() -> Any:
    # Literal arguments rather than bound ones: PostgreSQL only accepts GROUP BY on this
    # expression when it is written out identically in the select list.
    one = literal_column("1")
    return func.upper(func.substr(Publication.title, one, one))


def _scoped(q: Any, scope: Scope) -> Any:
    q = q.where(_published())
    if scope.topic_id is not None:
        q = q.where(
            Publication.id.in_(
                select(PublicationTopic.publication_id).where(
                    PublicationTopic.topic_id == scope.topic_id
                )
            )
        )
    if scope.organisation_id is not None:
        q = q.where(
            Publication.id.in_(
                select(OrganisationRole.publication_id).where(
                    OrganisationRole.organisation_id == scope.organisation_id
                )
            )
        )
    if scope.person_id is not None:
        q = q.where(
            Publication.id.in_(
                select(Authorship.publication_id).where(Authorship.person_id == scope.person_id)
            )
        )
    if scope.type is not None:
        q = q.where(Publication.type == scope.type)
    if scope.year is not None:
        q = q.where(Publication.date_year == scope.year)
    if scope.series is not None:
        q = q.where(Publication.series == scope.series)
    if scope.letter == OTHER_LETTER:
        q = q.where(_first_letter().not_in(list(string.ascii_uppercase)))
    elif scope.letter is not None:
        q = q.where(_first_letter() == scope.letter)
    return q


def _ordered(q: Any, sort: str) -> Any:
    if sort == "title":
        return q.order_by(func.lower(Publication.title), Publication.id)
    if sort == "oldest":
        return q.order_by(
            Publication.date_year.asc().nulls_last(),
            Publication.date_month.asc().nulls_last(),
            Publication.date_day.asc().nulls_last(),
            Publication.id,
        )
    return q.order_by(
        Publication.date_year.desc().nulls_last(),
        Publication.date_month.desc().nulls_last(),
        Publication.date_day.desc().nulls_last(),
        Publication.id.desc(),
    )


def browse(
    session: Session,
    scope: Scope | None = None,
    *,
    sort: str = "newest",
    page: int = 1,
    per_page: int = 25,
) -> Listing:
    """One page of published publications within `scope`, sorted newest, oldest or by title.

    Raises ValueError for an unknown sort or a page below 1; a page past the end comes back
    empty (the caller decides whether that is a 404).
    """
    if sort not in BROWSE_SORTS:
        raise ValueError(f"sort must be one of {', '.join(BROWSE_SORTS)}")
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page count from 1")
    scope = scope or Scope()
    total = int(session.scalar(_scoped(select(func.count(Publication.id)), scope)) or 0)
    q = _ordered(_scoped(select(Publication).options(*_load_options()), scope), sort)
    pubs = list(session.scalars(q.limit(per_page).offset((page - 1) * per_page)))
    return Listing(pubs, total, page, per_page)


def topic_counts(session: Session) -> list[Grouping]:
    """Topics holding at least one published publication, by name."""
    rows = session.execute(
        select(Topic.slug, Topic.name, func.count(Publication.id))
        .join(PublicationTopic, PublicationTopic.topic_id == Topic.id)
        .join(Publication, Publication.id == PublicationTopic.publication_id)
        .where(_published())
        .group_by(Topic.id, Topic.slug, Topic.name)
        .order_by(func.lower(Topic.name))
    ).all()
    return [Grouping(s, n, int(c)) for s, n, c in rows]


def organisation_counts(session: Session) -> list[Grouping]:
    """Organisations named on at least one published publication, by name."""
    rows = session.execute(
        select(Organisation.slug, Organisation.name, func.count(func.distinct(Publication.id)))
        .join(OrganisationRole, OrganisationRole.organisation_id == Organisation.id)
        .join(Publication, Publication.id == OrganisationRole.publication_id)
        .where(_published())
        .group_by(Organisation.id, Organisation.slug, Organisation.name)
        .order_by(func.lower(Organisation.name))
    ).all()
    return [Grouping(s, n, int(c)) for s, n, c in rows]


def organisation_roles(session: Session, organisation_id: int) -> list[tuple[str, int]]:
    """(role, number of published publications) for one organisation, most common first."""
    rows = session.execute(
        select(OrganisationRole.role, func.count(Publication.id))
        .join(Publication, Publication.id == OrganisationRole.publication_id)
        .where(_published(), OrganisationRole.organisation_id == organisation_id)
        .group_by(OrganisationRole.role)
        .order_by(func.count(Publication.id).desc(), OrganisationRole.role)
    ).all()
    return [(r, int(c)) for r, c in rows]


def type_counts(session: Session) -> list[Grouping]:
    """Publication types in use, in the catalogue's own order of types."""
    rows = dict(
        session.execute(
            select(Publication.type, func.count(Publication.id))
            .where(_published())
            .group_by(Publication.type)
        ).all()
    )
    order = [t for t in PUBLICATION_TYPES if t in rows] + sorted(
        t for t in rows if t not in PUBLICATION_TYPES
    )
    return [Grouping(type_slug(t), t, int(rows[t])) for t in order]


def year_counts(session: Session) -> list[Grouping]:
    """Years with published publications, oldest first (undated ones are left out)."""
    rows = session.execute(
        select(Publication.date_year, func.count(Publication.id))
        .where(_published(), Publication.date_year.is_not(None))
        .group_by(Publication.date_year)
        .order_by(Publication.date_year)
    ).all()
    return [Grouping(str(y), str(y), int(c)) for y, c in rows]


def series_counts(session: Session) -> list[Grouping]:
    """Named series with published publications, by name."""
    rows = session.execute(
        select(Publication.series, func.count(Publication.id))
        .where(_published(), Publication.series != "")
        .group_by(Publication.series)
        .order_by(func.lower(Publication.series))
    ).all()
    return [Grouping(series_slug(s), s, int(c)) for s, c in rows]


def letter_counts(session: Session) -> list[Grouping]:
    """A-Z (then '#') with the number of published titles starting with each."""
    rows = session.execute(
        select(_first_letter(), func.count(Publication.id))
        .where(_published())
        .group_by(_first_letter())
    ).all()
    counts: dict[str, int] = {}
    for letter, n in rows:
        key = letter if letter and letter in set(string.ascii_uppercase) else OTHER_LETTER
        counts[key] = counts.get(key, 0) + int(n)
    return [
        Grouping(letter, letter, counts.get(letter, 0))
        for letter in [*string.ascii_uppercase, OTHER_LETTER]
    ]


def find_topic(session: Session, slug: str) -> Topic | None:
    return session.scalar(select(Topic).where(Topic.slug == slug))


def find_organisation(session: Session, slug: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.slug == slug))


def find_person(session: Session, slug: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slug == slug))


def find_scope(session: Session, kind: str, slug: str) -> tuple[Scope, str] | None:
    """The listing restriction and display name for a topic, organisation, person or series
    slug (`kind` is one of those words), or None when nothing has that slug."""
    if kind == "series":
        name = find_series(session, slug)
        return (Scope(series=name), name) if name is not None else None
    finder, field = {
        "topic": (find_topic, "topic_id"),
        "organisation": (find_organisation, "organisation_id"),
        "person": (find_person, "person_id"),
    }[kind]
    found = finder(session, slug)
    return (Scope(**{field: found.id}), found.name) if found is not None else None


def find_series(session: Session, slug: str) -> str | None:
    """The series name whose slug is `slug`, or None. Series are plain text on publications."""
    for group in series_counts(session):
        if group.slug == slug:
            return group.name
    return None


def find_type(slug: str) -> str | None:
    """The publication type named by a URL slug ('working-paper'), or None."""
    name = slug.replace("-", " ")
    return name if name in PUBLICATION_TYPES else None


# === Staff workspace: file versions, deletion, review lists and the audit trail ===========
# Used by the staff pages. Each change commits with its journal row and its audit row. The
# changing functions take the catalogue as their first argument (`self`, as a method would).

ATTENTION_NO_TEXT = "no text layer"
ATTENTION_NO_ABSTRACT = "no abstract"
ATTENTION_NO_DATE = "no date"
ATTENTION_NO_TITLE = "needs a title"
ATTENTION_UNCONFIRMED = "proposed metadata not confirmed"


def replace_file(
    self: Catalogue,
    ref: int | str,
    file: FileInput,
    *,
    actor: str = "system",
    expected_revision: int | None = None,
) -> Stored:
    """Attach a new file to a publication as its next version; earlier versions are kept.

    The file must already be in the store. Raises DuplicateFile when the bytes belong to a
    publication already (this one included), ConflictError when the publication changed
    since `expected_revision`.
    """
    from publications.errors import ConflictError

    with self.session() as session:
        pub = self.get(session, ref)
        if expected_revision is not None and pub.revision != expected_revision:
            raise ConflictError("the publication was changed since it was opened")
        existing = self.find_file(session, file.sha256)
        if existing is not None:
            raise DuplicateFile(existing)
        stored = self._file_row(session, file)
        number = max((v.number for v in pub.versions), default=0) + 1
        for v in pub.versions:
            v.is_current = False
        pub.versions.append(
            FileVersion(
                file_id=stored.id,
                number=number,
                is_current=True,
                original_name=file.original_name[:500],
            )
        )
        pub.updated_at = utcnow()  # also moves the revision on: open edit forms are stale
        self._journal(session, pub.id)
        self._audit(
            session,
            actor,
            "replace-file",
            pub.id,
            {"version": number, "sha256": file.sha256, "original_name": file.original_name},
        )
        return Stored(pub.id, pub.slug, pub.title, pub.status, stored.page_count,
                      tuple(stored.flags))


def delete_publication(self: Catalogue, ref: int | str, *, actor: str = "system") -> Stored:
    """Remove a publication's record for good. Its files stay in the store (they are never
    deleted by the portal), the audit trail keeps what was removed, the index drops it."""
    with self.session() as session:
        pub = self.get(session, ref)
        gone = Stored(pub.id, pub.slug, pub.title, pub.status)
        snapshot = describe(pub)
        session.execute(Slug.__table__.delete().where(Slug.publication_id == pub.id))
        session.delete(pub)
        session.add(JournalEntry(publication_id=gone.id, action="delete"))
        self._audit(session, actor, "delete", gone.id, {"record": snapshot})
        return gone


def confirm_metadata(self: Catalogue, ref: int | str) -> None:
    """Mark a publication's metadata as checked by staff (it leaves the review list)."""
    with self.session() as session:
        pub = self.get(session, ref)
        if not pub.metadata_confirmed:
            pub.metadata_confirmed = True


def attention_reasons(pub: Publication) -> list[str]:
    """Why a publication needs a person to look at it (empty when it does not)."""
    reasons = []
    if not pub.title:
        reasons.append(ATTENTION_NO_TITLE)
    version = pub.current_version
    if version is not None and "no-text-layer" in (version.file.flags or []):
        reasons.append(ATTENTION_NO_TEXT)
    if not pub.abstract:
        reasons.append(ATTENTION_NO_ABSTRACT)
    if pub.date_year is None:
        reasons.append(ATTENTION_NO_DATE)
    if not pub.metadata_confirmed:
        reasons.append(ATTENTION_UNCONFIRMED)
    return reasons


def staff_listing(
    session: Session, status: Sequence[str] | None = None, limit: int = 200
) -> list[Publication]:
    """Publications newest change first, for staff (any status unless `status` is given)."""
    q = select(Publication).options(*_load_options())
    if status is not None:
        q = q.where(Publication.status.in_(list(status)))
    return list(session.scalars(q.order_by(Publication.updated_at.desc(),
                                           Publication.id.desc()).limit(limit)))


def needing_attention(session: Session, limit: int = 100) -> list[tuple[Publication, list[str]]]:
    """Draft and published publications with something missing or unconfirmed."""
    out = []
    for pub in staff_listing(session, ("draft", "published"), limit=2000):
        reasons = attention_reasons(pub)
        if reasons:
            out.append((pub, reasons))
            if len(out) >= limit:
                break
    return out


def audit_events(
    session: Session,
    *,
    publication_id: int | None = None,
    actor: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEvent]:
    """Audit rows newest first, optionally for one publication or one person."""
    q = select(AuditEvent)
    if publication_id is not None:
        q = q.where(AuditEvent.publication_id == publication_id)
    if actor:
        q = q.where(AuditEvent.actor == actor)
    return list(session.scalars(q.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)))


def last_changed_by(session: Session, publication_id: int) -> AuditEvent | None:
    """The newest audit row about a publication (who changed it last, and when)."""
    events = audit_events(session, publication_id=publication_id, limit=1)
    return events[0] if events else None


def replace_page_texts(
    self: Catalogue, ref: int | str, pages: Sequence[str], flags: Sequence[str], *,
    proposed: dict[str, Any] | None = None, actor: str = "system",
) -> Stored:
    """Give the current file of a publication new page texts and flags (after OCR).

    `proposed` maps field names to ProposedValue (value, source) read from the new text;
    only fields the publication has empty are filled (a title for a scanned draft), each
    with its source in the provenance. The stored bytes do not change; the index is asked
    to re-read the publication in the same transaction. Raises NotFound for an unknown ref,
    InvalidRecord when the publication has no file.
    """
    with self.session() as session:
        pub = self.get(session, ref)
        version = pub.current_version
        if version is None:
            raise InvalidRecord("this publication has no file to recognise text in")
        stored = version.file
        session.execute(PageText.__table__.delete().where(PageText.file_id == stored.id))
        session.add_all(PageText(file_id=stored.id, page=i, text=text)
                        for i, text in enumerate(pages, start=1))
        stored.flags = list(flags)
        current = record_of(pub)
        filled = {name: pv for name, pv in (proposed or {}).items()
                  if name in current and not current[name] and pv.value}
        if filled:
            old_title = pub.title
            self._apply(session, pub, build_record(
                {**current, **{name: pv.value for name, pv in filled.items()}}))
            pub.provenance = {**(pub.provenance or {}),
                              **{name: pv.source for name, pv in filled.items()}}
            if pub.title != old_title:
                self._settle_slug(session, pub)
        pub.updated_at = utcnow()
        self._journal(session, pub.id)
        self._audit(session, actor, "recognise-text", pub.id,
                    {"sha256": stored.sha256, "flags": list(flags)})
        return Stored(pub.id, pub.slug, pub.title, pub.status, stored.page_count,
                      tuple(stored.flags))
