"""Staff accounts in the browser, for administrators: list, add, disable, reset password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from portal.staff import access
from publications.users import ROLES, AccountError

bp = Blueprint("accounts", __name__, url_prefix="/users")


def _page(error: str | None = None, code: int = 200):  # type: ignore[no-untyped-def]
    return render_template("staff/users.html", users=access.accounts().list(), roles=ROLES,
                           error=error), code


@bp.route("/")
@access.admin_only
def users():  # type: ignore[no-untyped-def]
    return _page()


@bp.route("/", methods=["POST"])
@access.admin_only
def add():  # type: ignore[no-untyped-def]
    form = request.form
    try:
        account = access.accounts().add(form.get("email", ""), form.get("role", ""),
                                        form.get("password", ""), actor=access.actor())
    except AccountError as exc:
        return _page(str(exc), 422)
    flash(f"Account added for {account.email}.")
    return redirect(url_for(".users"), 303)


@bp.route("/disable", methods=["POST"])
@access.admin_only
def disable():  # type: ignore[no-untyped-def]
    try:
        account = access.accounts().disable(request.form.get("email", ""), actor=access.actor())
    except AccountError as exc:
        return _page(str(exc), 422)
    flash(f"{account.email} can no longer sign in.")
    return redirect(url_for(".users"), 303)


@bp.route("/password", methods=["POST"])
@access.admin_only
def reset_password():  # type: ignore[no-untyped-def]
    form = request.form
    try:
        account = access.accounts().reset_password(form.get("email", ""),
                                                   form.get("password", ""),
                                                   actor=access.actor())
    except AccountError as exc:
        return _page(str(exc), 422)
    flash(f"New password set for {account.email}; their other sessions have ended.")
    return redirect(url_for(".users"), 303)
