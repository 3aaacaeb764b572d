"""Keeps the search index true to the catalogue: drains the journal, rebuilds from stored text.

The journal row for a change commits with the change; this module is the single consumer on
each node (every node has its own index and replays the same shared journal). The index
stores the id of the last journal row it applied, in the same commit as the documents, so a
crash at any point (even SIGKILL) leaves at worst rows that are applied again, which replaces
the same documents (harmless). Journal ids are committed in increasing order (see
`publications.db`), so "everything after my position" is exactly what a node has not seen,
unless old rows were pruned: then the node rebuilds from the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from index import IndexUnavailable, PublicationDoc, SearchIndex, SegmentBuilder
from publications.catalogue import Catalogue
from publications.check import Problem
from publications.models import Publication

BATCH = 200
# A never-applied index replays a journal up to this long; longer, it is built in one pass.
FIRST_BUILD_REPLAY_LIMIT = 2000


def to_document(catalogue: Catalogue, session: Session, pub: Publication) -> PublicationDoc:
    """The index's view of a publication: its metadata and the text of each page."""
    version = pub.current_version
    pages: tuple[str, ...] = ()
    if version is not None:
        pages = tuple(catalogue.page_texts(session, version.file_id))
    return PublicationDoc(
        id=pub.id,
        slug=pub.slug,
        title=pub.title,
        subtitle=pub.subtitle,
        authors=tuple(a.person.name for a in pub.authors),
        organisations=tuple(o.organisation.name for o in pub.organisations),
        topics=tuple(t.name for t in pub.topics),
        keywords=tuple(pub.keywords or ()),
        abstract=pub.abstract,
        body="\n\n".join(pages),
        type=pub.type,
        year=pub.date_year,
        date=pub.date_iso,
        series=pub.series,
        language=pub.language or "en",
        status=pub.status,
        pages=pages,
    )


class Indexer:
    """The one writer that brings the index up to date from the catalogue's journal."""

    def __init__(self, catalogue: Catalogue, index: SearchIndex) -> None:
        self.catalogue = catalogue
        self.index = index

    def pending(self) -> int:
        """How many journal rows the index has not applied yet."""
        with self.catalogue.reading() as session:
            head = self.catalogue.journal_head(session)
        return max(0, head - (self.index.last_applied() or 0))

    def apply_pending(self, batch: int = BATCH) -> int:
        """Apply every journal row after the index's position; returns rows applied."""
        if self.index.needs_rebuild():
            self.rebuild()
            return 0
        applied = 0
        while True:
            position_or_none = self.index.last_applied()
            after = position_or_none or 0
            with self.catalogue.reading() as session:
                rows = self.catalogue.pending_journal(session, after, limit=batch)
                # Read after the rows: a prune that removed any of them shows here.
                oldest, newest = self.catalogue.journal_bounds(session)
                # An index that never applied anything (a new node joining a catalogue with
                # a long history) is built in one pass rather than by replaying the whole
                # journal; a short journal that still starts at row 1 is simply replayed
                # (no generation to write and swap: a fresh data home's first ingest).
                lost = _position_lost(after, oldest, newest) or (
                    position_or_none is None and newest - after > FIRST_BUILD_REPLAY_LIMIT
                )
                if not lost:
                    if not rows:
                        return applied
                    position = rows[-1].id
                    ids = sorted({r.publication_id for r in rows})
                    pubs = {p.id: p for p in self.catalogue.load_many(session, ids)}
                    docs = [
                        to_document(self.catalogue, session, pubs[i]) for i in ids if i in pubs
                    ]
                    gone = [i for i in ids if i not in pubs]
            if lost:
                # Rows this index never saw were pruned (or the catalogue was replaced, or the
                # index is new): build a new generation from the catalogue; readers keep the
                # current one meanwhile.
                self.rebuild()
                return applied
            if gone:
                self.index.delete(gone)
            self.index.add_or_replace(docs, last_applied=position)
            applied += len(rows)

    def documents(self) -> Iterator[PublicationDoc]:
        """Every publication as a document, loaded in batches so memory stays bounded."""
        last_id = 0
        while True:
            with self.catalogue.reading() as session:
                ids = list(
                    session.scalars(
                        select(Publication.id)
                        .where(Publication.id > last_id)
                        .order_by(Publication.id)
                        .limit(BATCH)
                    )
                )
                if not ids:
                    return
                for pub in self.catalogue.load_many(session, ids):
                    yield to_document(self.catalogue, session, pub)
                last_id = ids[-1]

    def rebuild(self, progress: Callable[[int], None] | None = None, processes: int = 1) -> int:
        """Build a fresh index beside the live one and swap it in; returns publications.

        With `processes` > 1, that many worker processes write the index side by side.
        """
        with self.catalogue.reading() as session:
            position = self.catalogue.journal_head(session)
            total = self.catalogue.count(session, status=None)
        self.index.rebuild(self.documents(), total=total, progress=progress, last_applied=position,
                           processes=processes)
        # Changes committed while the rebuild ran are in the journal after `position`.
        self.apply_pending()
        return total


