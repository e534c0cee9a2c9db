"""The Alembic migrations: up from empty, down again, up again; and no drift from models.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from actions.console import models as console_models  # noqa: F401  (their tables join Base)
from actions.register import db, schema
from actions.register.models import Base
from tests.support.database import fresh_schema

# What the first revision builds; later revisions add to it.
REGISTER_TABLES = {"accounts", "meters", "subscribers", "subscriber_meters", "readings", "alembic_version"}
CONSOLE_TABLES = {
    "staff_users",
    "staff_sessions",
    "staff_login_attempts",
    "staff_audit_log",
    "console_conversations",
    "console_refusals",
    "console_inbox",
    "console_index_state",
}
TABLES = REGISTER_TABLES | {"registration_failures", "reminders"} | CONSOLE_TABLES
SCRIPTS = ScriptDirectory.from_config(schema.alembic_config())
HEAD = SCRIPTS.get_current_head()
# Oldest first.
REVISIONS = [script.revision for script in reversed(list(SCRIPTS.walk_revisions()))]


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def version(connection: Connection) -> list[str]:
    return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def state(engine: Engine) -> tuple[set[str], list[str]]:
    with engine.connect() as connection:
        return tables(connection), version(connection) if "alembic_version" in tables(connection) else []


def test_revisions_form_one_line() -> None:
    assert len(SCRIPTS.get_heads()) == 1
    assert REVISIONS[0] == "0001"
    assert REVISIONS[-1] == HEAD
    assert len(set(REVISIONS)) == len(REVISIONS)
    # Every table the models know is built by the migrations, and nothing else.
    assert set(Base.metadata.tables) == TABLES - {"alembic_version"}


def test_up_down_up_on_postgresql() -> None:
    with fresh_schema(migrate=False) as url:
        engine = db.make_engine(url)
        try:
            assert state(engine) == (set(), [])
            with engine.begin() as connection:
                schema.upgrade("head", connection)
            assert state(engine) == (TABLES, [HEAD])
            with engine.begin() as connection:
                schema.downgrade("base", connection)
            assert state(engine) == ({"alembic_version"}, [])
            with engine.begin() as connection:
                schema.upgrade("head", connection)
            assert state(engine) == (TABLES, [HEAD])
        finally:
            engine.dispose()


def test_one_revision_at_a_time() -> None:
    """Each revision's upgrade and downgrade runs on its own."""
    with fresh_schema(migrate=False) as url:
        engine = db.make_engine(url)
        try:
            for revision in REVISIONS:
                with engine.begin() as connection:
                    schema.upgrade(revision, connection)
                assert state(engine)[1] == [revision]
                if revision == "0001":
                    assert state(engine)[0] == REGISTER_TABLES
            assert state(engine) == (TABLES, [HEAD])
            for below in reversed(REVISIONS[:-1]):
                with engine.begin() as connection:
                    schema.downgrade("-1", connection)
                assert state(engine)[1] == [below]
            assert state(engine) == (REGISTER_TABLES, ["0001"])
            with engine.begin() as connection:
                schema.downgrade("-1", connection)
            assert state(engine) == ({"alembic_version"}, [])
        finally:
            engine.dispose()


def test_models_match_migration() -> None:
    """Autogenerate finds nothing to change between the migrated schema and models.py."""
    with fresh_schema() as url:
        engine = db.make_engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []

                # The comparison is live: a model the migration lacks would show up.
                drifted = sa.MetaData()
                for table in Base.metadata.tables.values():
                    table.to_metadata(drifted)
                drifted.tables["meters"].append_column(sa.Column("serial", sa.String(20)))
                diff = compare_metadata(context, drifted)
                assert [(op[0], op[2], op[3].name) for op in diff] == [("add_column", "meters", "serial")]
        finally:
            engine.dispose()


CATALOG = """
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
UNION ALL
SELECT 'index', tablename, indexname, regexp_replace(indexdef, ' ON \\S+\\.', ' ON ')
  FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL
SELECT 'column', table_name, column_name,
       concat_ws(' ', data_type, character_maximum_length, numeric_precision, numeric_scale,
                 is_nullable, column_default)
  FROM information_schema.columns WHERE table_schema = current_schema()
ORDER BY 1, 2, 3
"""


def catalog(url: str) -> list[tuple[str, ...]]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(CATALOG)).all()
            return [tuple(row) for row in rows if "alembic_version" not in (row[1], row[2])]
    finally:
        engine.dispose()


