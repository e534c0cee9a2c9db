"""Rasa's SQL tracker store, read-only: where it is, and the events of a conversation.

The console never writes Rasa's ``events`` table except to purge old conversations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import URL, Column, Engine, Float, Integer, MetaData, String, Table, Text, inspect, select

from actions.register.db import PROJECT_DIR, make_engine

EMBEDDED_TRACKER_PATH = PROJECT_DIR / "var" / "conversations.sqlite3"

# Rasa 3.6's SQLTrackerStore table, as Rasa creates it (rasa/core/tracker_store.py, SQLEvent).
events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


def tracker_url() -> str:
    """TRACKER_DB_URL; in the production profile, the TRACKER_DB_* variables Rasa's endpoints use;
    otherwise the SQLite file `make run` gives Rasa (var/conversations.sqlite3)."""
    url = os.environ.get("TRACKER_DB_URL", "").strip()
    if url:
        return url
    if os.environ.get("OTKE_PROFILE") == "production":
        missing = [name for name in ("TRACKER_DB_HOST", "TRACKER_DB_NAME") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} not set: the console reads the conversations from Rasa's tracker "
                "store (deploy/endpoints.production.yml); set them or TRACKER_DB_URL"
            )
        return URL.create(
            "postgresql+psycopg",
            username=os.environ.get("TRACKER_DB_USER") or None,
            password=os.environ.get("TRACKER_DB_PASSWORD") or None,
            host=os.environ["TRACKER_DB_HOST"],
            port=int(os.environ.get("TRACKER_DB_PORT") or 5432),
            database=os.environ["TRACKER_DB_NAME"],
        ).render_as_string(hide_password=False)
    return f"sqlite:///{EMBEDDED_TRACKER_PATH}"


@cache
def engine() -> Engine:
    return make_engine(tracker_url())


# Rasa creates its table with the first conversation; once seen, no page asks the catalogue again.
_table_seen: set[str] = set()


def reset() -> None:
    if engine.cache_info().currsize:
        engine().dispose()
    engine.cache_clear()
    _table_seen.clear()


@dataclass(frozen=True)
class Event:
    id: int
    sender_id: str
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data.get("event", ""))

    @property
    def timestamp(self) -> float:
        return float(self.data.get("timestamp") or 0.0)


def decoded(row: Sequence[Any]) -> Event:
    """A row (id, sender_id, data) as an event; data that is not a JSON object reads as empty."""
    try:
        data = json.loads(row[2] or "{}")
    except ValueError:
        data = {}
    return Event(int(row[0]), str(row[1]), data if isinstance(data, dict) else {})


def has_events_table() -> bool:
    """False until Rasa has written its first conversation (Rasa creates the table then)."""
    if not _table_seen and inspect(engine()).has_table("events"):
        _table_seen.add("events")
    return bool(_table_seen)


def events_after(last_id: int, limit: int) -> list[Event]:
    query = (
        select(events.c.id, events.c.sender_id, events.c.data)
        .where(events.c.id > last_id)
        .order_by(events.c.id)
        .limit(limit)
    )
    with engine().connect() as connection:
        return [decoded(row) for row in connection.execute(query)]


def sender_events(sender_id: str, first_id: int, last_id: int | None = None) -> list[Event]:
    """A sender's events from ``first_id`` on (to ``last_id``, when given), in order."""
    query = select(events.c.id, events.c.sender_id, events.c.data).where(
        events.c.sender_id == sender_id, events.c.id >= first_id
    )
    if last_id is not None:
        query = query.where(events.c.id <= last_id)
    with engine().connect() as connection:
        return [decoded(row) for row in connection.execute(query.order_by(events.c.id))]
