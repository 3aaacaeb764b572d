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
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", extract_timeout=60.0)


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
