"""Rebuild into a new generation with an atomic swap; schema versions; unavailable index."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from index import SCHEMA_VERSION, IndexUnavailable, SearchIndex, SearchRequest

from .conftest import BY_ID, DOCS


def test_rebuild_swaps_and_old_reader_keeps_working(ix: SearchIndex, tmp_path: Path) -> None:
    reader = SearchIndex(ix.directory)
    assert reader.search(SearchRequest("austerity")).total == 1  # opened before the rebuild
    renamed = replace(BY_ID[2], title="Urban parks", abstract="Urban parks renamed.")
    seen_during: list[int] = []

    def progress(n: int) -> None:
        # while the new generation is being written, readers still get the full old index
        seen_during.append(reader.search(SearchRequest("libraries")).total)

    before = ix._layout.current_name()
    ix.rebuild([*DOCS[:1], renamed, *DOCS[2:]], total=len(DOCS), progress=progress, batch_size=2,
               last_applied=99)
    after = ix._layout.current_name()
    assert before != after
    assert seen_during and all(n > 0 for n in seen_during)
    assert reader.search(SearchRequest("urban")).total == 1
    assert reader.doc_ids() == {d.id for d in DOCS}
    assert reader.last_applied() == 99
    # the previous generation is kept for readers that still hold it; older ones go
    ix.rebuild(DOCS)
    gens = ix._layout.generations()
    assert before not in gens and after in gens and len(gens) == 2


def test_failed_rebuild_leaves_live_index(ix: SearchIndex) -> None:
    def docs():
        yield DOCS[0]
        raise RuntimeError("catalogue went away")

    live = ix._layout.current_name()
    with pytest.raises(RuntimeError):
        ix.rebuild(docs())
    assert ix._layout.current_name() == live
    assert ix.doc_count() == len(DOCS)
    assert ix._layout.generations() == [live]


def test_schema_version(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix", create=False)
    assert ix.schema_version == SCHEMA_VERSION
    assert ix.stored_schema_version() is None and ix.needs_rebuild()
    ix.rebuild(DOCS)
    assert ix.stored_schema_version() == SCHEMA_VERSION and not ix.needs_rebuild()
    meta = ix.directory / ix._layout.current_name() / "portal-index.json"
    meta.write_text('{"schema_version": 0}')
    assert ix.needs_rebuild()


def test_missing_index_is_unavailable(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "nothing", create=False)
    with pytest.raises(IndexUnavailable):
        ix.search(SearchRequest("x"))


def test_corrupt_index_is_unavailable(ix: SearchIndex) -> None:
    gen = ix.directory / ix._layout.current_name()
    ix.close()
    for f in gen.glob("*.toc"):
        f.write_bytes(b"garbage")
    fresh = SearchIndex(ix.directory)
    with pytest.raises(IndexUnavailable):
        fresh.search(SearchRequest("libraries"))


def test_rebuild_from_empty_directory(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix", create=False)
    counts: list[int] = []
    ix.rebuild(iter(DOCS), progress=counts.append, batch_size=4)
    assert counts[-1] == len(DOCS)
    assert ix.doc_count() == len(DOCS)
