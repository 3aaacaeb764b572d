"""Several portal nodes on one PostgreSQL catalogue, each with its own index replica.

Real `portal serve` processes on loopback; changes are made with the `portal` command run as
an operator of one node. Skipped without PORTAL_TEST_POSTGRES_URL (failed under CI=true).
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import SearchIndex
from tests import pdfs
from tests.nodes import Node, make_nodes, wait_for
from tests.pg import fresh_schema

pytestmark = pytest.mark.slow

# How long a change may take to reach another node's search in these tests. The design
# target is a few seconds (the indexer polls every second); the margin absorbs a loaded
# machine, and the tests print what they measured.
PROPAGATION = 30.0


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    with fresh_schema() as url:
        started = make_nodes(tmp_path, url)
        try:
            yield started
        finally:
            for node in started:
                node.stop()


def _write_reports(directory: Path, titles: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for n, title in enumerate(titles):
        body = "Reading rooms and volunteer librarians across the county"
        pdfs.write(directory / f"{n:03d}.pdf", pdfs.report_pdf(title, body, 2))
    return directory


def _ingest(node: Node, directory: Path) -> list[dict]:
    run = node.cli("ingest", "--publish", "--json", "--jobs", "2", str(directory))
    assert run.code == 0, run.stderr
    assert all(line["status"] == "added" for line in run.lines), run.stdout
    return run.lines


def _total(node: Node, q: str) -> int:
    return int(node.search(q)["total"])


def test_a_change_on_one_node_reaches_the_other(nodes: list[Node], tmp_path: Path) -> None:
    a, b = nodes
    a.start()
    b.start()

    # Published through A ...
    added = _ingest(a, _write_reports(tmp_path / "in", ["Community libraries after austerity"]))
    slug = added[0]["slug"]
    took = wait_for(lambda: "Community libraries after austerity" in b.titles("libraries"),
                    PROPAGATION, "the publication found by a search on node B")
    print(f"\npublished on A, found on B after {took:.1f} s")

    # ... edited on B shows on A ...
    run = b.cli("edit", slug, "--set", "title=Community libraries after the cuts")
    assert run.code == 0, run.stderr
    took = wait_for(lambda: "Community libraries after the cuts" in a.titles("libraries cuts"),
                    PROPAGATION, "the edited title in node A's search")
    print(f"edited on B, shown on A after {took:.1f} s")

    # ... withdrawn on either disappears from both.
    run = a.cli("withdraw", slug, "--reason", "Superseded by the 2024 edition")
    assert run.code == 0, run.stderr
    for node in (a, b):
        wait_for(lambda node=node: _total(node, "libraries") == 0, PROPAGATION,
                 f"the withdrawn publication gone from node {node.name}'s search")
        assert node.status(f"/publications/{added[0]['slug']}") == 410

    # Each node's `portal check` compares its own index with the shared catalogue.
    for node in (a, b):
        run = node.cli("check")
        assert run.code == 0, run.stdout + run.stderr
        assert "agree" in run.stdout


def test_a_stopped_node_catches_up_and_one_past_the_retention_rebuilds(
    nodes: list[Node], tmp_path: Path
) -> None:
    a, b = nodes
    a.start()
    b.start()
    _ingest(a, _write_reports(tmp_path / "first", ["Libraries survey one"]))
    wait_for(lambda: _total(b, "libraries") == 1, PROPAGATION, "node B has the first report")
    b.stop()

    # While B is down, A takes 50 uploads.
    titles = [f"Volunteer libraries study {n}" for n in range(50)]
    _ingest(a, _write_reports(tmp_path / "fifty", titles))
    assert _total(a, "libraries") == 51

    seen: list[int] = []
    b.start()
    took = wait_for(lambda: seen.append(_total(b, "libraries")) or seen[-1] == 51,
                    PROPAGATION * 2, "node B caught up with the 50 uploads")
    assert min(seen) >= 1, seen  # a reader on B never saw an empty index
    print(f"\nnode B caught up with 50 uploads {took:.1f} s after it answered")
    b.stop()

    # B down again; A keeps one day's journal ... of about a second, and prunes.
    generation = (b.index_dir / "CURRENT").read_text()
    # (Two changes: pruning always keeps the newest row, so B misses the first.)
    _ingest(a, _write_reports(tmp_path / "late", ["Libraries late report", "Libraries last"]))
    a.stop()
    time.sleep(2)
    a.start(PORTAL_JOURNAL_RETENTION_DAYS=str(1 / 86400))
    wait_for(lambda: "changes it never saw are gone" in b.cli("check").stdout,
             PROPAGATION, "the journal pruned past node B's position")

    seen = []
    b.start()
    wait_for(lambda: seen.append(_total(b, "libraries")) or seen[-1] == 53,
             PROPAGATION * 2, "node B rebuilt and has every publication")
    assert min(seen) >= 51, seen  # the old generation served until the new one was ready
    assert (b.index_dir / "CURRENT").read_text() != generation
    run = b.cli("check")
    assert run.code == 0, run.stdout + run.stderr


def test_a_node_killed_while_applying_the_journal_resumes(
    nodes: list[Node], tmp_path: Path
) -> None:
    a, b = nodes
    a.start()
    b.start()
    wait_for(lambda: (b.index_dir / "CURRENT").exists(), PROPAGATION, "node B has an index")
    b.stop()
    titles = [f"Library services review {n}" for n in range(50)]
    _ingest(a, _write_reports(tmp_path / "fifty", titles))
    a.stop()

    # Start B and SIGKILL it at random moments while it works through the 50 changes.
    rng = random.Random(9)
    for _ in range(4):
        b.start()
        time.sleep(rng.uniform(0.0, 1.5))
        b.stop(signal.SIGKILL)

    b.start()
    wait_for(lambda: _total(b, "library services") == 50, PROPAGATION * 2,
             "node B has every publication after the kills")
    b.stop()
    index = SearchIndex(b.index_dir)
    try:
        ids = index.doc_ids()
        assert len(ids) == 50
        assert index.doc_count() == 50  # nothing indexed twice
    finally:
        index.close()
    run = b.cli("check")
    assert run.code == 0, run.stdout + run.stderr
