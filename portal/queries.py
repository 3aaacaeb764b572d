"""A search page's query parameters as a SearchRequest, shared by the search page's machine
faces: its citation exports, its Atom feed and the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import abort, current_app
from werkzeug.datastructures import MultiDict

from index import IndexUnavailable, SearchRequest, SearchResult
from index.documents import FILTER_FIELDS
from portal.search_views import MAX_QUERY, SORTS
from publications.models import Publication


class QueryTooLong(Exception):
    """The `q` parameter is longer than MAX_QUERY (answered with 413)."""


def search_request(args: MultiDict, *, limit: int, default_sort: str = "relevance",
                   max_limit: int | None = None) -> SearchRequest:
    """Read q, page, sort, limit (when `max_limit` allows it) and the filters from `args`.

    Aborts with 400 for a bad page, sort or limit; raises QueryTooLong for an over-long q.
    """
    query = args.get("q", "")
    if len(query) > MAX_QUERY:
        raise QueryTooLong
    try:
        page = int(args.get("page", "1"))
        if max_limit is not None:
            limit = int(args.get("limit", str(limit)))
    except ValueError:
        abort(400)
    if not 1 <= page <= 10_000 or limit < 1 or (max_limit is not None and limit > max_limit):
        abort(400)
    sort = args.get("sort", default_sort if not query.strip() else "relevance")
    if sort not in SORTS:
        abort(400)
    filters = tuple((f, v) for f in FILTER_FIELDS for v in args.getlist(f) if v)
    return SearchRequest(query=query, page=page, limit=limit, sort=sort, filters=filters)


def run(req: SearchRequest, *, facets: bool = False, snippets: bool = False) -> SearchResult:
    """Run a search over published publications; an empty request matches everything.

    Raises IndexUnavailable when the engine cannot answer.
    """
    catalogue = current_app.extensions["catalogue"]
    index = current_app.extensions["index"]
    req = replace(req, facets=facets, snippets=snippets)
    with catalogue.reading() as session:
        return index.search(req, page_text=lambda pid, n: catalogue.page_text(session, pid, n))


def with_publications(result: SearchResult, use: Callable[[list[Publication]], object]) -> object:
    """Call `use` with the hits' published publications, in hit order, inside one session."""
    catalogue = current_app.extensions["catalogue"]
    with catalogue.reading() as session:
        found = {p.id: p for p in catalogue.load_many(session, [h.id for h in result.hits])}
        pubs = [found[h.id] for h in result.hits
                if h.id in found and found[h.id].status == "published"]
        return use(pubs)


__all__ = ["IndexUnavailable", "QueryTooLong", "run", "search_request", "with_publications"]
