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
    """Runs before every staff page: CSRF on state changes, then sign-in."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and \
            current_app.config.get("WTF_CSRF_ENABLED", True):
        current_app.extensions["staff_csrf"].protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_account() is None:
        return redirect(url_for("staff.auth.login", next=request.full_path.rstrip("?")))
    return None


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
