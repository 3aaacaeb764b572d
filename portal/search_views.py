"""The search page: a query, filters in the URL, results with page hits, facets, pagination."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from index import IndexUnavailable, SearchRequest
from index.documents import FACET_FIELDS, FILTER_FIELDS

bp = Blueprint("search", __name__)
PER_PAGE = 10
MAX_QUERY = 1000
SORTS = {"relevance": "Relevance", "newest": "Newest first", "oldest": "Oldest first",
         "title": "Title A-Z"}
FACET_LABELS = {"type": "Type", "year": "Year", "topic": "Topic", "organisation": "Organisation",
                "author": "Author", "series": "Series"}


def url_with(args: MultiDict, **changes: object) -> str:
    """The search URL with some parameters changed (None removes one); resets to page 1."""
    params = MultiDict(args)
    params.pop("page", None)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return url_for("search.results", **params.to_dict(flat=False))


def toggle_filter(args: MultiDict, field: str, value: str) -> str:
    """The search URL with one filter value added, or removed when it is already there."""
    params = MultiDict(args)
    params.pop("page", None)
    values = params.getlist(field)
    params.setlist(field, [v for v in values if v != value] if value in values else [*values, value])
    return url_for("search.results", **params.to_dict(flat=False))


@bp.get("/search")
def results():  # type: ignore[no-untyped-def]
    args = request.args
    query = args.get("q", "")
    if len(query) > MAX_QUERY:
        return render_template("search/too_long.html", limit=MAX_QUERY), 413
    try:
        page = int(args.get("page", "1"))
    except ValueError:
        abort(400)
    if page < 1 or page > 10_000:
        abort(400)
    sort = args.get("sort", "relevance")
    if sort not in SORTS:
        abort(400)
    filters = tuple((f, v) for f in FILTER_FIELDS for v in args.getlist(f) if v)
    catalogue = current_app.extensions["catalogue"]
    index = current_app.extensions["index"]
    result = None
    if query.strip() or filters:
        try:
            with catalogue.reading() as session:
                result = index.search(
                    SearchRequest(query=query, page=page, limit=PER_PAGE, sort=sort,
                                  filters=filters),
                    page_text=lambda pid, n: catalogue.page_text(session, pid, n),
                )
        except IndexUnavailable:
            return render_template("search/unavailable.html"), 503
        if page > 1 and page > result.pages:
            abort(404)
    return render_template(
        "search/results.html",
        query=query,
        result=result,
        filters=filters,
        sort=sort,
        sorts=SORTS,
        facet_fields=FACET_FIELDS,
        facet_labels=FACET_LABELS,
        args=args,
        url_with=url_with,
        toggle_filter=toggle_filter,
    )
