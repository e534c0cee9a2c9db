"""The register's schema, owned by the Alembic migrations in migrations/: upgrade and downgrade.

Apart from actions.register.db so that the action server, which never migrates, does not load Alembic.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from actions.register.db import PROJECT_DIR


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for ``migrations/``; with a connection, migrations run on it."""
    config = Config()
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(revision: str = "head", connection: Connection | None = None) -> None:
    command.upgrade(alembic_config(connection), revision)


def downgrade(revision: str, connection: Connection | None = None) -> None:
    command.downgrade(alembic_config(connection), revision)
