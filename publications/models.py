"""The catalogue's tables, as SQLAlchemy models (the source of truth for every record)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

PUBLICATION_TYPES = (
    "report",
    "working paper",
    "briefing",
    "article",
    "book",
    "chapter",
    "newsletter",
    "presentation",
    "video",
    "other",
)
ORGANISATION_ROLES = ("publisher", "commissioned by", "partner", "funder")
STATUSES = ("draft", "published", "withdrawn")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Publication(Base):
    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(1000))
    subtitle: Mapped[str] = mapped_column(String(1000), default="")
    type: Mapped[str] = mapped_column(String(40), default="report")
    date_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    date_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    date_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    series: Mapped[str] = mapped_column(String(300), default="")
    series_number: Mapped[str] = mapped_column(String(40), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    abstract: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    licence: Mapped[str] = mapped_column(String(200), default="")
    doi: Mapped[str] = mapped_column(String(200), default="")
    isbn: Mapped[str] = mapped_column(String(40), default="")
    issn: Mapped[str] = mapped_column(String(40), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    external_link: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    # field name -> where its value came from ("staff", "document-metadata", "first-page", ...)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metadata_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # optimistic locking: a save based on an older revision is refused
    revision: Mapped[int] = mapped_column(Integer, default=1)

    authors: Mapped[list[Authorship]] = relationship(
        back_populates="publication",
        order_by="Authorship.position",
        cascade="all, delete-orphan",
    )
    organisations: Mapped[list[OrganisationRole]] = relationship(
        back_populates="publication", cascade="all, delete-orphan"
    )
    topics: Mapped[list[Topic]] = relationship(secondary="publication_topics", order_by="Topic.name")
    versions: Mapped[list[FileVersion]] = relationship(
        back_populates="publication",
        order_by="FileVersion.number",
        cascade="all, delete-orphan",
    )

    __mapper_args__ = {"version_id_col": revision}

    @property
    def date_iso(self) -> str:
        if self.date_year is None:
            return ""
        text = f"{self.date_year:04d}"
        if self.date_month:
            text += f"-{self.date_month:02d}"
            if self.date_day:
                text += f"-{self.date_day:02d}"
        return text

    @property
    def date_precision(self) -> str:
        if self.date_year is None:
            return ""
        if self.date_month is None:
            return "year"
        return "month" if self.date_day is None else "day"

    @property
    def current_version(self) -> FileVersion | None:
        for v in self.versions:
            if v.is_current:
                return v
        return None


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)


class Authorship(Base):
    __tablename__ = "authorships"
    __table_args__ = (UniqueConstraint("publication_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    position: Mapped[int] = mapped_column(Integer)
    affiliation: Mapped[str] = mapped_column(String(300), default="")

    publication: Mapped[Publication] = relationship(back_populates="authors")
    person: Mapped[Person] = relationship(lazy="joined")


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)


class OrganisationRole(Base):
    __tablename__ = "publication_organisations"
    __table_args__ = (UniqueConstraint("publication_id", "organisation_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(40), default="publisher")

    publication: Mapped[Publication] = relationship(back_populates="organisations")
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)


class PublicationTopic(Base):
    __tablename__ = "publication_topics"

    publication_id: Mapped[int] = mapped_column(
        ForeignKey("publications.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), primary_key=True)


class Slug(Base):
    """Every slug a publication has had; old ones redirect to the current one."""

    __tablename__ = "slugs"

    slug: Mapped[str] = mapped_column(String(120), primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StoredFile(Base):
    """One file in the content-addressed store, known by its SHA-256."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    unreadable_pages: Mapped[list[str]] = mapped_column(JSON, default=list)
    pdf_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FileVersion(Base):
    """A file attached to a publication; earlier versions are kept, one is current."""

    __tablename__ = "file_versions"
    __table_args__ = (UniqueConstraint("publication_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"))
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    number: Mapped[int] = mapped_column(Integer, default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    original_name: Mapped[str] = mapped_column(String(500), default="")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    publication: Mapped[Publication] = relationship(back_populates="versions")
    file: Mapped[StoredFile] = relationship(lazy="joined")


class PageText(Base):
    """Extracted text of one physical page of a stored file (page numbers count from 1)."""

    __tablename__ = "page_texts"

    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")


class JournalEntry(Base):
    """A request to bring the index up to date for one publication.

    Written in the same transaction as the change; drained in `id` order by the indexer.
    """

    __tablename__ = "index_journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publication_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(16), default="upsert")  # upsert | delete
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_publication", "publication_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(300), default="system")
    action: Mapped[str] = mapped_column(String(60))
    publication_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