class IndexingAlongside:
    """Indexes the publications a batch stores while the batch goes on (a `SegmentBuilder`
    in a worker process), so that the index update does not follow the batch's last file.

    `stored(id)` hands over a publication just stored; `finish()` lists the segment in the
    index with the journal position it brings the index to, provided that every journal row
    between the position the index had when the batch began and now is about a publication
    handed over, no newer than the version handed over, and that the index's position has
    not moved meanwhile. Otherwise (a staff edit during the batch, another node's changes, a
    rebuild) nothing is listed and `Indexer.apply_pending` does the update the ordinary way;
    the caller runs it after `finish()` in any case. Batches under `minimum` publications
    are not worth a worker: they are left to `apply_pending` too.
    """

    def __init__(self, indexer: Indexer, expected: int, minimum: int = 8) -> None:
        self.indexer = indexer
        self._builder: SegmentBuilder | None = None
        self._heads: dict[int, int] = {}  # publication id -> journal head when it was read
        self._start: int | None = None
        if expected < minimum:
            return
        index = indexer.index
        try:
            if index.needs_rebuild():
                return
            self._start = index.last_applied()
            self._builder = index.segment_builder()
        except (IndexUnavailable, OSError):
            self._builder = None

    def __enter__(self) -> IndexingAlongside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stored(self, pub_id: int | None) -> None:
        """Hand over the publication `pub_id`, as the catalogue now has it."""
        if self._builder is None or pub_id is None:
            return
        catalogue = self.indexer.catalogue
        try:
            with catalogue.reading() as session:
                pubs = catalogue.load_many(session, [int(pub_id)])
                head = catalogue.journal_head(session)
                doc = to_document(catalogue, session, pubs[0]) if pubs else None
        except Exception:  # the shortcut is optional: the journal still has the change
            self.close()
            return
        if doc is not None:
            self._heads[doc.id] = head
            self._builder.add(doc)

    def finish(self) -> bool:
        """List what was indexed if it is still current (see the class); True if it was."""
        builder, self._builder = self._builder, None
        if builder is None:
            return False
        try:
            return builder.commit(self._ready)
        except Exception:  # the shortcut is optional: apply_pending, which follows, does
            return False  # the update and reports what is wrong with the index

    def close(self) -> None:
        if self._builder is not None:
            self._builder.close()
            self._builder = None

    def _ready(self, position: int | None) -> int | None:
        """The journal position the handed-over publications bring the index to from
        `position`, or None if the rows since the batch began are not all theirs."""
        if position != self._start or not self._heads:
            return None
        after = position or 0
        catalogue = self.indexer.catalogue
        with catalogue.reading() as session:
            oldest, newest = catalogue.journal_bounds(session)
            if newest <= after or _position_lost(after, oldest, newest):
                return None
            limit = newest - after
            if limit > 10 * len(self._heads):  # far more changes than this batch made
                return None
            rows = catalogue.pending_journal(session, after, limit=limit)
        for row in rows:
            head = self._heads.get(row.publication_id)
            if head is None or row.id > head:
                return None
        return rows[-1].id if rows else None


def _position_lost(applied: int, oldest: int, newest: int) -> bool:
    """True when the journal no longer holds every change after position `applied`.

    Pruning removes a prefix of the journal, so rows after `applied` are gone exactly when the
    oldest kept row is past `applied + 1` (an id never used, from a rolled-back transaction,
    can make this say so needlessly; the cost is one rebuild). A position past the newest row
    means the catalogue is not the one this index was built from (restored, or replaced).
    """
    if applied > newest:
        return True
    return oldest > applied + 1


def index_problems(catalogue: Catalogue, index: SearchIndex) -> list[Problem]:
    """Disagreements between the catalogue and the index (for `portal check`)."""
    problems: list[Problem] = []
    if not index.exists():
        return [Problem("index", "there is no search index (run `portal reindex`)")]
    if index.needs_rebuild():
        problems.append(
            Problem(
                "index",
                f"the index has schema version {index.stored_schema_version()}, the code "
                f"{index.schema_version} (run `portal reindex --if-needed`)",
            )
        )
    with catalogue.reading() as session:
        ids = set(session.scalars(select(Publication.id)))
        head = catalogue.journal_head(session)
    applied = index.last_applied() or 0
    with catalogue.reading() as session:
        oldest, newest = catalogue.journal_bounds(session)
    if _position_lost(applied, oldest, newest):
        problems.append(
            Problem(
                "index",
                f"this node's index ({index.directory}) is at journal position {applied}, "
                f"but the journal now starts at {oldest} and ends at {newest}: changes it "
                "never saw are gone (run `portal reindex`; `portal serve` rebuilds by itself)",
            )
        )
        return problems
    if applied < head:
        problems.append(
            Problem("index", f"{head - applied} journal change(s) are not yet in the index")
        )
        return problems  # the sets below are expected to differ until they are applied
    in_index = index.doc_ids()
    for pid in sorted(ids - in_index)[:50]:
        problems.append(Problem("index", f"publication {pid} is missing from the index"))
    for pid in sorted(in_index - ids)[:50]:
        problems.append(Problem("index", f"the index has publication {pid}, the catalogue not"))
    return problems
