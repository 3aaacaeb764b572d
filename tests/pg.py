"""A fresh PostgreSQL catalogue per test: one schema each, dropped afterwards.

The server comes from `PORTAL_TEST_POSTGRES_URL` (`.ci/run` starts one and sets it). A schema
is much cheaper to make than a database; the catalogue reaches it through the connection's
`search_path`, and the `application_name` marks the test's connections so teardown can end
any a test left open before dropping the schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

ENV = "PORTAL_TEST_POSTGRES_URL"


def server_url() -> str:
    """The test server's URL, or skip (fail under CI=true) when none is configured."""
    url = os.environ.get(ENV, "")
    if not url:
        message = (
            f"PostgreSQL tests need {ENV} (e.g. postgresql+psycopg://user:pw@127.0.0.1/db); "
            "`.ci/run` starts a server and sets it"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        message = "PostgreSQL tests need psycopg (pip install -e '.[postgres]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


def _admin_conninfo(url: str) -> str:
    # SQLAlchemy's dialect prefix is not a libpq scheme.
    return "postgresql://" + url.split("://", 1)[1]


@contextmanager
def fresh_schema() -> Iterator[str]:
    """Yield a SQLAlchemy URL whose connections live in a new, empty schema."""
    import psycopg

    url = server_url()
    name = "t_" + uuid.uuid4().hex[:16]
    conninfo = _admin_conninfo(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in url else "?"
    options = quote(f"-csearch_path={name}")
    try:
        yield f"{url}{sep}application_name={name}&options={options}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
