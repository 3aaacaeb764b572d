"""py3langid's language model, loaded once per process and cached decompressed per user.

py3langid ships its model LZMA-compressed; decompressing it takes about 0.4 CPU seconds,
a fifth of what a bulk ingest's own process spends beside extraction. The loaded identifier
is therefore kept, pickled, in the user's cache directory (`$XDG_CACHE_HOME/policy-portal`,
else `~/.cache/policy-portal`), where reading it back takes about 0.05 s. The cache is a
convenience: when it cannot be written or read, or does not belong to this user alone, the
model is loaded from py3langid's own file as before.
"""

from __future__ import annotations

import os
import pickle
import stat
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_identifier: Any = None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "policy-portal"


def _cache_file() -> Path | None:
    """The cache file for the installed py3langid and model (None if it cannot be named)."""
    try:
        from py3langid import langid

        model = langid.MODEL_DIR / langid.MODEL_FILE
        info = model.stat()
        version = metadata.version("py3langid")
        directory = cache_dir()
    except (ImportError, OSError, AttributeError, RuntimeError, metadata.PackageNotFoundError):
        return None  # RuntimeError: no home directory to be found
    return directory / f"py3langid-{version}-{info.st_size}-{int(info.st_mtime)}.pickle"


def _private(path: Path) -> bool:
    """True when `path` is this user's and nobody else may write it (a pickle is code)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(path: Path) -> Any:
    if not (_private(path.parent) and _private(path)):
        return None
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # noqa: BLE001 - a damaged or foreign cache is only a slower start
        return None


def _write(path: Path, identifier: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _private(path.parent):
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".py3langid-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(identifier, f, protocol=5)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:  # noqa: BLE001 - a full disk or read-only home: no cache, no harm
        return
    for older in path.parent.glob("py3langid-*.pickle"):  # another version's model
        if older != path:
            try:
                older.unlink()
            except OSError:
                pass


def identifier() -> Any:
    """py3langid's `LanguageIdentifier` with its standard model (loaded once per process)."""
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            path = _cache_file()
            found = _read(path) if path is not None else None
            if not isinstance(found, LanguageIdentifier):
                found = LanguageIdentifier.from_model_file(MODEL_FILE)
                if path is not None:
                    _write(path, found)
            _identifier = found
        return _identifier


def classify(text: str) -> str:
    """The language code py3langid finds most likely for `text`."""
    code, _score = identifier().classify(text)
    return str(code)
