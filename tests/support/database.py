"""PostgreSQL for the tests: a fresh schema (or database) of a test's own, dropped afterwards.

PostgreSQL must be reachable at TEST_DATABASE_URL (default: the local server's ``test``
database); `make test` starts it when it is down. There is no fallback and no skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, create_engine, make_url, text

from actions.register import db, schema

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def schema_url(schema: str) -> str:
    """ADMIN_URL whose connections see only ``schema`` (through search_path)."""
    url = make_url(ADMIN_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextmanager
def fresh_schema(*, migrate: bool = True) -> Iterator[str]:
    """A new, empty schema (migrated to head unless told not to); dropped afterwards. Yields its URL.

    The schema's owner holds an advisory lock named after it for as long as it lives, so a run that
    was killed leaves a schema nobody holds, which the next run drops (whichever machine it is on).
    """
    name = f"t_{secrets.token_hex(6)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        owner = admin.connect()
    except Exception as error:  # say plainly what is missing, then fail
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {ADMIN_URL} is not usable ({error}); `make test` starts it", pytrace=False
        )
    url = schema_url(name)
    try:
        owner.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
        _drop_abandoned_schemas(owner)
        owner.execute(text(f'CREATE SCHEMA "{name}"'))
        if migrate:
            engine = db.make_engine(url)
            with engine.begin() as connection:
                schema.upgrade("head", connection)
            engine.dispose()
        yield url
    finally:
        owner.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        owner.close()
        admin.dispose()


def _drop_abandoned_schemas(connection: Connection) -> None:
    """Test schemas whose owner is gone (its advisory lock is free)."""
    names = connection.scalars(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'")).all()
    for name in names:
        if connection.scalar(text("SELECT pg_try_advisory_lock(hashtext(:name))"), {"name": name}):
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            connection.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name})


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ADMIN_URL's server (for Rasa's tracker store, which
    creates its `events` table there); dropped afterwards. Yields its name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
