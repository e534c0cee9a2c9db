"""The one door to the meter-reading database: engine and sessions from DATABASE_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

PROJECT_DIR = Path(__file__).resolve().parents[2]
EMBEDDED_DB_PATH = PROJECT_DIR / "var" / "otke.sqlite3"


class DatabaseNotConfigured(RuntimeError):
    """The production profile without DATABASE_URL: never the embedded file by mistake."""


def database_url() -> str:
    """DATABASE_URL, or the embedded SQLite file under the project (never in the production profile)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    if os.environ.get("OTKE_PROFILE") == "production":
        raise DatabaseNotConfigured(
            "DATABASE_URL is not set, and the production profile (OTKE_PROFILE=production) never falls "
            "back to the embedded SQLite file: set it, e.g. postgresql+psycopg://user:password@host/otke"
        )
    return f"sqlite:///{EMBEDDED_DB_PATH}"


def redacted_url() -> str:
    """DATABASE_URL with any password hidden, for messages and logs."""
    return make_url(database_url()).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    # hide_parameters: a logged database error shows the statement, never the values (names, ids)
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800, hide_parameters=True
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN, so a transaction really spans the whole write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: concurrent writers wait instead of deadlocking.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@cache
def engine() -> Engine:
    """The process-wide engine for DATABASE_URL (pooled; created on first use)."""
    return make_engine(database_url())


@cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(engine(), expire_on_commit=False)


@contextmanager
def transaction() -> Iterator[Session]:
    """A session whose work is committed as one transaction, or rolled back on any error."""
    with _session_factory()() as session, session.begin():
        yield session


def reset() -> None:
    """Forget the engine (after DATABASE_URL changed, e.g. in tests)."""
    if engine.cache_info().currsize:
        engine().dispose()
    engine.cache_clear()
    _session_factory.cache_clear()
