"""Shared fixtures: settings over a temporary data home, a catalogue, the corpus location."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from publications.catalogue import Catalogue
from publications.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"

logging.getLogger("pypdf").setLevel(logging.CRITICAL)


def corpus_path() -> Path:
    """The shared corpus, or skip the test with a clear message when it is absent."""
    if not (CORPUS / "pdfs").is_dir():
        pytest.skip(f"third-party corpus not found at {CORPUS} (see README: Tests)")
    return CORPUS


@pytest.fixture
def corpus() -> Path:
    return corpus_path()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", extract_timeout=60.0, database_url=database_url)


@pytest.fixture
def catalogue(settings: Settings):  # type: ignore[no-untyped-def]
    cat = Catalogue(settings)
    yield cat
    cat.close()


@pytest.fixture(scope="session")
def corpus_ingest(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The whole corpus through `portal ingest --json --jobs 2 --publish`, once per session.

    Returns (data home, corpus path, the run's result).
    """
    from tests.cli import portal

    corpus = corpus_path()
    home = tmp_path_factory.mktemp("corpus") / "home"
    run = portal(home, "ingest", "--json", "--jobs", "2", "--publish", str(corpus / "pdfs"),
                 timeout=1200)
    return home, corpus, run


# --- the catalogue on PostgreSQL as well as SQLite --------------------------------------------
# A module marked `pytest.mark.databases` runs each test that uses `settings` twice: on the
# default SQLite catalogue and on a fresh PostgreSQL schema (tests/pg.py; skipped without a
# server, failed under CI=true). Every other test gets SQLite.


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "databases"
    ):
        metafunc.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """'' (SQLite in the data home) or the URL of an empty PostgreSQL schema."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield ""
        return
    from tests.pg import fresh_schema

    with fresh_schema() as url:
        yield url
