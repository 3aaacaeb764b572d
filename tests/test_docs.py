"""The documentation names every setting the code has (and no others)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from publications.settings import SETTINGS_HELP, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    names = {f.name for f in fields(Settings) if f.name != "extra"}
    assert names == set(SETTINGS_HELP)
    documented = set(re.findall(r"`PORTAL_([A-Z_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
    assert documented == {n.upper() for n in names}


def test_settings_from_environment(tmp_path: Path) -> None:
    s = Settings.from_env({"PORTAL_HOME": str(tmp_path), "PORTAL_EXTRACT_TIMEOUT": "5"})
    assert s.home == tmp_path.resolve()
    assert s.extract_timeout == 5.0
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'catalogue.sqlite'}"
    assert s.index_dir == tmp_path.resolve() / "index"


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
