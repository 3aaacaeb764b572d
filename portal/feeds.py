"""Atom feeds: the newest publications, per topic, organisation, person and series, and any
search (`/search.atom?q=...`, with the search page's filters)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, request, url_for

from portal import metadata, queries
from portal.search_views import MAX_QUERY
from publications import catalogue as c
from publications.models import Publication

bp = Blueprint("feeds", __name__)
ATOM = "http://www.w3.org/2005/Atom"
MIME = "application/atom+xml"
FEED_SIZE = 30


def _stamp(moment: datetime | None) -> str:
    """RFC 3339 in UTC (the catalogue stores naive UTC times)."""
    return (moment or datetime(1970, 1, 1)).isoformat(timespec="seconds") + "Z"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = text
    return node


def atom(title: str, self_path: str, html_path: str, pubs: Sequence[Publication]) -> bytes:
    """An Atom 1.0 document for `pubs`, newest first as given."""
    # Plain tag names under a default xmlns: ElementTree would otherwise invent ns0: prefixes.
    feed = ET.Element("feed", xmlns=ATOM)
    _el(feed, "id", metadata.absolute(self_path))
    _el(feed, "title", f"{title} · Policy publications portal")
    updated = max((p.updated_at for p in pubs), default=None)
    _el(feed, "updated", _stamp(updated))
    _el(feed, "link", rel="self", type=MIME, href=metadata.absolute(self_path))
    _el(feed, "link", rel="alternate", type="text/html", href=metadata.absolute(html_path))
    author = _el(feed, "author")
    _el(author, "name", "Policy publications portal")
    _el(feed, "generator", "policy-portal")
    for pub in pubs:
        entry = _el(feed, "entry")
        # The id-based address never changes, even when a retitled publication's slug does.
        _el(entry, "id", metadata.absolute(url_for("reader.publication", slug=str(pub.id))))
        _el(entry, "title", pub.title + (f": {pub.subtitle}" if pub.subtitle else ""))
        _el(entry, "updated", _stamp(pub.updated_at))
        _el(entry, "published", _stamp(pub.published_at or pub.created_at))
        _el(entry, "link", rel="alternate", type="text/html", href=metadata.page_url(pub))
        if pub.current_version is not None:
            _el(entry, "link", rel="enclosure", type="application/pdf",
                href=metadata.pdf_url(pub), length=str(pub.current_version.file.size))
        for a in pub.authors:
            _el(_el(entry, "author"), "name", a.person.name)
        for t in pub.topics:
            _el(entry, "category", term=t.slug, label=t.name)
        _el(entry, "category", term=c.type_slug(pub.type), label=pub.type.capitalize())
        summary = pub.abstract or _byline(pub)
        if summary:
            _el(entry, "summary", summary, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _byline(pub: Publication) -> str:
    parts = [pub.type.capitalize()]
    if pub.date_iso:
        parts.append(pub.date_iso)
    if pub.authors:
        parts.append("by " + ", ".join(a.person.name for a in pub.authors))
    return ", ".join(parts)


def _feed_of(scope: c.Scope, title: str, html_path: str) -> Response:
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        listing = c.browse(session, scope, sort="newest", per_page=FEED_SIZE)
        body = atom(title, request.full_path.rstrip("?"), html_path, listing.publications)
    return _response(body)


def _response(body: bytes) -> Response:
    response = Response(body, mimetype=MIME)
    response.charset = "utf-8"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.max_age = 300
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/feeds/latest.atom")
def latest() -> Response:
    return _feed_of(c.Scope(), "Newest publications", url_for("reader.publications"))


def _named_feed(kind: str, slug: str, endpoint: str) -> Response:
    with current_app.extensions["catalogue"].reading() as session:
        found = c.find_scope(session, kind, slug)
    if found is None:
        abort(404)
    scope, name = found
    return _feed_of(scope, name, url_for(endpoint, slug=slug))


@bp.get("/feeds/topics/<slug>.atom")
def topic(slug: str) -> Response:
    return _named_feed("topic", slug, "browse.topic")


@bp.get("/feeds/organisations/<slug>.atom")
def organisation(slug: str) -> Response:
    return _named_feed("organisation", slug, "browse.organisation")


@bp.get("/feeds/people/<slug>.atom")
def person(slug: str) -> Response:
    return _named_feed("person", slug, "browse.person")


@bp.get("/feeds/series/<slug>.atom")
def series(slug: str) -> Response:
    return _named_feed("series", slug, "browse.series")


@bp.get("/search.atom")
def search() -> Response:
    """Any search as a feed; without a query it lists the newest publications."""
    try:
        req = queries.search_request(request.args, limit=FEED_SIZE, default_sort="newest")
    except queries.QueryTooLong:
        return Response(f"The query is longer than {MAX_QUERY} characters.\n", 413,
                        mimetype="text/plain")
    try:
        result = queries.run(req)
    except queries.IndexUnavailable:
        return Response("Search is unavailable; please try again shortly.\n", 503,
                        mimetype="text/plain", headers={"Retry-After": "30"})
    title = f"Search: {req.query.strip()}" if req.query.strip() else "Search"
    html_path = url_for("search.results", **request.args.to_dict(flat=False))
    body = queries.with_publications(
        result, lambda pubs: atom(title, request.full_path.rstrip("?"), html_path, pubs))
    return _response(body)  # type: ignore[arg-type]


def feed_for(endpoint: str | None, view_args: dict | None) -> str:  # type: ignore[type-arg]
    """The feed URL matching a browse page (topic, organisation, person, series), or ""."""
    kinds = {"browse.topic": "feeds.topic", "browse.organisation": "feeds.organisation",
             "browse.person": "feeds.person", "browse.series": "feeds.series"}
    if endpoint in kinds and view_args and "slug" in view_args:
        return url_for(kinds[endpoint], slug=view_args["slug"])
    return ""
