"""Signing in and out of the staff workspace."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from portal.staff import access
from publications.users import SignInRefused

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    next_url = request.values.get("next", "")
    if request.method == "GET":
        if access.current_account() is not None:
            return redirect(access.safe_next(next_url))
        return render_template("staff/login.html", next=next_url, email="", error=None)
    email = request.form.get("email", "")
    try:
        account = access.accounts().authenticate(email, request.form.get("password", ""))
    except SignInRefused as exc:
        return render_template("staff/login.html", next=next_url, email=email,
                               error=str(exc)), 401
    access.sign_in(account)
    return redirect(access.safe_next(next_url))


@bp.route("/logout", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    access.sign_out()
    return redirect(url_for("staff.auth.login"))
