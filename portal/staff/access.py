"""Who is signed in, and the guard every staff page passes (sign-in, roles, CSRF)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for

from publications.catalogue import Catalogue
from publications.users import Account, Accounts

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Pages a person who is not signed in may see.
PUBLIC_ENDPOINTS = frozenset({"staff.auth.login"})
F = TypeVar("F", bound=Callable[..., Any])
# Staff forms that carry files, and how many files at most; every other form is small.
UPLOAD_ENDPOINTS = {"staff.upload.upload": 50, "staff.edit.replace": 1}
FORM_BYTES = 2 * 1024 * 1024  # as portal.security.FORM_BYTES


def catalogue() -> Catalogue:
    return current_app.extensions["catalogue"]


def accounts() -> Accounts:
    return Accounts(catalogue())


def admin_only(view: F) -> F:
    """Mark a staff view as for administrators only: editors get 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        account = current_account()
        if account is None or not account.is_admin:
            abort(403)
        return view(*args, **kwargs)

    wrapper.admin_only = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def current_account() -> Account | None:
    """The signed-in staff member, or None. Checked against the database once per request,
    so a disabled account or a reset password ends existing sessions at once."""
    if "staff_account" in g:
        return g.staff_account
    account = None
    uid, epoch, since = session.get("uid"), session.get("epoch"), session.get("since")
    if isinstance(uid, int) and isinstance(since, int | float):
        age = datetime.now(UTC).timestamp() - since
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        if 0 <= age <= lifetime:
            found = accounts().get(uid)
            if found is not None and found.active and found.session_epoch == epoch:
                account = found
    g.staff_account = account
    return account


def sign_in(account: Account) -> None:
    session.clear()  # a fresh session: an id planted before sign-in is not carried over
    session.permanent = True
    session.update(uid=account.id, epoch=account.session_epoch,
                   since=int(datetime.now(UTC).timestamp()))
    g.staff_account = account


def sign_out() -> None:
    """End this session and every other session of the same account: the cookie holds the
    session itself, so a copy taken earlier would otherwise stay valid until it expires."""
    account = current_account()
    if account is not None:
        accounts().end_sessions(account.id)
    session.clear()
    g.staff_account = None


def actor() -> str:
    account = current_account()
    return account.email if account is not None else "anonymous"


def guard() -> Any:
    """Runs before every staff page: sign-in, then a cap on the request body, then CSRF on
    state changes.

    Sign-in comes first so that a request from someone not signed in is turned away before
    its body is read: checking a CSRF token parses the form, and an upload-sized body from
    anyone on the internet would otherwise be spooled to disk first.
    """
    if request.endpoint not in PUBLIC_ENDPOINTS and current_account() is None:
        return redirect(url_for("staff.auth.login", next=request.full_path.rstrip("?")))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        request.max_content_length = body_limit()
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            current_app.extensions["staff_csrf"].protect()
    return None


def body_limit() -> int:
    """The largest request body this staff request may send: files for the upload forms
    (for signed-in staff only), a plain form's worth for everything else."""
    files = UPLOAD_ENDPOINTS.get(request.endpoint or "", 0)
    if files and current_account() is not None:
        # plus room for the other fields and the multipart headers
        return files * catalogue().settings.max_upload_bytes + 64 * 1024
    return FORM_BYTES


def safe_next(target: str | None) -> str:
    """Only a path inside the staff workspace is followed after sign-in (no open redirect).

    Refused, in favour of the staff home page: anything with a scheme or a host
    (`https://evil.example`, `//evil.example`, `javascript:`), a backslash (which browsers
    read as a slash: `/\\evil.example`), a control character (which could split the
    Location header), `..` segments, and any of these hidden behind percent-encoding.
    """
    home = url_for("staff.dashboard.home")
    if not target or len(target) > 2000:
        return home
    decoded = unquote(target)
    for form in (target, decoded):
        parts = urlsplit(form)
        if parts.scheme or parts.netloc or "\\" in form or _CONTROL.search(form) \
                or form.startswith("//") or not (form + "/").startswith("/staff/") \
                or ".." in form.split("?")[0].split("/"):
            return home
    return target
