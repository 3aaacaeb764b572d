"""Reading `page` and `sort` from a reader's request, with honest status codes for bad ones."""

from __future__ import annotations

from collections.abc import Collection

from flask import abort, request

MAX_PAGE = 10_000
SORT_LABELS = {"newest": "Newest first", "oldest": "Oldest first", "title": "Title A–Z"}


def requested_page() -> int:
    """The `page` query parameter (default 1); aborts with 400 when it is not 1..MAX_PAGE."""
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        abort(400)
    if not 1 <= page <= MAX_PAGE:
        abort(400)
    return page


def requested_sort(allowed: Collection[str], default: str) -> str:
    """The `sort` query parameter (default `default`); aborts with 400 when not in `allowed`."""
    sort = request.args.get("sort", default)
    if sort not in allowed:
        abort(400)
    return sort


def check_past_end(page: int, pages: int) -> None:
    """A page past the last one is a 404 (page 1 of an empty list is a page, not an error)."""
    if page > 1 and page > pages:
        abort(404)
