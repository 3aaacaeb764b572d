"""The portal's settings: one typed object built from `PORTAL_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

# Every setting once: name, default, help. `docs/configuration.md` lists the same names and a
# test keeps the two in step.
SETTINGS_HELP: dict[str, str] = {
    "home": "Data home: catalogue, file store, index and covers live under it.",
    "database_url": "SQLAlchemy URL of the catalogue; default a SQLite file in the data home.",
    "index_dir": "Directory of this node's search index; default <home>/index.",
    "max_upload_bytes": "Largest file accepted, enforced while the bytes stream in.",
    "extract_timeout": "Seconds one PDF may take to extract before the worker is stopped.",
    "extract_memory_mb": "Address-space limit of an extraction worker, in MiB.",
    "max_pages": "Pages read from one PDF; later pages are counted but not extracted.",
    "ocr_timeout": "Seconds OCR of one scanned PDF may take (ingest --ocr) before it is stopped.",
    "secret_key": "Flask secret key (sessions); set it in production.",
    "base_url": "Public base URL used in absolute links (feeds, citation tags).",
    "login_rate_limit": "Staff sign-in attempts allowed per client address, e.g. '10/minute'; "
                        "'off' disables.",
    "search_rate_limit": "Searches allowed per client address (search page, API, feeds, "
                         "exports), e.g. '60/10 seconds'; 'off' disables.",
    "rate_limit_storage": "Where rate-limit counts are kept: 'memory://' (each process counts "
                          "on its own) or a shared store such as 'redis://host:6379'.",
    "trusted_proxies": "Reverse proxies in front of the portal whose X-Forwarded-For and "
                       "X-Forwarded-Proto headers are believed (0: none).",
    "journal_retention_days": "Days the index journal keeps a change; 0 keeps every change.",
    "index_resident_mb": "MiB of the memory-mapped index a process keeps mapped between searches; 0: no bound.",
}


@dataclass(frozen=True)
class Settings:
    """Settings passed explicitly to everything that needs them; nothing reads os.environ."""

    home: Path = Path("instance")
    database_url: str = ""
    index_dir: Path | None = None
    max_upload_bytes: int = 200 * 1024 * 1024
    extract_timeout: float = 120.0
    extract_memory_mb: int = 2048
    max_pages: int = 5000
    ocr_timeout: float = 600.0
    secret_key: str = "dev-only-change-me"
    base_url: str = "http://127.0.0.1:5000"
    login_rate_limit: str = "10/minute"
    search_rate_limit: str = "60/10 seconds"
    rate_limit_storage: str = "memory://"
    trusted_proxies: int = 0
    journal_retention_days: float = 30.0
    index_resident_mb: int = 96
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.index_resident_mb < 0:
            raise ValueError("PORTAL_INDEX_RESIDENT_MB must be 0 or more")
        if not self.journal_retention_days >= 0:
            raise ValueError("PORTAL_JOURNAL_RETENTION_DAYS must be a number of days, 0 or more")
        home = Path(self.home).resolve()
        object.__setattr__(self, "home", home)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{home / 'catalogue.sqlite'}")
        if self.index_dir is None:
            object.__setattr__(self, "index_dir", home / "index")
        else:
            object.__setattr__(self, "index_dir", Path(self.index_dir).resolve())

    @property
    def files_dir(self) -> Path:
        return self.home / "files"

    @property
    def covers_dir(self) -> Path:
        return self.home / "covers"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from `PORTAL_<NAME>` variables; bad numbers raise ValueError."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get("PORTAL_" + f.name.upper())
            if raw is None or raw == "":
                continue
            try:
                if f.name in ("max_upload_bytes", "extract_memory_mb", "max_pages",
                              "trusted_proxies", "index_resident_mb"):
                    values[f.name] = int(raw)
                elif f.name in ("extract_timeout", "ocr_timeout", "journal_retention_days"):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise ValueError(
                    f"PORTAL_{f.name.upper()} must be a number, not {raw[:40]!r}"
                ) from None
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
