"""`portal reindex` in one process and with worker processes (its default uses the cores):
the same answers, an index `portal check` accepts, and bad `--jobs` values refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import pdfs
from tests.cli import portal


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reindex-jobs")
    folder = root / "in"
    for n, (title, words) in enumerate([("Volunteer libraries in Lanton", "libraries volunteers"),
                                        ("Social value in procurement", "procurement contracts"),
                                        ("Housing rents review", "housing rents"),
                                        ("Library opening hours", "libraries hours")]):
        pdfs.write(folder / f"{n}.pdf", pdfs.report_pdf(title, words, 3))
    home = root / "home"
    assert portal(home, "ingest", "--publish", *map(str, sorted(folder.glob("*.pdf")))).code == 0
    return home


def answers(home: Path) -> list[object]:
    out = []
    for q in ("libraries", "procurement contracts", "housing", "hours"):
        answer = json.loads(portal(home, "search", q, "--json").stdout)
        out.append((q, answer["total"], sorted(h["title"] for h in answer["hits"])))
    return out


def test_one_process_and_default_workers_give_the_same_index(home: Path) -> None:
    one = portal(home, "reindex", "--jobs", "1")
    assert one.code == 0 and "4 publications" in one.stdout
    assert portal(home, "check").code == 0
    expected = answers(home)
    assert all(total > 0 for _, total, _ in expected)
    assert "Social value in procurement" in expected[1][2]
    default = portal(home, "reindex")
    assert default.code == 0 and "4 publications" in default.stdout
    assert portal(home, "check").code == 0
    assert answers(home) == expected
    two = portal(home, "reindex", "--jobs", "2")
    assert two.code == 0 and answers(home) == expected


def test_reindex_refuses_zero_jobs(home: Path) -> None:
    run = portal(home, "reindex", "--jobs", "0")
    assert run.code == 2 and "--jobs" in run.stderr and "Traceback" not in run.stderr
