"""Indexing alongside a batch: the segment a batch's publications get while the batch runs is
listed in the index only when nothing else changed the catalogue meanwhile; otherwise the
ordinary journal replay brings the index up to date, and readers never see a stale version."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import SearchIndex, SearchRequest
from publications.catalogue import Catalogue
from publications.fields import build_record
from publications.indexer import Indexer, IndexingAlongside, index_problems
from publications.settings import Settings
from tests.cli import portal
from tests.pdfs import report_pdf, write

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


def _add(cat: Catalogue, title: str) -> int:
    return cat.add(build_record({"title": title, "type": "report"}), status="published").id


def _found(index: SearchIndex, words: str) -> list[int]:
    return sorted(h.id for h in index.search(SearchRequest(words, limit=50)).hits)


@pytest.fixture
def indexer(catalogue: Catalogue, settings: Settings):  # type: ignore[no-untyped-def]
    index = SearchIndex(settings.home / "index")
    yield Indexer(catalogue, index)
    index.close()


def _built_dirs(index: SearchIndex) -> list[Path]:
    return list(index.directory.glob("gen-*/.built-*"))


def test_a_batch_indexed_alongside_is_listed_and_current(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    earlier = _add(catalogue, "Library opening hours")
    indexer.apply_pending()
    segments = indexer.index.segment_count()
    with IndexingAlongside(indexer, expected=6, minimum=2) as alongside:
        ids = [_add(catalogue, f"Rural bus services, report {n}") for n in range(6)]
        for pub_id in ids:
            alongside.stored(pub_id)
        assert alongside.finish() is True
    assert indexer.pending() == 0  # the journal position came with the segment
    assert _found(indexer.index, "rural bus") == ids
    assert _found(indexer.index, "library opening") == [earlier]
    assert index_problems(catalogue, indexer.index) == []
    assert _built_dirs(indexer.index) == []
    # the batch's segment, and one for the journal position
    assert indexer.index.segment_count() <= segments + 2


def test_a_new_version_replaces_the_indexed_one(catalogue: Catalogue, indexer: Indexer) -> None:
    pub_id = _add(catalogue, "Hospital waiting times")
    indexer.apply_pending()
    with IndexingAlongside(indexer, expected=2, minimum=1) as alongside:
        catalogue.update(pub_id, {"title": "Dental waiting lists"})
        alongside.stored(pub_id)
        assert alongside.finish() is True
    assert _found(indexer.index, "hospital") == []
    assert _found(indexer.index, "dental") == [pub_id]
    assert indexer.index.doc_count() == 1


def test_a_change_made_after_the_last_hand_over_is_replayed_after_the_segment(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    with IndexingAlongside(indexer, expected=3, minimum=1) as alongside:
        ids = [_add(catalogue, f"Housing repairs {n}") for n in range(3)]
        for pub_id in ids:
            alongside.stored(pub_id)
        catalogue.update(ids[0], {"title": "Council housing retrofit"})  # e.g. a staff edit
        assert alongside.finish() is True  # listed up to the last hand-over
    assert indexer.pending() == 1  # the edit, after the segment's position
    indexer.apply_pending()
    assert _found(indexer.index, "retrofit") == [ids[0]]
    assert _found(indexer.index, "repairs") == ids[1:]
    assert index_problems(catalogue, indexer.index) == []
    assert _built_dirs(indexer.index) == []


def test_a_change_between_hand_overs_is_not_lost(catalogue: Catalogue, indexer: Indexer) -> None:
    with IndexingAlongside(indexer, expected=2, minimum=1) as alongside:
        first = _add(catalogue, "Housing repairs")
        alongside.stored(first)
        catalogue.update(first, {"title": "Council housing retrofit"})  # the segment's is older
        second = _add(catalogue, "Damp and mould in rented homes")
        alongside.stored(second)
        assert alongside.finish() is False
    indexer.apply_pending()
    assert _found(indexer.index, "retrofit") == [first]
    assert _found(indexer.index, "repairs") == []
    assert _found(indexer.index, "mould") == [second]
    assert index_problems(catalogue, indexer.index) == []
    assert _built_dirs(indexer.index) == []


def test_another_change_during_the_batch_is_replayed(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    with IndexingAlongside(indexer, expected=3, minimum=1) as alongside:
        mine = _add(catalogue, "School transport costs")
        alongside.stored(mine)
        other = _add(catalogue, "Museum visitor numbers")  # an upload on the web meanwhile
        last = _add(catalogue, "School meals uptake")
        alongside.stored(last)
        assert alongside.finish() is False  # the segment would claim the upload indexed
    indexer.apply_pending()
    assert _found(indexer.index, "school") == [mine, last]
    assert _found(indexer.index, "museum") == [other]


def test_a_batch_cut_in_two_lists_both_parts(catalogue: Catalogue, indexer: Indexer) -> None:
    indexer.apply_pending()
    segments = indexer.index.segment_count()
    with IndexingAlongside(indexer, expected=5, minimum=1) as alongside:
        ids = [_add(catalogue, f"Rural broadband, report {n}") for n in range(3)]
        for pub_id in ids:
            alongside.stored(pub_id)
        alongside.cut()  # the first part is finished and listed in the background
        alongside._listing.join()  # type: ignore[union-attr]
        assert _found(indexer.index, "rural broadband") == ids  # found while the batch goes on
        more = [_add(catalogue, f"Rural broadband, annex {n}") for n in range(2)]
        for pub_id in more:
            alongside.stored(pub_id)
        assert alongside.finish() is True
    assert indexer.pending() == 0
    assert _found(indexer.index, "rural broadband") == ids + more
    assert _found(indexer.index, "annex") == more
    # two parts, each listed with a segment for its journal position
    assert indexer.index.segment_count() <= segments + 4
    assert index_problems(catalogue, indexer.index) == []
    assert _built_dirs(indexer.index) == []


def test_a_change_after_a_cut_leaves_the_second_part_to_the_journal(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    with IndexingAlongside(indexer, expected=4, minimum=1) as alongside:
        first = [_add(catalogue, f"Bus lanes {n}") for n in range(2)]
        for pub_id in first:
            alongside.stored(pub_id)
        alongside.cut()
        catalogue.update(first[0], {"title": "Pedestrian crossings"})  # a part already finished
        second = [_add(catalogue, f"Tram routes {n}") for n in range(2)]
        for pub_id in second:
            alongside.stored(pub_id)
        assert alongside.finish() is False
    indexer.apply_pending()
    assert _found(indexer.index, "pedestrian") == [first[0]]
    assert _found(indexer.index, "bus lanes") == [first[1]]
    assert _found(indexer.index, "tram routes") == second
    assert index_problems(catalogue, indexer.index) == []
    assert _built_dirs(indexer.index) == []


def test_an_index_moved_on_by_another_writer_is_not_overwritten(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    with IndexingAlongside(indexer, expected=2, minimum=1) as alongside:
        pub_id = _add(catalogue, "Air quality monitoring")
        alongside.stored(pub_id)
        catalogue.update(pub_id, {"title": "Air quality monitoring near schools"})
        indexer.apply_pending()  # e.g. the web server's indexer applied both rows
        assert alongside.finish() is False
    assert indexer.pending() == 0
    assert _found(indexer.index, "schools") == [pub_id]


def test_a_small_batch_is_left_to_the_journal(catalogue: Catalogue, indexer: Indexer) -> None:
    with IndexingAlongside(indexer, expected=3) as alongside:  # under the default minimum
        pub_id = _add(catalogue, "Parks maintenance")
        alongside.stored(pub_id)
        assert alongside.finish() is False
    assert indexer.pending() > 0
    indexer.apply_pending()
    assert _found(indexer.index, "parks") == [pub_id]


def test_portal_ingest_of_a_folder_is_searchable_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    topics = ["libraries", "buses", "housing", "schools", "parks", "museums", "clinics",
              "bridges", "markets", "ferries"]
    for n, topic in enumerate(topics):
        write(folder / f"{topic}.pdf",
              report_pdf(f"Local {topic} review {n}", f"A review of {topic} in the district."))
    home = tmp_path / "home"
    run = portal(home, "ingest", "--json", "--jobs", "2", "--publish", str(folder))
    assert run.code == 0, run.stderr
    added = run.lines
    assert [row["status"] for row in added] == ["added"] * len(topics)
    for topic in ("ferries", "libraries", "museums"):
        found = portal(home, "search", "--json", topic)
        assert found.code == 0, found.stderr
        assert [hit["title"] for hit in found.lines[0]["hits"]][:1] == [
            next(row["title"] for row in added if topic in row["title"].lower())]
    check = portal(home, "check")
    assert check.code == 0, check.stdout + check.stderr
    assert not list((home / "index").glob("gen-*/.built-*"))


def test_an_index_that_cannot_be_opened_costs_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    for n in range(9):
        write(folder / f"report-{n}.pdf", report_pdf(f"Harbour dredging {n}", "Silt levels."))
    home = tmp_path / "home"
    home.mkdir()
    (home / "index").write_text("not a directory")  # e.g. a mistaken PORTAL_INDEX_DIR
    run = portal(home, "ingest", "--json", "--jobs", "2", "--publish", str(folder))
    assert run.code == 0, run.stderr
    assert [row["status"] for row in run.lines] == ["added"] * 9
    assert "the search index was not updated" in run.stderr
    (home / "index").unlink()
    assert portal(home, "reindex").code == 0
    found = portal(home, "search", "--json", "harbour dredging")
    assert found.code == 0, found.stderr
    assert len(found.lines[0]["hits"]) == 9


def test_an_index_error_when_the_batch_opens_it_costs_no_file(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is opened when the first publication is stored: a failure there (here an
    unexpected one) must not be reported as that file's, nor stop the batch."""
    from portal.cli import Context, _run_indexing_alongside
    from publications.ingest import Ingester, Job, Outcome

    folder = tmp_path / "in"
    for n in range(9):
        write(folder / f"report-{n}.pdf", report_pdf(f"Tidal energy {n}", "Lagoon costs."))

    def broken(self: Context) -> Indexer:
        raise RuntimeError("the index is in a state nobody expected")

    monkeypatch.setattr(Context, "indexer", property(broken))
    ctx = Context(settings)
    outcomes: list[Outcome] = []
    with Ingester(ctx.catalogue, jobs=2) as ingester:
        jobs = [Job(str(p), p) for p in sorted(folder.glob("*.pdf"))]
        _run_indexing_alongside(ctx, ingester, jobs, outcomes.append)
    assert [o.status for o in outcomes] == ["added"] * 9
    ctx.close()


