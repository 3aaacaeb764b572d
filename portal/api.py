"""The JSON API under /api/: search, one publication, the paginated list. Read-only, open to
any origin (CORS for GET), with ETags so clients can revalidate cheaply."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from portal import metadata, queries
from publications import catalogue as c
from publications.errors import NotFound
from publications.models import Publication

bp = Blueprint("api", __name__, url_prefix="/api")
SEARCH_LIMIT = 10
MAX_LIMIT = 100
LIST_PER_PAGE = 25


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    response = Response(body, status, mimetype="application/json")
    if status == 200:
        response.add_etag()
        response = response.make_conditional(request)
    return response


@bp.after_request
def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Link"
    return response


@bp.errorhandler(HTTPException)
def _error(error: HTTPException) -> Response:
    return _json({"error": {"status": error.code, "message": error.description}},
                 error.code or 500)


def summary(pub: Publication) -> dict[str, Any]:
    """The short public form of a publication used in lists."""
    return {
        "id": pub.id,
        "slug": pub.slug,
        "title": pub.title,
        "type": pub.type,
        "date": pub.date_iso,
        "authors": [a.person.name for a in pub.authors],
        "url": metadata.page_url(pub),
        "api_url": metadata.absolute(url_for("api.publication", slug=pub.slug)),
    }


def detail(pub: Publication) -> dict[str, Any]:
    """The full public record: descriptive fields, links, file and export addresses."""
    record = c.record_of(pub)
    version = pub.current_version
    return {
        **summary(pub),
        **{k: v for k, v in record.items() if k not in ("title", "type", "date")},
        "status": pub.status,
        "updated_at": pub.updated_at.isoformat(timespec="seconds") + "Z",
        "file": None if version is None else {
            "url": metadata.pdf_url(pub), "media_type": "application/pdf",
            "size": version.file.size, "pages": version.file.page_count,
            "sha256": version.file.sha256},
        "exports": {fmt: metadata.absolute(url_for("exports.publication", slug=pub.slug,
                                                   name=name))
                    for name, fmt in (("cite.bib", "bibtex"), ("cite.ris", "ris"),
                                      ("cite.json", "csl-json"))},
    }


@bp.get("/search")
def search() -> Response:
    """The search page's parameters (q, page, sort, filters) plus limit (1-100)."""
    try:
        req = queries.search_request(request.args, limit=SEARCH_LIMIT, max_limit=MAX_LIMIT)
    except queries.QueryTooLong:
        return _json({"error": {"status": 413, "message": "the query is too long"}}, 413)
    try:
        result = queries.run(req, facets=True, snippets=True)
    except queries.IndexUnavailable:
        response = _json({"error": {"status": 503, "message": "search is unavailable"}}, 503)
        response.headers["Retry-After"] = "30"
        return response
    if req.page > 1 and req.page > result.pages:
        return _json({"error": {"status": 404, "message": "past the last page"}}, 404)
    hits = []
    for hit in result.hits:
        page_url = metadata.absolute(url_for("reader.publication", slug=hit.slug))
        hits.append({
            "id": hit.id, "slug": hit.slug, "title": hit.title, "score": round(hit.score, 4),
            "type": hit.type, "date": hit.date, "url": page_url,
            "pages": [{"page": p.page, "snippet": p.snippet,
                       "url": f"{page_url}/file.pdf#page={p.page}"} for p in hit.pages],
        })
    return _json({
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "limit": result.limit,
        "suggestion": result.suggestion,
        "hits": hits,
        "facets": {field: [{"value": v, "count": n} for v, n in values]
                   for field, values in result.facets.items()},
    })


@bp.get("/publications")
def publications() -> Response:
    """Published publications, newest first, `per_page` (1-100, default 25) at a time."""
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", str(LIST_PER_PAGE)))
    except ValueError:
        return _json({"error": {"status": 400, "message": "page and per_page are numbers"}}, 400)
    if not 1 <= page <= 10_000 or not 1 <= per_page <= MAX_LIMIT:
        return _json({"error": {"status": 400, "message": "page or per_page out of range"}},
                     400)
    with current_app.extensions["catalogue"].reading() as session:
        listing = c.browse(session, sort="newest", page=page, per_page=per_page)
        if page > 1 and page > listing.pages:
            return _json({"error": {"status": 404, "message": "past the last page"}}, 404)
        items = [summary(p) for p in listing.publications]

    def link(n: int) -> str | None:
        if not 1 <= n <= listing.pages:
            return None
        return metadata.absolute(url_for("api.publications", page=n, per_page=per_page))

    return _json({"total": listing.total, "page": page, "pages": listing.pages,
                  "per_page": per_page, "next": link(page + 1), "prev": link(page - 1),
                  "publications": items})


@bp.get("/publications/<slug>")
def publication(slug: str) -> Response:
    """One publication by slug, old slug or id; withdrawn ones answer 410 with the reason."""
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        try:
            pub = cat.get(session, slug)
        except NotFound:
            pub = None
        if pub is None or pub.status == "draft":
            return _json({"error": {"status": 404, "message": "no such publication"}}, 404)
        if slug != pub.slug:
            return redirect(url_for("api.publication", slug=pub.slug), 301)  # type: ignore[return-value]
        if pub.status == "withdrawn":
            return _json({**summary(pub), "status": "withdrawn",
                          "withdrawn_reason": pub.withdrawn_reason}, 410)
        return _json(detail(pub))
