"""Editing one publication: its metadata, its file (new versions), withdraw, restore, delete.

Saves carry the revision the form was opened at; a save based on an older revision is
refused and says who changed the publication in between, so nobody's work is overwritten.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from portal.security import content_disposition
from portal.staff import access
from portal.staff.forms import changed_fields, from_form, source_label, to_form
from portal.staff.upload import plain_name, receive_file
from publications.catalogue import (
    DuplicateFile,
    attention_reasons,
    audit_events,
    confirm_metadata,
    delete_publication,
    last_changed_by,
    record_of,
    replace_file,
)
from publications.errors import ConflictError, InvalidRecord, NotFound
from publications.models import ORGANISATION_ROLES, PUBLICATION_TYPES, Publication

bp = Blueprint("edit", __name__, url_prefix="/publications/<int:pub_id>")


def _render(pub: Publication, values: dict[str, str], *, error: str | None = None,
            conflict: dict[str, Any] | None = None, code: int = 200) -> tuple[str, int]:
    with access.catalogue().reading() as session:
        history = audit_events(session, publication_id=pub.id, limit=20)
    return render_template(
        "staff/edit.html", pub=pub, values=values, error=error, conflict=conflict,
        provenance={k: source_label(v) for k, v in (pub.provenance or {}).items()},
        reasons=attention_reasons(pub), types=PUBLICATION_TYPES, roles=ORGANISATION_ROLES,
        history=history, new=request.args.get("new") == "1"), code


def _load(pub_id: int) -> Publication:
    cat = access.catalogue()
    with cat.reading() as session:
        try:
            return cat.get(session, pub_id)
        except NotFound:
            abort(404)


@bp.route("/edit", methods=["GET", "POST"])
def edit(pub_id: int):  # type: ignore[no-untyped-def]
    pub = _load(pub_id)
    if request.method == "GET":
        return _render(pub, to_form(record_of(pub)))
    cat = access.catalogue()
    submitted = from_form(request.form)
    shown = {k: request.form.get(k, "") for k in to_form({})}
    try:
        opened_at = int(request.form.get("revision", ""))
    except ValueError:
        abort(400)
    try:
        changes = changed_fields(record_of(pub), submitted)
        if pub.revision != opened_at:
            raise ConflictError("changed since opened")
        if changes:
            cat.update(pub.id, changes, actor=access.actor(), expected_revision=opened_at)
        confirm_metadata(cat, pub.id)
        if request.form.get("action") == "publish" and pub.status != "published":
            cat.set_status(pub.id, "published", actor=access.actor())
    except ConflictError:
        return _conflict(pub_id, shown)
    except InvalidRecord as exc:
        return _render(pub, shown, error=str(exc), code=422)
    done = "Published." if request.form.get("action") == "publish" else "Saved."
    flash(done if changes or request.form.get("action") == "publish"
          else "Saved: nothing had changed, the metadata is marked as checked.")
    return redirect(url_for(".edit", pub_id=pub_id), 303)


def _conflict(pub_id: int, shown: dict[str, str]):  # type: ignore[no-untyped-def]
    """Show the current record with the refused values beside it; nothing was saved."""
    fresh = _load(pub_id)
    with access.catalogue().reading() as session:
        last = last_changed_by(session, pub_id)
    current = to_form(record_of(fresh))
    yours = {k: v for k, v in shown.items() if v.strip() != current.get(k, "").strip()}
    conflict = {"who": last.actor if last else "someone else", "at": last.at if last else None,
                "yours": yours}
    return _render(fresh, current, conflict=conflict, code=409)


@bp.route("/file", methods=["POST"])
def replace(pub_id: int):  # type: ignore[no-untyped-def]
    pub = _load(pub_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render(pub, to_form(record_of(pub)), error="Choose the new PDF file.", code=400)
    cat = access.catalogue()
    file, reason = receive_file(cat, upload.stream, plain_name(upload.filename))
    if file is None:
        return _render(pub, to_form(record_of(pub)), error=f"The file was not used: {reason}",
                       code=422)
    try:
        stored = replace_file(cat, pub.id, file, actor=access.actor(),
                              expected_revision=_revision())
    except DuplicateFile as dup:
        link = url_for(".edit", pub_id=dup.existing.id)
        return _render(pub, to_form(record_of(pub)), code=409, error=(
            f"That file is already attached to “{dup.existing.title or dup.existing.slug}” "
            f"({link})."))
    except ConflictError:
        return _conflict(pub_id, {})
    flash(f"The new file is now the current version ({stored.pages} pages). "
          "Earlier versions are kept.")
    return redirect(url_for(".edit", pub_id=pub_id), 303)


@bp.route("/withdraw", methods=["POST"])
def withdraw(pub_id: int):  # type: ignore[no-untyped-def]
    pub = _load(pub_id)
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _render(pub, to_form(record_of(pub)), code=422,
                       error="Say why it is withdrawn: readers see the reason.")
    access.catalogue().set_status(pub.id, "withdrawn", reason=reason, actor=access.actor())
    flash("Withdrawn. Its page now says so, with your reason.")
    return redirect(url_for(".edit", pub_id=pub_id), 303)


@bp.route("/restore", methods=["POST"])
def restore(pub_id: int):  # type: ignore[no-untyped-def]
    pub = _load(pub_id)
    target = {"withdrawn": "published", "published": "draft"}.get(pub.status)
    if target is None:
        abort(400)
    try:
        access.catalogue().set_status(pub.id, target, actor=access.actor())
    except InvalidRecord as exc:
        return _render(pub, to_form(record_of(pub)), error=str(exc), code=422)
    flash("Restored: readers can see it again." if target == "published"
          else "Unpublished: it is a draft again and readers no longer see it.")
    return redirect(url_for(".edit", pub_id=pub_id), 303)


@bp.route("/delete", methods=["GET", "POST"])
@access.admin_only
def delete(pub_id: int):  # type: ignore[no-untyped-def]
    pub = _load(pub_id)
    if request.method == "GET" or request.form.get("confirm") != pub.slug:
        code = 200 if request.method == "GET" else 422
        return render_template("staff/delete.html", pub=pub,
                               error=None if code == 200 else
                               "Type the publication's address name exactly to confirm."), code
    delete_publication(access.catalogue(), pub.id, actor=access.actor())
    flash(f"“{pub.title or pub.slug}” was deleted. Its file is kept in the store.")
    return redirect(url_for("staff.dashboard.home"), 303)


@bp.get("/versions/<int:number>.pdf")
def version_file(pub_id: int, number: int):  # type: ignore[no-untyped-def]
    """Any version's file, drafts included, for staff to check (never cached publicly)."""
    pub = _load(pub_id)
    version = next((v for v in pub.versions if v.number == number), None)
    if version is None:
        abort(404)
    sha = version.file.sha256
    response = send_file(access.catalogue().files.path_for(sha), mimetype="application/pdf",
                         download_name=f"{pub.slug}-v{number}.pdf", conditional=True, etag=sha)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = content_disposition(f"{pub.slug}-v{number}.pdf")
    return response


def _revision() -> int | None:
    try:
        return int(request.form["revision"])
    except (KeyError, ValueError):
        return None
