"""Reader pages: home, the list of publications, a page per publication, search within it,
and file downloads."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    Response,
    request,
    send_file,
    url_for,
)
from sqlalchemy.orm import Session

from index import IndexUnavailable, SearchRequest
from portal.chart import year_chart
from portal.citation import cite
from portal.metadata import signposting
from portal.pagecache import CachedPage, PageCache
from portal.paging import SORT_LABELS, check_past_end, requested_page, requested_sort
from portal.search_views import MAX_QUERY
from portal.security import content_disposition
from publications import catalogue as c
from publications.errors import NotFound
from publications.usage import DOWNLOAD, VIEW, is_robot
from publications.models import Publication

bp = Blueprint("reader", __name__)
PER_PAGE = 25
NEWEST = 8
RELATED = 5
WITHIN_PER_PAGE = 10


def _catalogue() -> c.Catalogue:
    return current_app.extensions["catalogue"]


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    if "page" in request.args:
        # The full list used to live here; old links keep working.
        page = requested_page()
        return redirect(url_for("reader.publications", page=page), 301)
    cat = _catalogue()
    with cat.reading() as session:
        years = c.year_counts(session)
        return render_template(
            "reader/home.html",
            newest=cat.list(session, limit=NEWEST),
            total=cat.count(session),
            chart=year_chart([(int(g.name), g.count) for g in years]),
            ways_in={
                "topics": len(c.topic_counts(session)),
                "types": len(c.type_counts(session)),
                "years": len(years),
                "organisations": len(c.organisation_counts(session)),
                "series": len(c.series_counts(session)),
            },
        )


@bp.get("/publications")
def publications():  # type: ignore[no-untyped-def]
    page = requested_page()
    sort = requested_sort(c.BROWSE_SORTS, "newest")
    with _catalogue().reading() as session:
        listing = c.browse(session, sort=sort, page=page, per_page=PER_PAGE)
        check_past_end(page, listing.pages)
        return render_template(
            "browse/listing.html", heading="All publications", kind="", listing=listing,
            sort=sort, sorts=SORT_LABELS, page_url=_list_url,
        )


def _list_url(**changes: object) -> str:
    args = {**request.args.to_dict(), **{k: v for k, v in changes.items() if v is not None}}
    if "sort" in changes:
        args.pop("page", None)
    return url_for("reader.publications", **args)


def _public(session: Session, slug: str) -> Publication:
    """The publication a reader may see under `slug` (published or withdrawn), else 404."""
    try:
        pub = _catalogue().get(session, slug)
    except NotFound:
        abort(404)
    if pub.status == "draft":
        abort(404)
    return pub


@bp.get("/publications/<slug>")
def publication(slug: str):  # type: ignore[no-untyped-def]
    cache: PageCache = current_app.extensions["page_cache"]
    # The journal head names the catalogue's state. It is read before rendering, so a page
    # is never filed under a newer state than the data it was rendered from.
    state = _catalogue().journal_position()
    key = (slug, request.host_url)
    page = cache.get(key, state)
    if page is None:
        with _catalogue().reading() as session:
            pub = _public(session, slug)
            if slug != pub.slug:
                return redirect(url_for("reader.publication", slug=pub.slug), 301)
            page_url = url_for("reader.publication", slug=pub.slug, _external=True)
            if pub.status == "withdrawn":
                return render_template("reader/tombstone.html", pub=pub,
                                       citation=cite(pub, page_url)), 410
            body = render_template(
                "reader/publication.html",
                pub=pub,
                version=pub.current_version,
                citation=cite(pub, page_url),
                related=_related(session, pub),
                series_slug=c.series_slug(pub.series) if pub.series else "",
                type_slug=c.type_slug(pub.type),
            )
            page = CachedPage(body.encode("utf-8"), pub.id, signposting(pub))
        # Related publications come from the index, which applies the journal a moment
        # after the catalogue commits: keep only pages rendered from an index that had
        # caught up. (A `portal reindex` rebuilds the same documents; new ranking code
        # comes with a restart, which empties the cache.)
        if _index_has_applied(state):
            cache.put(key, state, page)
    _count(page.publication_id, VIEW)
    response = Response(page.body, mimetype="text/html")
    response.headers["Link"] = page.link
    return response


def _index_has_applied(position: int) -> bool:
    """True when the index has applied the journal up to `position`: the related
    publications it gives are then those of the catalogue state at `position`."""
    try:
        return (current_app.extensions["index"].last_applied() or 0) >= position
    except IndexUnavailable:
        return False


def _count(publication_id: int, kind: str) -> None:
    """Count a reader's view or download: no cookie, no address; robots and the later
    chunks a PDF viewer fetches by range are not counted."""
    if request.method != "GET" or is_robot(request.headers.get("User-Agent", "")):
        return
    ranged = request.headers.get("Range", "")
    if ranged and not ranged.replace(" ", "").startswith("bytes=0-"):
        return
    current_app.extensions["usage"].count(publication_id, kind)


def _related(session: Session, pub: Publication) -> list[Publication]:
    """Similar published publications, best first; none when the index cannot answer."""
    try:
        hits = current_app.extensions["index"].more_like_this(pub.id, limit=RELATED)
    except IndexUnavailable:
        return []
    # The index may lag behind the catalogue: trust the catalogue's status.
    found = {p.id: p for p in _catalogue().load_many(session, [h.id for h in hits])}
    return [found[h.id] for h in hits if h.id in found and found[h.id].status == "published"]


@bp.get("/publications/<slug>/search")
def search_within(slug: str):  # type: ignore[no-untyped-def]
    query = request.args.get("q", "")
    if len(query) > MAX_QUERY:
        return render_template("search/too_long.html", limit=MAX_QUERY), 413
    page = requested_page()
    cat = _catalogue()
    with cat.reading() as session:
        pub = _public(session, slug)
        if slug != pub.slug:
            return redirect(url_for("reader.search_within", slug=pub.slug, **request.args), 301)
        if pub.status == "withdrawn":
            page_url = url_for("reader.publication", slug=pub.slug, _external=True)
            return render_template("reader/tombstone.html", pub=pub,
                                   citation=cite(pub, page_url)), 410
        result = None
        if query.strip() and pub.current_version is not None:
            try:
                result = current_app.extensions["index"].search(
                    SearchRequest(query=query, page=page, limit=WITHIN_PER_PAGE, within=pub.id,
                                  facets=False),
                    page_text=lambda pid, n: cat.page_text(session, pid, n),
                )
            except IndexUnavailable:
                return render_template("search/unavailable.html"), 503
            check_past_end(page, result.pages)
        return render_template(
            "reader/search_within.html", pub=pub, query=query, result=result,
            pages=result.hits[0].pages if result and result.hits else [],
            page_url=lambda page: url_for(
                "reader.search_within", slug=pub.slug, q=query, page=page
            ),
        )


@bp.get("/publications/<slug>/cover.png")
def cover(slug: str):  # type: ignore[no-untyped-def]
    """A thumbnail of the first page (made once, then served from the covers folder)."""
    from publications.covers import ensure_cover

    cat = _catalogue()
    with cat.reading() as session:
        try:
            pub = cat.get(session, slug)
        except NotFound:
            abort(404)
        if pub.status == "draft" or pub.current_version is None:
            abort(404)
        if slug != pub.slug:
            return redirect(url_for("reader.cover", slug=pub.slug), 301)
        sha = pub.current_version.file.sha256
    png = ensure_cover(cat.settings, cat.files.path_for(sha), sha)
    if png is None:
        abort(404)
    return send_file(png, mimetype="image/png", conditional=True, etag=f"cover-{sha}",
                     max_age=86400)


@bp.get("/publications/<slug>/file.pdf")
def download(slug: str):  # type: ignore[no-untyped-def]
    cat = _catalogue()
    with cat.reading() as session:
        try:
            pub = cat.get(session, slug)
        except NotFound:
            abort(404)
        if pub.status != "published" or pub.current_version is None:
            abort(404)
        if slug != pub.slug:
            return redirect(url_for("reader.download", slug=pub.slug), 301)
        stored = pub.current_version.file
    _count(pub.id, DOWNLOAD)
    path = cat.files.path_for(stored.sha256)
    response = send_file(
        path,
        mimetype="application/pdf",
        download_name=f"{pub.slug}.pdf",
        as_attachment=False,
        conditional=True,
        etag=stored.sha256,
        max_age=3600,
    )
    response.headers["Content-Disposition"] = content_disposition(f"{pub.slug}.pdf")
    return response
