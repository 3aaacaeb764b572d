"""Reader pages: the list of publications, a page per publication, and file downloads."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for

from publications.errors import NotFound

bp = Blueprint("reader", __name__)
PER_PAGE = 25


def _catalogue():  # type: ignore[no-untyped-def]
    return current_app.extensions["catalogue"]


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    cat = _catalogue()
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        abort(400)
    if page < 1:
        abort(400)
    with cat.reading() as session:
        total = cat.count(session)
        pubs = cat.list(session, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        if page > 1 and not pubs:
            abort(404)
        return render_template(
            "home.html", publications=pubs, total=total, page=page, per_page=PER_PAGE
        )


@bp.get("/publications/<slug>")
def publication(slug: str):  # type: ignore[no-untyped-def]
    cat = _catalogue()
    with cat.reading() as session:
        try:
            pub = cat.get(session, slug)
        except NotFound:
            abort(404)
        if pub.status == "draft":
            abort(404)
        if slug != pub.slug:
            return redirect(url_for("reader.publication", slug=pub.slug), 301)
        if pub.status == "withdrawn":
            return render_template("tombstone.html", pub=pub), 410
        return render_template("publication.html", pub=pub, version=pub.current_version)


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
    return response
