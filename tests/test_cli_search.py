"""`portal search` and `portal reindex` as scripts use them: JSON shape, stdin, filters, checks."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests import pdfs
from tests.cli import portal


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search")
    folder = root / "in"
    pdfs.write(folder / "a.pdf", pdfs.report_pdf("Volunteer libraries in Lanton", "libraries volunteers", 4))
    pdfs.write(folder / "b.pdf", pdfs.report_pdf("Social value in procurement", "procurement contracts", 3))
    pdfs.write(folder / "c.pdf", pdfs.report_pdf("Draft on housing", "housing rents", 2))
    home = root / "home"
    run = portal(home, "ingest", "--json", str(folder / "a.pdf"), str(folder / "b.pdf"), "--publish")
    assert run.code == 0, run.stderr
    assert portal(home, "ingest", str(folder / "c.pdf")).code == 0  # stays a draft
    return home


def test_json_shape(home: Path) -> None:
    run = portal(home, "search", "volunteers libraries", "--json")
    assert run.code == 0
    answer = json.loads(run.stdout)
    assert set(answer) >= {"query", "total", "hits", "facets", "suggestion"}
    assert answer["query"] == "volunteers libraries"
    hit = answer["hits"][0]
    assert set(hit) >= {"id", "slug", "title", "score", "year", "type", "pages"}
    assert hit["title"] == "Volunteer libraries in Lanton"
    assert hit["year"] == 2021 and hit["type"] == "report"
    assert all(set(p) == {"page", "snippet"} for p in hit["pages"])
    assert 1 <= len(hit["pages"]) <= 3
    assert all(1 <= p["page"] <= 4 for p in hit["pages"])
    assert "<mark>" in hit["pages"][0]["snippet"]
    assert answer["facets"]["type"] == [["report", answer["total"]]]


def test_drafts_are_not_in_results(home: Path) -> None:
    answer = json.loads(portal(home, "search", "housing rents", "--json").stdout)
    assert all(h["title"] != "Draft on housing" for h in answer["hits"])


def test_queries_from_stdin_one_answer_per_line(home: Path) -> None:
    run = portal(home, "search", "-", "--json", stdin='libraries\nprocurement\n"unbalanced\n\n')
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert [a["query"] for a in answers] == ["libraries", "procurement", '"unbalanced', ""]
    assert answers[0]["hits"][0]["title"] == "Volunteer libraries in Lanton"
    assert answers[1]["hits"][0]["title"] == "Social value in procurement"


def test_filters_sort_and_limits(home: Path) -> None:
    none = json.loads(portal(home, "search", "libraries", "--json", "--filter", "type=briefing").stdout)
    assert none["total"] == 0
    titled = json.loads(portal(home, "search", "public services", "--json", "--sort", "title").stdout)
    titles = [h["title"] for h in titled["hits"]]
    assert titles == sorted(titles)
    assert portal(home, "search", "x", "--limit", "1001").code == 2
    assert portal(home, "search", "x", "--filter", "colour=red").code == 2
    assert portal(home, "search", "x", "--sort", "sideways").code == 2


def test_plain_output_is_readable(home: Path) -> None:
    run = portal(home, "search", "volunteers")
    assert run.code == 0
    assert "result" in run.stdout and "Volunteer libraries in Lanton" in run.stdout
    assert "p. " in run.stdout


def test_reindex_and_check(home: Path) -> None:
    assert portal(home, "check").code == 0
    shutil.rmtree(home / "index")
    broken = portal(home, "check")
    assert broken.code == 1 and "index" in broken.stdout
    rebuilt = portal(home, "reindex")
    assert rebuilt.code == 0 and "3 publications" in rebuilt.stdout
    assert portal(home, "check").code == 0
    again = portal(home, "reindex", "--if-needed")
    assert again.code == 0 and "current" in again.stdout
    answer = json.loads(portal(home, "search", "procurement", "--json").stdout)
    assert answer["hits"][0]["title"] == "Social value in procurement"


def test_serving_process_makes_a_published_change_searchable_quickly(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from index import SearchRequest
    from portal.app import create_app, start_indexer
    from publications.fields import build_record

    app = create_app(settings)
    start_indexer(app, interval=0.5)
    cat, index = app.extensions["catalogue"], app.extensions["index"]
    try:
        started = time.monotonic()
        cat.add(build_record({"title": "Warm spaces in winter", "abstract": "heating"}),
                status="published")
        found = False
        while time.monotonic() - started < 5.0 and not found:
            found = index.search(SearchRequest("warm spaces")).total == 1
            time.sleep(0.1)
        assert found, "not searchable within five seconds"
    finally:
        app.extensions["indexer_stop"].set()
        index.close()
        cat.close()
