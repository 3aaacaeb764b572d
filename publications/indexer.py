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

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from index import IndexUnavailable, PublicationDoc
from publications.catalogue import Catalogue
from publications.check import Problem
from publications.models import Publication

if TYPE_CHECKING:
    from index import SearchIndex, SegmentBuilder

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


class _Part:
    """A run of the batch's publications indexed into one segment by one builder."""

    def __init__(self, builder: SegmentBuilder) -> None:
        self.builder = builder
        self.heads: dict[int, int] = {}  # publication id -> journal head when it was read
        self.position: int | None = None  # the journal position its listing stored


class IndexingAlongside:
    """Indexes the publications a batch stores while the batch goes on (a `SegmentBuilder`
    in a worker process), so that the index update does not follow the batch's last file.

    `stored(id)` hands over a publication just stored. `cut()` (when most of the batch is
    stored) finishes the segment so far in the background, so that writing its postings
    overlaps the extraction of the batch's last files; later publications go to a new part
    with a builder of its own. `finish()` lists what is left. Each part's segment is listed
    with the journal position it brings the index to, provided that the index is still at
    the position the part started from (where the batch began, or where the part before left
    it) and that every journal row from there up to the part's last hand-over is about a
    publication of the part, no newer than the version handed over. Rows after the last
    hand-over (a staff edit meanwhile) are left to the journal replay. Otherwise (an edit
    between hand-overs, another upload, another node's changes, a rebuild) nothing more is
    listed and `Indexer.apply_pending` does the rest the ordinary way; the caller runs it
    after `finish()` in any case. Batches under `minimum` publications are not worth a
    worker: they are left to `apply_pending` too.
    """

    def __init__(self, indexer: Indexer, expected: int, minimum: int = 8) -> None:
        self.indexer = indexer
        self._part: _Part | None = None  # the part publications are handed to
        self._listing: threading.Thread | None = None  # lists the parts cut so far, in order
        self._position: int | None = None  # where the index is when the next part is listed
        self._intact = True  # every part so far was listed
        self._parts = 0
        if expected < minimum:
            return
        index = indexer.index
        try:
            if index.needs_rebuild():
                return
            self._position = index.last_applied()
            self._part = _Part(index.segment_builder())
        except (IndexUnavailable, OSError):
            self._part = None

    def __enter__(self) -> IndexingAlongside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stored(self, pub_id: int | None) -> None:
        """Hand over the publication `pub_id`, as the catalogue now has it."""
        part = self._part
        if part is None or pub_id is None:
            return
        catalogue = self.indexer.catalogue
        try:
            with catalogue.reading() as session:
                pubs = catalogue.load_many(session, [int(pub_id)])
                head = catalogue.journal_head(session)
                doc = to_document(catalogue, session, pubs[0]) if pubs else None
        except Exception:  # the shortcut is optional: the journal still has the change
            self._intact = False
            self.close()
            return
        if doc is not None:
            part.heads[doc.id] = head
            part.builder.add(doc)

    def cut(self) -> None:
        """Finish the part so far in the background (see the class); the publications
        handed over next go to a new part."""
        part = self._part
        if part is None or not part.heads:
            return
        try:
            self._part = _Part(self.indexer.index.segment_builder())
        except (IndexUnavailable, OSError):
            self._part = None  # the rest of the batch is left to the journal replay
            self._intact = False
        before = self._listing

        def list_in_turn() -> None:
            if before is not None:
                before.join()
            self._list(part)

        self._listing = threading.Thread(target=list_in_turn, name="index-alongside",
                                         daemon=True)
        self._listing.start()

    def finish(self) -> bool:
        """List the parts not yet listed; True if every part was (see the class)."""
        if self._listing is not None:
            self._listing.join()
            self._listing = None
        part, self._part = self._part, None
        if part is not None:
            if part.heads:
                self._list(part)
            else:
                part.builder.close()
        return self._intact and self._parts > 0

    def close(self) -> None:
        if self._listing is not None:
            self._listing.join()
            self._listing = None
        if self._part is not None:
            self._part.builder.close()
            self._part = None

    def _list(self, part: _Part) -> None:
        """List `part`'s segment if it is still current (see the class); parts are listed
        in the order they were cut, each from where the one before left the index."""
        if not self._intact:
            part.builder.close()
            return
        start = self._position
        try:
            listed = part.builder.commit(lambda position: self._ready(part, start, position))
        except Exception:  # the shortcut is optional: apply_pending, which follows, does
            listed = False  # the update and reports what is wrong with the index
        if listed:
            self._position = part.position
            self._parts += 1
        else:
            self._intact = False

    def _ready(self, part: _Part, start: int | None, position: int | None) -> int | None:
        """The journal position `part`'s publications bring the index to from `position`
        (which must be `start`), or None if the rows since then, up to the part's last
        hand-over, are not all theirs (rows after it are left to the journal replay)."""
        part.position = None
        if position != start or not part.heads:
            return None
        after = position or 0
        upto = max(part.heads.values())
        catalogue = self.indexer.catalogue
        with catalogue.reading() as session:
            oldest, newest = catalogue.journal_bounds(session)
            if newest <= after or _position_lost(after, oldest, newest):
                return None
            limit = upto - after
            if limit > 10 * len(part.heads):  # far more changes than this part made
                return None
            rows = [row for row in catalogue.pending_journal(session, after, limit=limit)
                    if row.id <= upto]
        for row in rows:
            head = part.heads.get(row.publication_id)
            if head is None or row.id > head:
                return None
        part.position = rows[-1].id if rows else None
        return part.position


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