def test_a_worker_that_dies_costs_only_the_shortcut(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    with IndexingAlongside(indexer, expected=4, minimum=1) as alongside:
        ids = [_add(catalogue, f"Flood defences {n}") for n in range(4)]
        for pub_id in ids[:2]:
            alongside.stored(pub_id)
        worker = alongside._part.builder._worker  # type: ignore[union-attr]
        worker.process.kill()
        worker.process.wait()
        for pub_id in ids[2:]:
            alongside.stored(pub_id)
        assert alongside.finish() is False
    indexer.apply_pending()
    assert _found(indexer.index, "flood defences") == ids
    assert index_problems(catalogue, indexer.index) == []
    assert _built_dirs(indexer.index) == []


def test_what_a_killed_batch_left_is_removed_by_the_next(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    import subprocess
    import sys

    indexer.apply_pending()  # the index exists
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    generation = next(indexer.index.directory.glob("gen-*"))
    left = generation / f".built-{gone.stdout.strip()}-0a1b2c3d"
    left.mkdir()
    (left / "MAIN_x.seg").write_bytes(b"half a segment")
    with IndexingAlongside(indexer, expected=1, minimum=1) as alongside:
        assert not left.exists()
        pub_id = _add(catalogue, "Coastal erosion")
        alongside.stored(pub_id)
        assert alongside.finish() is True
    assert _found(indexer.index, "coastal erosion") == [pub_id]


def test_a_publication_handed_over_twice_is_left_to_the_journal(
    catalogue: Catalogue, indexer: Indexer
) -> None:
    """Two versions of one publication in the new segment would both be found."""
    with IndexingAlongside(indexer, expected=2, minimum=1) as alongside:
        pub_id = _add(catalogue, "Youth services funding")
        alongside.stored(pub_id)
        catalogue.update(pub_id, {"title": "Youth centres funding"})
        alongside.stored(pub_id)
        assert alongside.finish() is False
    indexer.apply_pending()
    assert _found(indexer.index, "youth") == [pub_id]
    assert indexer.index.doc_count() == 1


def test_a_catalogue_read_that_fails_leaves_the_batch_to_the_journal(
    catalogue: Catalogue, indexer: Indexer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with IndexingAlongside(indexer, expected=2, minimum=1) as alongside:
        first = _add(catalogue, "Street lighting")
        alongside.stored(first)
        second = _add(catalogue, "Street trees")
        with monkeypatch.context() as m:
            m.setattr(Catalogue, "load_many", lambda *a, **k: 1 / 0)
            alongside.stored(second)  # no exception reaches the batch
        assert alongside.finish() is False
    indexer.apply_pending()
    assert _found(indexer.index, "street") == [first, second]
    assert _built_dirs(indexer.index) == []
