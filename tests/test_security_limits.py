"""Rate limits: sign-in attempts and searches per client address, a 429 page that says how
long to wait (and a Retry-After header), settings that switch them off, and proxies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from portal.app import create_app
from publications.settings import Settings
from publications.users import Accounts
from tests.staff_helpers import EDITOR


@pytest.fixture
def make(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    apps: list[Flask] = []

    def build(**settings: object) -> Flask:
        home = tmp_path / f"home{len(apps)}"
        app = create_app(Settings(home=home, **settings), TESTING=True,
                         WTF_CSRF_ENABLED=False)  # type: ignore[arg-type]
        Accounts(app.extensions["catalogue"]).add(EDITOR[0], "editor", EDITOR[1])
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["staff_uploads"].join(30)
        app.extensions["index"].close()
        app.extensions["catalogue"].close()


def _retry_after(response) -> int:  # type: ignore[no-untyped-def]
    value = response.headers.get("Retry-After", "")
    assert value.isdigit(), response.headers
    return int(value)


def test_sign_in_attempts_are_limited_per_address(make) -> None:  # type: ignore[no-untyped-def]
    app = make(login_rate_limit="3/minute", search_rate_limit="off")
    client = app.test_client()
    for n in range(3):
        wrong = client.post("/staff/login", data={"email": f"nobody{n}@x.y", "password": "x"})
        assert wrong.status_code == 401
    refused = client.post("/staff/login", data={"email": EDITOR[0], "password": EDITOR[1]})
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "Too many requests" in html and "sign-in attempts" in html
    assert 1 <= _retry_after(refused) <= 60
    assert f"wait {_retry_after(refused)} seconds" in html or "seconds" in html
    assert refused.headers["Content-Security-Policy"]  # the 429 page is a page like any other
    assert client.get("/staff/").status_code == 302  # the right password did not get in
    # The form itself, reading and other addresses are not held back.
    assert client.get("/staff/login").status_code == 200
    assert client.get("/").status_code == 200
    other = app.test_client()
    done = other.post("/staff/login", data={"email": EDITOR[0], "password": EDITOR[1]},
                      environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert done.status_code == 302


SEARCHES = ["/search?q=libraries", "/api/search?q=libraries", "/search.atom?q=libraries",
            "/search/cite.bib?q=libraries"]


def test_searches_share_one_limit_per_address(make) -> None:  # type: ignore[no-untyped-def]
    app = make(search_rate_limit="4/minute", login_rate_limit="off")
    client = app.test_client()
    for url in SEARCHES:
        assert client.get(url).status_code == 200, url
    page = client.get("/search?q=more")
    assert page.status_code == 429
    assert "too many searches" in page.get_data(as_text=True).lower()
    assert _retry_after(page) >= 1
    api = client.get("/api/search?q=more")
    assert api.status_code == 429
    assert api.get_json()["error"]["status"] == 429  # the API answers in JSON
    assert _retry_after(api) >= 1
    assert client.get("/feeds/latest.atom").status_code == 200  # not a search
    assert client.get("/publications").status_code == 200
    assert app.test_client().get("/search?q=x", environ_base={
        "REMOTE_ADDR": "198.51.100.1"}).status_code == 200


def test_the_limit_window_moves_on(make, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = make(search_rate_limit="2/10 seconds")
    client = app.test_client()
    assert [client.get("/search?q=a").status_code for _ in range(3)] == [200, 200, 429]
    # Rather than wait ten seconds, move the limiter's clock on.
    import time as real_time

    later = real_time.time() + 11
    monkeypatch.setattr("limits.storage.memory.time.time", lambda: later)
    assert client.get("/search?q=a").status_code == 200


def test_limits_can_be_switched_off(make) -> None:  # type: ignore[no-untyped-def]
    app = make(search_rate_limit="off", login_rate_limit="off")
    client = app.test_client()
    assert all(client.get("/search?q=x").status_code == 200 for _ in range(80))
    assert all(client.post("/staff/login", data={"email": "a@b.c", "password": "x"})
               .status_code == 401 for _ in range(15))


def test_default_limits_allow_ordinary_use(make) -> None:  # type: ignore[no-untyped-def]
    app = make()
    client = app.test_client()
    # a reader paging through results and refining a search well within ten seconds
    assert all(client.get(f"/search?q=x{n}").status_code == 200 for n in range(60))
    assert client.get("/search?q=x").status_code == 429


def test_a_bad_rate_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PORTAL_SEARCH_RATE_LIMIT.*60/10 seconds"):
        create_app(Settings(home=tmp_path, search_rate_limit="lots"))


def test_rates_come_from_the_environment(tmp_path: Path) -> None:
    s = Settings.from_env({"PORTAL_HOME": str(tmp_path), "PORTAL_LOGIN_RATE_LIMIT": "5/minute",
                           "PORTAL_SEARCH_RATE_LIMIT": "off", "PORTAL_TRUSTED_PROXIES": "1",
                           "PORTAL_RATE_LIMIT_STORAGE": "memory://"})
    assert (s.login_rate_limit, s.search_rate_limit, s.trusted_proxies) == ("5/minute", "off", 1)


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(make) -> None:  # type: ignore[no-untyped-def]
    direct = make(search_rate_limit="2/minute")
    client = direct.test_client()
    # Without a trusted proxy, a forged X-Forwarded-For does not get a fresh allowance.
    codes = [client.get("/search?q=x", headers={"X-Forwarded-For": f"203.0.113.{n}"})
             .status_code for n in range(3)]
    assert codes == [200, 200, 429]
    proxied = make(search_rate_limit="2/minute", trusted_proxies=1)
    client = proxied.test_client()
    first = [client.get("/search?q=x", headers={"X-Forwarded-For": "203.0.113.1"}).status_code
             for _ in range(3)]
    assert first == [200, 200, 429]
    # behind the proxy, each real client has its own allowance
    assert client.get("/search?q=x", headers={"X-Forwarded-For": "203.0.113.2"}
                      ).status_code == 200
