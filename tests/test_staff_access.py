"""Who may reach which staff page: sign-in, roles, CSRF, lockout, session cookies."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask import Flask

from publications.catalogue import audit_events
from publications.settings import Settings
from publications.users import LOCK_AFTER, Accounts, SignInRefused
from tests.staff_helpers import ADMIN, EDITOR, app, client, csrf_token, make_app, sign_in

__all__ = ["app", "client"]


def _staff_requests(app: Flask) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) for every staff route, with 1 for each id in the path."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff"):
            continue
        url = re.sub(r"<(?:int:)?\w+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, url, rule.endpoint))
    assert len(out) > 10
    return out


def test_every_staff_route_refuses_an_anonymous_reader(app, client) -> None:  # type: ignore[no-untyped-def]
    for method, url, endpoint in _staff_requests(app):
        response = client.open(url, method=method)
        if endpoint == "staff.auth.login":
            assert response.status_code in (200, 401), url
            continue
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/staff/login?next="), (method, url)


def test_every_admin_route_refuses_an_editor(app, client) -> None:  # type: ignore[no-untyped-def]
    admin_only = [(m, u, e) for m, u, e in _staff_requests(app)
                  if getattr(app.view_functions[e], "admin_only", False)]
    assert {e for _m, _u, e in admin_only} >= {"staff.edit.delete", "staff.accounts.users",
                                               "staff.accounts.add"}
    sign_in(client, EDITOR)
    for method, url, _endpoint in admin_only:
        assert client.open(url, method=method).status_code == 403, (method, url)
    client.post("/staff/logout")
    sign_in(client, ADMIN)
    assert client.get("/staff/users/").status_code == 200


def test_sign_in_returns_to_the_page_asked_for(client) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/staff/audit?actor=x")
    assert first.headers["Location"] == "/staff/login?next=/staff/audit?actor%3Dx"
    done = client.post("/staff/login", data={"email": EDITOR[0], "password": EDITOR[1],
                                             "next": "/staff/audit?actor=x"})
    assert done.headers["Location"] == "/staff/audit?actor=x"
    # only pages of the workspace are followed: no open redirect
    client.post("/staff/logout")
    away = client.post("/staff/login", data={"email": EDITOR[0], "password": EDITOR[1],
                                             "next": "https://evil.example/"})
    assert away.headers["Location"] == "/staff/"


def test_wrong_password_is_refused_and_audited(app, client) -> None:  # type: ignore[no-untyped-def]
    page = client.post("/staff/login", data={"email": EDITOR[0], "password": "nope"})
    assert page.status_code == 401
    assert "The email or password is not right." in page.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    cat = app.extensions["catalogue"]
    with cat.reading() as session:
        (event,) = [e for e in audit_events(session) if e.action == "login-failed"]
    assert event.actor == EDITOR[0]
    assert event.details["reason"] == "wrong password"


def test_failures_slow_down_then_lock_the_account(settings: Settings) -> None:
    app = make_app(settings)
    now = [datetime(2026, 1, 1, 12, 0, 0)]
    accounts = Accounts(app.extensions["catalogue"], clock=lambda: now[0])
    for i in range(LOCK_AFTER):
        with pytest.raises(SignInRefused) as refused:
            accounts.authenticate(EDITOR[0], "wrong")
        if i >= 3:
            assert "wait" not in str(refused.value)  # each attempt waited long enough
        now[0] += timedelta(seconds=30)
    # locked: even the right password is refused
    with pytest.raises(SignInRefused, match="locked"):
        accounts.authenticate(EDITOR[0], EDITOR[1])
    now[0] += timedelta(minutes=16)
    assert accounts.authenticate(EDITOR[0], EDITOR[1]).email == EDITOR[0]
    # quick retries after three failures are told to wait, without checking the password
    for _ in range(3):
        with pytest.raises(SignInRefused):
            accounts.authenticate(EDITOR[0], "wrong")
    with pytest.raises(SignInRefused, match="wait"):
        accounts.authenticate(EDITOR[0], EDITOR[1])
    app.extensions["catalogue"].close()


def test_lock_is_per_account_and_reset_lifts_it(settings: Settings) -> None:
    app = make_app(settings)
    now = [datetime(2026, 1, 1, 12, 0, 0)]
    accounts = Accounts(app.extensions["catalogue"], clock=lambda: now[0])
    for _ in range(LOCK_AFTER):
        with pytest.raises(SignInRefused):
            accounts.authenticate(EDITOR[0], "wrong")
        now[0] += timedelta(seconds=30)
    assert accounts.authenticate(ADMIN[0], ADMIN[1]).role == "admin"
    accounts.reset_password(EDITOR[0], "a brand new password")
    assert accounts.authenticate(EDITOR[0], "a brand new password")
    app.extensions["catalogue"].close()


def test_disabling_or_resetting_ends_open_sessions(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    assert client.get("/staff/").status_code == 200
    Accounts(app.extensions["catalogue"]).reset_password(EDITOR[0], "another password 3")
    assert client.get("/staff/").status_code == 302
    sign_in(client, (EDITOR[0], "another password 3"))
    Accounts(app.extensions["catalogue"]).disable(EDITOR[0])
    assert client.get("/staff/").status_code == 302
    refused = client.post("/staff/login", data={"email": EDITOR[0],
                                                "password": "another password 3"})
    assert refused.status_code == 401


def test_sessions_expire(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    with client.session_transaction() as s:
        s["since"] -= 9 * 3600
    assert client.get("/staff/").status_code == 302


def test_session_cookie_flags(settings: Settings) -> None:
    for base_url, secure in (("http://127.0.0.1:5000", False), ("https://pubs.example", True)):
        app = make_app(Settings(home=settings.home / base_url[:5], base_url=base_url))
        client = app.test_client()
        cookie = sign_in(client, EDITOR).headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure
        assert "Expires=" in cookie  # a lasting (8-hour) session, not a browser-lifetime one
        app.extensions["catalogue"].close()


def test_logout_is_a_post(client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    assert client.get("/staff/logout").status_code == 405
    assert client.post("/staff/logout").headers["Location"] == "/staff/login"
    assert client.get("/staff/").status_code == 302


def test_every_form_needs_a_csrf_token(settings: Settings) -> None:
    app = make_app(settings, csrf=True)
    client = app.test_client()
    # signing in is a form too
    no_token = client.post("/staff/login", data={"email": ADMIN[0], "password": ADMIN[1]})
    assert no_token.status_code == 400
    assert "nothing was changed" in no_token.get_data(as_text=True)
    sign_in(client, ADMIN)
    assert client.get("/staff/").status_code == 200
    cat = app.extensions["catalogue"]
    with cat.reading() as session:
        before = len(audit_events(session, limit=1000))
    posts = [(m, u) for m, u, _e in _staff_requests(app) if m == "POST"]
    for method, url in posts:
        response = client.open(url, method=method, data={"csrf_token": "forged",
                                                         "email": EDITOR[0], "reason": "x"})
        assert response.status_code == 400, url
        response = client.open(url, method=method, data={"email": EDITOR[0], "reason": "x"})
        assert response.status_code == 400, url
    with cat.reading() as session:
        assert len(audit_events(session, limit=1000)) == before
    # still signed in (logout was refused too), and a real token works
    token = csrf_token(client, "/staff/users/")
    assert token
    added = client.post("/staff/users/", data={"csrf_token": token, "email": "new@hub.example",
                                              "role": "editor", "password": "long enough pw"})
    assert added.status_code == 303
    cat.close()


def test_public_api_is_not_subject_to_staff_csrf(settings: Settings) -> None:
    app = make_app(settings, csrf=True)
    response = app.test_client().post("/oai", data={"verb": "Identify"})
    assert response.status_code == 200
    app.extensions["catalogue"].close()
