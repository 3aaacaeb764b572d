"""The staff home page (what waits for review, what needs attention, what changed) and the
audit log."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from portal.staff import access
from publications import uploads
from publications.catalogue import audit_events, needing_attention, staff_listing
from publications.usage import most_used

bp = Blueprint("dashboard", __name__)
AUDIT_PAGE = 100


@bp.route("/")
def home():  # type: ignore[no-untyped-def]
    cat = access.catalogue()
    reading = uploads.unfinished(cat)
    if reading:
        current_app.extensions["staff_uploads"].kick()  # resumes uploads left by a restart
    current_app.extensions["usage"].flush(cat)  # show counts up to this moment
    with cat.reading() as session:
        drafts = staff_listing(session, ("draft",), limit=100)
        attention = needing_attention(session, limit=100)
        recent = audit_events(session, limit=20)
        used = most_used(session, days=30, limit=20)
        return render_template("staff/dashboard.html", drafts=drafts, attention=attention,
                               recent=recent, reading=reading, used=used)


@bp.route("/publications")
def publications():  # type: ignore[no-untyped-def]
    status = request.args.get("status") or None
    if status not in (None, "draft", "published", "withdrawn"):
        abort(400)
    with access.catalogue().reading() as session:
        pubs = staff_listing(session, (status,) if status else None, limit=500)
        return render_template("staff/publications.html", pubs=pubs, status=status)


@bp.route("/audit")
def audit():  # type: ignore[no-untyped-def]
    try:
        page = int(request.args.get("page", "1"))
        pub_id = int(request.args["publication"]) if request.args.get("publication") else None
    except ValueError:
        abort(400)
    if page < 1:
        abort(400)
    who = request.args.get("actor", "").strip() or None
    with access.catalogue().reading() as session:
        events = audit_events(session, publication_id=pub_id, actor=who, limit=AUDIT_PAGE + 1,
                              offset=(page - 1) * AUDIT_PAGE)
    more = len(events) > AUDIT_PAGE
    return render_template("staff/audit.html", events=events[:AUDIT_PAGE], page=page,
                           more=more, publication=pub_id, actor=who)
