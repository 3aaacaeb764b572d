"""Read-only queries for harvesters and crawlers: records changed in a time window (OAI-PMH),
every published record with its last change (sitemaps). Drafts never appear."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publications.catalogue import _load_options, type_slug
from publications.models import Publication, PublicationTopic, Topic

VISIBLE = ("published", "withdrawn")  # withdrawn records are reported as deleted


@dataclass(frozen=True)
class Window:
    """Which records a harvest asks for: a set, a change window, and where the last page
    stopped (`after_id`). Set specs are 'type:<type-slug>' or 'topic:<topic-slug>'."""

    set_spec: str = ""
    since: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive
    after_id: int = 0


def _windowed(q, window: Window):  # type: ignore[no-untyped-def]
    q = q.where(Publication.status.in_(VISIBLE), Publication.id > window.after_id)
    if window.since is not None:
        q = q.where(Publication.updated_at >= window.since)
    if window.before is not None:
        q = q.where(Publication.updated_at < window.before)
    kind, _, value = window.set_spec.partition(":")
    if kind == "type":
        q = q.where(Publication.type == value.replace("-", " "))
    elif kind == "topic":
        q = q.where(
            Publication.id.in_(
                select(PublicationTopic.publication_id)
                .join(Topic, Topic.id == PublicationTopic.topic_id)
                .where(Topic.slug == value)
            )
        )
    elif window.set_spec:
        q = q.where(Publication.id.is_(None))  # an unknown set holds nothing
    return q


def changed(session: Session, window: Window, limit: int) -> list[Publication]:
    """Up to `limit` published or withdrawn records in `window`, by id."""
    q = _windowed(select(Publication).options(*_load_options()), window)
    return list(session.scalars(q.order_by(Publication.id).limit(limit)))


def count_changed(session: Session, window: Window) -> int:
    """How many records the whole window holds (ignoring `after_id`)."""
    whole = Window(window.set_spec, window.since, window.before, 0)
    return int(session.scalar(_windowed(select(func.count(Publication.id)), whole)) or 0)


def earliest_change(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(Publication.updated_at)).where(Publication.status.in_(VISIBLE))
    )


def sets(session: Session) -> list[tuple[str, str]]:
    """(setSpec, setName) for every type and topic holding a visible record."""
    types = session.scalars(
        select(Publication.type).where(Publication.status.in_(VISIBLE)).distinct()
    )
    out = [(f"type:{type_slug(t)}", f"Type: {t}") for t in sorted(types)]
    topics = session.execute(
        select(Topic.slug, Topic.name)
        .join(PublicationTopic, PublicationTopic.topic_id == Topic.id)
        .join(Publication, Publication.id == PublicationTopic.publication_id)
        .where(Publication.status.in_(VISIBLE))
        .distinct()
        .order_by(Topic.slug)
    ).all()
    out += [(f"topic:{slug}", f"Topic: {name}") for slug, name in topics]
    return out


def published_changes(session: Session, batch: int = 1000) -> Iterator[tuple[str, datetime]]:
    """(slug, updated_at) of every published record, by id, read in batches."""
    after = 0
    while True:
        rows = session.execute(
            select(Publication.id, Publication.slug, Publication.updated_at)
            .where(Publication.status == "published", Publication.id > after)
            .order_by(Publication.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for _, slug, updated in rows:
            yield slug, updated
        after = rows[-1][0]
