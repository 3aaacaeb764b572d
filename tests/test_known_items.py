"""Known items over the corpus and the samples in one collection: a reader's words find the
publication in the top 3. The checks are ours (tests/data/known_items.tsv, origin `own`);
`bench/known_items.py` measures MRR over these and the earlier checks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.known_items import read_checks
from tests.cli import ROOT, portal

pytestmark = pytest.mark.corpus

CHECKS = [c for c in read_checks() if c.origin == "own"]


@pytest.fixture(scope="module")
def collection(corpus_ingest, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The ingested corpus (copied, so the shared home stays as it was) plus the samples.

    Returns (home, {corpus file stem or sample slug: publication id}).
    """
    home, _corpus, run = corpus_ingest
    work = tmp_path_factory.mktemp("known-items")
    copy = work / "home"
    shutil.copytree(home, copy)
    ids = {Path(r["path"]).stem: r["id"] for r in run.lines if r["status"] != "failed"}
    samples = work / "samples"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(samples)],
                   check=True, capture_output=True)
    imported = portal(copy, "import", str(samples / "manifest.jsonl"), "--publish", "--json")
    assert imported.code == 0, imported.stderr
    ids.update({r["slug"]: r["id"] for r in imported.lines})
    return copy, ids


@pytest.fixture(scope="module")
def answers(collection) -> dict[str, list[dict]]:  # type: ignore[no-untyped-def]
    home, _ids = collection
    queries = [c.query for c in CHECKS]
    run = portal(home, "search", "-", "--json", "--limit", "10", stdin="\n".join(queries) + "\n")
    assert run.code == 0, run.stderr
    return {q: json.loads(line)["hits"] for q, line in zip(queries, run.stdout.splitlines(),
                                                             strict=True)}


def test_there_are_enough_checks_and_none_copies_a_title(collection) -> None:  # type: ignore[no-untyped-def]
    home, ids = collection
    assert len(CHECKS) >= 40
    for check in CHECKS:
        assert check.expected in ids, f"{check.expected} is not in the collection"
        shown = json.loads(portal(home, "show", str(ids[check.expected]), "--json").stdout)
        assert shown["title"].lower() not in check.query.lower(), check.query


@pytest.mark.parametrize(
    "check",
    [pytest.param(c, id=f"{c.expected}:{c.query[:40]}") for c in CHECKS],
)
def test_a_readers_words_find_the_publication_in_the_top_3(check, collection, answers) -> None:  # type: ignore[no-untyped-def]
    _home, ids = collection
    top = answers[check.query][:3]
    assert ids[check.expected] in [h["id"] for h in top], (
        check.query, check.expected, [h["title"] for h in top])
