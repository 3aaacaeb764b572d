"""The catalogue database: engine, sessions, and schema migrations.

This is the one place that knows about a particular database: the SQLite pragmas and the
PostgreSQL journal lock below. Everything else speaks plain SQLAlchemy, so the same code and
migrations run on either, chosen by `PORTAL_DATABASE_URL`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from publications.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision (tests/test_catalogue.py checks it against Alembic's view
# of `migrations/`): when the catalogue is at it, a command starts without importing Alembic.
HEAD_REVISION = "0004"


def make_engine(settings: Settings, *, for_writing: bool = True) -> Engine:
    """An engine for the catalogue. With SQLite, writers and readers get separate engines:
    a writer's transactions take the write lock at once, a reader's never take it."""
    url = database_url(settings.database_url)
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        _tune_sqlite(engine, immediate=for_writing)
    else:
        engine = create_engine(url, pool_pre_ping=True)
        if for_writing and engine.dialect.name == "postgresql":
            _order_postgresql_writers(engine)
    return engine


def database_url(url: str) -> str:
    """The URL with a driver SQLAlchemy can load: a bare `postgresql://` (or `postgres://`,
    as many hosting services write it) means psycopg 3, the driver of the `postgres` extra."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


# Any fixed 64-bit number: the key of the advisory lock that orders catalogue writers.
WRITER_LOCK_KEY = 0x706F7274616C  # "portal"


def _order_postgresql_writers(engine: Engine) -> None:
    # PostgreSQL-specific: the journal is a replication log that every node reads in id
    # order and remembers how far it got. A sequence hands out ids when rows are inserted,
    # not when they commit, so two concurrent writers could commit ids 11 then 10, and a node
    # that had read up to 11 would never see 10. Every writing transaction therefore takes one
    # transaction-level advisory lock as it begins (the counterpart of SQLite's BEGIN
    # IMMEDIATE below): writers run one at a time, ids are drawn and committed in the same
    # order, and the lock goes with the commit or the rollback, even if the process dies.
    # Readers use another engine and never take it. See docs/deployment.md.
    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")


def _tune_sqlite(engine: Engine, immediate: bool) -> None:
    # SQLite-specific: WAL lets readers run while one process writes; a long busy timeout
    # lets two `portal ingest` processes take turns instead of failing with "locked";
    # foreign keys are off by default in SQLite.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # A writer takes the write lock at the start so two writers queue on busy_timeout
        # rather than deadlocking when both upgrade from a read lock. A reader begins a
        # deferred transaction: in WAL mode it never blocks, nor is blocked by, a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _alembic_config(connection) -> Config:  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def current_revision(connection) -> str | None:  # type: ignore[no-untyped-def]
    """The catalogue's schema revision as Alembic records it (None for a new catalogue)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the catalogue schema up to the newest migration (safe to run every start)."""
    with engine.begin() as connection:
        if current_revision(connection) == HEAD_REVISION:
            return
        from alembic import command

        command.upgrade(_alembic_config(connection), "head")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
