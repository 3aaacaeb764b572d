"""Fixtures and sign-in helpers shared by the staff workspace tests."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.app import create_app
from publications.settings import Settings
from publications.users import Accounts

EDITOR = ("editor@hub.example", "editor password 1")
EDITOR2 = ("second@hub.example", "second password 2")
ADMIN = ("admin@hub.example", "admin password 12")


def make_app(settings: Settings, csrf: bool = False) -> Flask:
    app = create_app(settings, TESTING=True, WTF_CSRF_ENABLED=csrf)
    accounts = Accounts(app.extensions["catalogue"])
    accounts.add(EDITOR[0], "editor", EDITOR[1])
    accounts.add(EDITOR2[0], "editor", EDITOR2[1])
    accounts.add(ADMIN[0], "admin", ADMIN[1])
    return app


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = make_app(settings)
    yield app
    close(app)


def close(app: Flask) -> None:
    app.extensions["staff_uploads"].join(60)  # the background reader finishes its round
    app.extensions["index"].close()
    app.extensions["catalogue"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sign_in(client: FlaskClient, who: tuple[str, str] = EDITOR):  # type: ignore[no-untyped-def]
    response = client.post("/staff/login", data={"email": who[0], "password": who[1],
                                                 "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def csrf_token(client: FlaskClient, path: str = "/staff/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return m.group(1) if m else ""


def pdf_upload(data: bytes, name: str = "report.pdf") -> tuple[io.BytesIO, str]:
    return (io.BytesIO(data), name)


def revision_of(html: str) -> str:
    m = re.search(r'name="revision" value="(\d+)"', html)
    assert m, "the edit form carries the revision it was opened at"
    return m.group(1)
