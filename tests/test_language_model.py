"""The language model's per-user cache (publications.language_model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from publications import language_model
from publications.propose import language_from_text

GERMAN = ("Der Bericht untersucht die Wohnungspolitik der Gemeinden und die Versorgung "
          "älterer Menschen in ländlichen Regionen. ") * 4
ENGLISH = ("The report looks at how councils fund adult social care and what residents "
           "say about the services they receive. ") * 4


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache directory, and no identifier loaded in this process yet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(language_model, "_identifier", None)
    return tmp_path / "cache" / "policy-portal"


def _cached(directory: Path) -> list[Path]:
    return sorted(directory.glob("py3langid-*.pickle"))


def test_the_model_is_cached_and_read_back(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert language_from_text([GERMAN]) == "de"
    [cached] = _cached(fresh)
    assert oct(fresh.stat().st_mode & 0o777) == "0o700"

    # a new process: the identifier comes from the cache, not from py3langid's own file
    from py3langid.langid import LanguageIdentifier

    monkeypatch.setattr(language_model, "_identifier", None)

    def no_model_file(*args: object, **kwargs: object) -> None:
        raise AssertionError("the compressed model was read again")

    monkeypatch.setattr(LanguageIdentifier, "from_model_file", no_model_file)
    assert language_from_text([GERMAN]) == "de"
    assert language_from_text([ENGLISH]) == "en"
    assert _cached(fresh) == [cached]


def test_a_cache_others_may_write_is_not_read(fresh: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert language_from_text([ENGLISH]) == "en"
    [cached] = _cached(fresh)
    cached.write_bytes(b"not a pickle of ours")
    os.chmod(cached, 0o666)
    monkeypatch.setattr(language_model, "_identifier", None)
    loads: list[object] = []
    real_load = language_model.pickle.load
    monkeypatch.setattr(language_model.pickle, "load", lambda f: loads.append(f) or real_load(f))
    assert language_from_text([GERMAN]) == "de"  # loaded from py3langid's file instead
    assert loads == []
    assert oct(cached.stat().st_mode & 0o777) == "0o600"  # and written again, privately


def test_a_damaged_cache_is_replaced(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert language_from_text([ENGLISH]) == "en"
    [cached] = _cached(fresh)
    cached.write_bytes(cached.read_bytes()[:1000])  # e.g. a disk that filled up
    monkeypatch.setattr(language_model, "_identifier", None)
    assert language_from_text([GERMAN]) == "de"
    assert cached.stat().st_size > 1_000_000


def test_no_writable_cache_still_finds_the_language(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setattr(language_model, "_identifier", None)
    assert language_from_text([GERMAN]) == "de"


def test_no_home_directory_still_finds_the_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(language_model, "_identifier", None)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(language_model.Path, "home", staticmethod(no_home))
    assert language_from_text([GERMAN]) == "de"
