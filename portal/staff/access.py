"""Who is signed in, and the guard every staff page passes (sign-in, roles, CSRF)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, redirect, request, session, url_for

from publications.catalogue import Catalogue
from publications.users import Account, Accounts

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
    """Only a path inside the staff workspace is followed after sign-in (no open redirect)."""
    if target and target.startswith("/staff/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return url_for("staff.dashboard.home")
