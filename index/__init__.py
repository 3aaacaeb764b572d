"""The search engine: documents in, results out (Whoosh behind a small, swappable interface).

The light names (documents, errors, the synonym file's name) are imported at once; the
engine and what needs Whoosh load on first use, so a command that stores files can start
its extraction workers before paying for Whoosh's import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .documents import Hit, PageHit, PublicationDoc, SearchRequest, SearchResult
from .errors import IndexBusy, IndexUnavailable

SYNONYMS_FILE = "synonyms.txt"  # the staff's file of synonyms, in the data home

if TYPE_CHECKING:
    from .engine import SearchIndex, SegmentBuilder
    from .ranking import Ranking
    from .schema import SCHEMA_VERSION
    from .vocabulary import Vocabulary

_LAZY = {
    "SearchIndex": "engine",
    "SegmentBuilder": "engine",
    "Ranking": "ranking",
    "SCHEMA_VERSION": "schema",
    "Vocabulary": "vocabulary",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "SCHEMA_VERSION",
    "SYNONYMS_FILE",
    "Hit",
    "IndexBusy",
    "IndexUnavailable",
    "PageHit",
    "PublicationDoc",
    "Ranking",
    "SearchIndex",
    "SearchRequest",
    "SearchResult",
    "SegmentBuilder",
    "Vocabulary",
]
