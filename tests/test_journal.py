"""The journal as a replication log: commit order, retention, and a node that fell behind."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from index import SearchIndex
from publications.catalogue import Catalogue
from publications.fields import build_record
from publications.indexer import Indexer, index_problems
from publications.models import JournalEntry
from publications.settings import Settings
from tests.cli import portal

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


def _add(cat: Catalogue, title: str) -> int:
    return cat.add(build_record({"title": title, "type": "report"}), status="published").id


def test_journal_positions_commit_in_order(catalogue: Catalogue) -> None:
    """A writer that drew its position first also commits first: a node reading the journal
    never sees a later position before an earlier one."""
    pid = _add(catalogue, "Ordering of changes")
    committed: list[str] = []
    first_has_position = threading.Event()

    def first() -> None:
        with catalogue.session() as session:
            session.add(JournalEntry(publication_id=pid))
            session.flush()  # the position is drawn now ...
            first_has_position.set()
            time.sleep(0.5)  # ... and committed later
        committed.append("first")

    def second() -> None:
        first_has_position.wait(10)
        with catalogue.session() as session:
            session.add(JournalEntry(publication_id=pid))
        committed.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert committed == ["first", "second"]
    with catalogue.reading() as session:
        rows = catalogue.pending_journal(session, 0)
    assert [r.id for r in rows] == sorted(r.id for r in rows)


def test_pruning_keeps_the_newest_change(catalogue: Catalogue) -> None:
    for n in range(3):
        _add(catalogue, f"Report number {n}")
    with catalogue.reading() as session:
        oldest, newest = catalogue.journal_bounds(session)
    assert oldest < newest
    assert catalogue.prune_journal(timedelta(days=30)) == 0  # nothing is that old
    assert catalogue.prune_journal(timedelta(0)) == newest - oldest
    with catalogue.reading() as session:
        assert catalogue.journal_bounds(session) == (newest, newest)


def test_a_node_behind_the_retention_rebuilds_and_follows(
    catalogue: Catalogue, settings: Settings
) -> None:
    node_b = SearchIndex(settings.home / "node-b-index")
    indexer = Indexer(catalogue, node_b)
    kept = _add(catalogue, "Libraries run by volunteers")
    indexer.apply_pending()
    generation = (node_b.directory / "CURRENT").read_text().strip()

    # Node B is stopped; meanwhile changes arrive and old journal rows are pruned.
    later = [_add(catalogue, f"Council procurement study {n}") for n in range(3)]
    catalogue.update(kept, {"title": "Libraries run by volunteers, revised"})
    catalogue.prune_journal(timedelta(0))
    problems = index_problems(catalogue, node_b)
    assert problems and "changes it never saw are gone" in problems[0].message

    indexer.apply_pending()
    assert (node_b.directory / "CURRENT").read_text().strip() != generation  # a new build
    assert node_b.doc_ids() == {kept, *later}
    with catalogue.reading() as session:
        assert node_b.last_applied() == catalogue.journal_head(session)
    assert index_problems(catalogue, node_b) == []

    # ... and from there it follows the journal again, without another rebuild.
    generation = (node_b.directory / "CURRENT").read_text().strip()
    newest = _add(catalogue, "Health commissioning")
    assert indexer.apply_pending() == 1
    assert newest in node_b.doc_ids()
    assert (node_b.directory / "CURRENT").read_text().strip() == generation
    node_b.close()


def test_an_index_ahead_of_the_catalogue_is_rebuilt(
    catalogue: Catalogue, settings: Settings
) -> None:
    """A catalogue restored from an older backup: the node's position is past its journal."""
    index = SearchIndex(settings.index_dir)
    pid = _add(catalogue, "Only one publication")
    Indexer(catalogue, index).apply_pending()
    index.set_last_applied(10_000)
    Indexer(catalogue, index).apply_pending()
    assert index.doc_ids() == {pid}
    with catalogue.reading() as session:
        assert index.last_applied() == catalogue.journal_head(session)
    index.close()


def test_a_bad_retention_is_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JOURNAL_RETENTION_DAYS"):
        Settings(home=tmp_path, journal_retention_days=-1)
    assert Settings.from_env(
        {"PORTAL_HOME": str(tmp_path), "PORTAL_JOURNAL_RETENTION_DAYS": "0.5"}
    ).journal_retention_days == 0.5


def test_the_cli_names_a_bad_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import cli

    env = cli.portal_env(tmp_path)
    monkeypatch.setattr(
        cli, "portal_env", lambda home: {**env, "PORTAL_JOURNAL_RETENTION_DAYS": "soon"}
    )
    run = portal(tmp_path, "check")
    assert run.code != 0
    assert "PORTAL_JOURNAL_RETENTION_DAYS must be a number" in run.stderr