def test_migration_builds_what_models_build() -> None:
    """Checks, partial unique indexes and defaults too, which autogenerate does not compare."""
    with fresh_schema() as migrated_url, fresh_schema(migrate=False) as created_url:
        engine = db.make_engine(created_url)
        with engine.begin() as connection:
            Base.metadata.create_all(connection)
        engine.dispose()
        migrated, created = catalog(migrated_url), catalog(created_url)
    assert migrated == created
    assert {table for kind, table, _, _ in migrated if kind == "column"} == set(Base.metadata.tables)
    named = {(kind, name) for kind, _, name, _ in migrated}
    assert ("constraint", "ck_readings_period_format") in named
    assert ("constraint", "ck_accounts_number_five_digits") in named
    indexes = {name: definition for kind, _, name, definition in migrated if kind == "index"}
    assert indexes["uq_readings_accepted_meter_period"] == (
        "CREATE UNIQUE INDEX uq_readings_accepted_meter_period ON readings "
        "USING btree (meter_id, period) WHERE ((status)::text = 'accepted'::text)"
    )


def test_up_down_up_on_sqlite(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'var' / 'otke.sqlite3'}")
    try:
        with engine.begin() as connection:
            schema.upgrade("head", connection)
        assert state(engine) == (TABLES, [HEAD])
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert {index["name"] for index in inspect(connection).get_indexes("readings")} == {
                "uq_readings_accepted_meter_period",
                "uq_readings_channel_message",
                "ix_readings_meter_period",
                "ix_readings_period_status",
                "ix_readings_subscriber_id",
            }
        with engine.begin() as connection:
            schema.downgrade("base", connection)
        assert state(engine) == ({"alembic_version"}, [])
        with engine.begin() as connection:
            schema.upgrade("head", connection)
        assert state(engine) == (TABLES, [HEAD])
    finally:
        engine.dispose()


def test_sqlite_keeps_the_register_rules(tmp_path: Path) -> None:
    """The embedded default enforces the same partial unique index and checks."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'otke.sqlite3'}")
    try:
        with engine.begin() as connection:
            schema.upgrade("head", connection)
        insert = (
            "INSERT INTO readings (meter_id, period, value, submitted_at, channel, status) "
            "VALUES (1, :period, :value, '2026-03-26 08:00:00', 'rest', :status)"
        )
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO accounts (number, address) VALUES ('12345', 'a')"))
            connection.execute(text("INSERT INTO meters (account_id, number, kind) VALUES (1, '1', 'heat')"))
            connection.execute(text(insert), {"period": "2026-03", "value": "1.00", "status": "superseded"})
            connection.execute(text(insert), {"period": "2026-03", "value": "2.00", "status": "accepted"})
        refused = [
            ("INSERT INTO accounts (number, address) VALUES ('1234a', 'a')", {}),
            ("INSERT INTO meters (account_id, number, kind) VALUES (1, '2', 'gas')", {}),
            (insert, {"period": "2026-03", "value": "3.00", "status": "accepted"}),
            (insert, {"period": "2026-13", "value": "3.00", "status": "accepted"}),
            (insert, {"period": "2026-04", "value": "-5.00", "status": "accepted"}),
            ("INSERT INTO meters (account_id, number, kind) VALUES (99, '3', 'heat')", {}),
        ]
        for statement, params in refused:
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
                connection.execute(text(statement), params)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT value, status FROM readings ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [("1.00", "superseded"), ("2.00", "accepted")]
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0004_renames_keep_the_data(dialect: str, tmp_path: Path) -> None:
    """register_digits -> dial_digits and registered_at -> enrolled_at carry every row, both ways."""
    with fresh_schema(migrate=False) as url:
        engine = db.make_engine(url if dialect == "postgresql" else f"sqlite:///{tmp_path / 'otke.sqlite3'}")
        try:
            with engine.begin() as connection:
                schema.upgrade("0003", connection)
                connection.execute(text("INSERT INTO accounts (number, address) VALUES ('12345', 'a')"))
                connection.execute(
                    text(
                        "INSERT INTO meters (account_id, number, kind, register_digits) VALUES (1, '7', 'heat', 4)"
                    )
                )
                connection.execute(
                    text(
                        "INSERT INTO subscribers (channel, channel_user_id, created_at) VALUES ('rest', 'u', :at)"
                    ),
                    {"at": "2026-11-26 10:00:00+00:00"},
                )
                connection.execute(
                    text("INSERT INTO subscriber_meters VALUES (1, 1, :at)"),
                    {"at": "2026-11-26 10:00:00+00:00"},
                )
            with engine.begin() as connection:
                schema.upgrade("0004", connection)
                assert connection.execute(text("SELECT number, dial_digits FROM meters")).all() == [("7", 4)]
                assert (
                    connection.execute(text("SELECT count(enrolled_at) FROM subscriber_meters")).scalar() == 1
                )
                with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
                    connection.execute(text("UPDATE meters SET dial_digits = 8"))
            with engine.begin() as connection:
                schema.downgrade("0003", connection)
                assert connection.execute(text("SELECT register_digits FROM meters")).scalar() == 4
                assert (
                    connection.execute(text("SELECT count(registered_at) FROM subscriber_meters")).scalar()
                    == 1
                )
        finally:
            engine.dispose()
