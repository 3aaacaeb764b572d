"""Plain data types that cross the index's public boundary (documents in, results out)."""

from __future__ import annotations

from dataclasses import dataclass, field

PUBLIC_STATUS = "published"
STATUSES = ("draft", "published", "withdrawn")
SORTS = ("relevance", "newest", "oldest", "title")
FILTER_FIELDS = ("type", "year", "topic", "organisation", "author", "series", "language")
FACET_FIELDS = ("type", "year", "topic", "organisation", "author", "series")
MAX_LIMIT = 1000


@dataclass(frozen=True)
class PublicationDoc:
    """One publication as the index sees it; `body` and `pages` are indexed, never stored."""

    id: int
    slug: str
    title: str
    subtitle: str = ""
    authors: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    abstract: str = ""
    body: str = ""
    type: str = ""
    year: int | None = None
    date: str = ""
    series: str = ""
    language: str = "en"
    status: str = "published"
    pages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchRequest:
    """What a reader (or staff member) asked for.

    `filters` are (field, value) pairs, ANDed; field is one of FILTER_FIELDS and the value is
    the exact facet label (year also accepts "2015-2020"). With `within` set, only that
    publication's pages are searched: `total` counts matching pages and the single hit's
    `pages` holds the requested page (`page`/`limit`) of them, best first.
    """

    query: str
    page: int = 1
    limit: int = 10
    sort: str = "relevance"
    filters: tuple[tuple[str, str], ...] = ()
    include_unpublished: bool = False
    facets: bool = True
    max_pages_per_hit: int = 3
    within: int | None = None
    facet_limit: int = 30
    snippets: bool = True


@dataclass(frozen=True)
class PageHit:
    """A page of a publication that matched: physical page number from 1, and its snippet."""

    page: int
    snippet: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class Hit:
    """One publication in a result list."""

    id: int
    slug: str
    title: str
    score: float
    year: int | None = None
    type: str = ""
    snippet: str = ""
    pages: list[PageHit] = field(default_factory=list)
    date: str = ""
    status: str = "published"
    language: str = "en"


@dataclass(frozen=True)
class SearchResult:
    """One page of results with facet counts over every match and an optional correction."""

    query: str
    total: int
    page: int
    limit: int
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    suggestion: str | None = None

    @property
    def pages(self) -> int:
        """Number of result pages."""
        return max(1, -(-self.total // self.limit)) if self.limit else 1
