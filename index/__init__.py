"""The search engine: documents in, results out (Whoosh behind a small, swappable interface)."""

from .documents import Hit, PageHit, PublicationDoc, SearchRequest, SearchResult
from .engine import SearchIndex, SegmentBuilder
from .errors import IndexBusy, IndexUnavailable
from .ranking import Ranking
from .schema import SCHEMA_VERSION
from .vocabulary import SYNONYMS_FILE, Vocabulary

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
