"""Adding, replacing, deleting, status visibility and bookkeeping."""

from __future__ import annotations

from dataclasses import replace

from index import SearchIndex, SearchRequest

from .conftest import BY_ID, DOCS


def ids(ix: SearchIndex, q: str, **kw) -> list[int]:
    return [h.id for h in ix.search(SearchRequest(q, **kw)).hits]


def test_add_and_inventory(ix: SearchIndex) -> None:
    assert ix.doc_ids() == {d.id for d in DOCS}
    assert ix.doc_count() == len(DOCS)


def test_replace_changes_text_and_pages(ix: SearchIndex) -> None:
    new = replace(BY_ID[2], title="Allotments", abstract="Allotment waiting lists.", pages=("Allotments.",))
    ix.add_or_replace([new])
    assert ids(ix, "parks green spaces") == [1] or 2 not in ids(ix, "green spaces")
    assert ids(ix, "allotments") == [2]
    assert ix.doc_count() == len(DOCS)
    # old page documents are gone: searching within finds only the new page
    res = ix.search(SearchRequest("allotments", within=2))
    assert [p.page for p in res.hits[0].pages] == [1]
    assert ix.search(SearchRequest("friends", within=2)).total == 0


def test_same_id_twice_in_one_batch_keeps_last(tmp_path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    a = replace(BY_ID[2], title="First version")
    b = replace(BY_ID[2], title="Second version")
    ix.add_or_replace([a, b])
    assert ix.doc_count() == 1
    assert ix.search(SearchRequest("version")).hits[0].title == "Second version"


def test_delete_removes_publication_and_pages(ix: SearchIndex) -> None:
    ix.delete([1])
    assert 1 not in ix.doc_ids()
    assert 1 not in ids(ix, "library closures volunteers")
    assert ix.search(SearchRequest("volunteers", within=1)).total == 0


def test_drafts_and_withdrawn_never_public(ix: SearchIndex) -> None:
    public = ids(ix, "libraries", limit=50)
    assert 4 not in public and 5 not in public
    assert 4 not in ids(ix, "", limit=50) and 5 not in ids(ix, "", limit=50)
    staff = ids(ix, "libraries", limit=50, include_unpublished=True)
    assert {4, 5} <= set(staff)
    assert all(h.id not in (4, 5) for h in ix.more_like_this(1, limit=10))
    assert ix.search(SearchRequest("draft", within=4)).total == 0


def test_last_applied_round_trip(ix: SearchIndex) -> None:
    assert ix.last_applied() is None
    ix.set_last_applied(41)
    assert ix.last_applied() == 41
    ix.add_or_replace([BY_ID[3]], last_applied=42)
    assert ix.last_applied() == 42
    ix.delete([3], last_applied=43)
    assert ix.last_applied() == 43
    assert ix.doc_count() == len(DOCS) - 1  # the meta document is not a publication


def test_reader_sees_other_writers_commits(tmp_path) -> None:
    reader = SearchIndex(tmp_path / "ix")
    writer = SearchIndex(tmp_path / "ix")
    assert reader.search(SearchRequest("parks")).total == 0
    writer.add_or_replace([BY_ID[2]])
    assert reader.search(SearchRequest("parks")).total == 1
    writer.delete([2])
    assert reader.search(SearchRequest("parks")).total == 0


def test_writer_waits_for_lock(tmp_path) -> None:
    import threading
    import time

    from whoosh import index as windex

    ix = SearchIndex(tmp_path / "ix", lock_timeout=10)
    ix.add_or_replace([BY_ID[3]])
    raw = windex.open_dir(str(ix.directory / ix._layout.current_name()))
    w = raw.writer()  # another writer holds the lock for a moment
    threading.Timer(0.3, w.cancel).start()
    t = time.monotonic()
    ix.add_or_replace([BY_ID[2]])  # retried with backoff, no LockError
    assert time.monotonic() - t >= 0.2
    assert ix.doc_ids() == {2, 3}
    raw.close()


def test_writer_cancels_on_error(ix: SearchIndex) -> None:
    bad = replace(BY_ID[2], id="not a number")  # type: ignore[arg-type]
    try:
        ix.add_or_replace([BY_ID[3], bad])
    except ValueError:
        pass
    assert ix.doc_ids() == {d.id for d in DOCS}
    ix.add_or_replace([replace(BY_ID[2], title="Still writable")])
    assert ids(ix, "writable") == [2]
