"""Citation downloads: one publication, or a whole search result set, as BibTeX, RIS or
CSL-JSON (`/publications/<slug>/cite.bib`, `/search/cite.ris?q=...`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Blueprint, Response, abort, current_app, redirect, request, url_for

from portal import metadata, queries
from portal.search_views import MAX_QUERY
from portal.security import content_disposition
from publications import exports
from publications.errors import NotFound
from publications.models import Publication

bp = Blueprint("exports", __name__)
NAMES = ("cite.bib", "cite.ris", "cite.json")
SEARCH_LIMIT = 200  # hits per export page by default; `limit` may ask for up to MAX_LIMIT
MAX_LIMIT = 1000
WRITERS: dict[str, tuple[Callable[[Sequence[exports.Reference]], str], str, str]] = {
    "cite.bib": (exports.bibtex, "application/x-bibtex", "bib"),
    "cite.ris": (exports.ris, "application/x-research-info-systems", "ris"),
    "cite.json": (exports.csl_json, "application/vnd.citationstyles.csl+json", "json"),
}


def _answer(name: str, pubs: Sequence[Publication], filename: str) -> Response:
    write, mime, ext = WRITERS[name]
    body = write([metadata.reference(p) for p in pubs])
    response = Response(body, mimetype=mime)
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = content_disposition(f"{filename}.{ext}")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/publications/<slug>/<any('cite.bib', 'cite.ris', 'cite.json'):name>")
def publication(slug: str, name: str):  # type: ignore[no-untyped-def]
    """A publication's citation in one format; withdrawn work stays citable, drafts are 404."""
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        try:
            pub = cat.get(session, slug)
        except NotFound:
            abort(404)
        if pub.status == "draft":
            abort(404)
        if slug != pub.slug:
            return redirect(url_for("exports.publication", slug=pub.slug, name=name), 301)
        response = _answer(name, [pub], pub.slug)
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/search/<any('cite.bib', 'cite.ris', 'cite.json'):name>")
def search(name: str):  # type: ignore[no-untyped-def]
    """The citations of one page of search results (same parameters as /search, plus limit)."""
    try:
        req = queries.search_request(request.args, limit=SEARCH_LIMIT, max_limit=MAX_LIMIT)
    except queries.QueryTooLong:
        return Response(f"The query is longer than {MAX_QUERY} characters.\n", 413,
                        mimetype="text/plain")
    try:
        result = queries.run(req)
    except queries.IndexUnavailable:
        return Response("Search is unavailable; please try again shortly.\n", 503,
                        mimetype="text/plain", headers={"Retry-After": "30"})
    if req.page > 1 and req.page > result.pages:
        abort(404)
    return queries.with_publications(result, lambda pubs: _answer(name, pubs, "search"))
