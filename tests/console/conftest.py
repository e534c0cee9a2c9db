"""The console's tests: a register schema of the test's own (DATABASE_URL) and a tracker-store
schema beside it (TRACKER_DB_URL) holding Rasa's ``events`` table, both on the real PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, insert

from actions.console import tracker
from actions.register import db
from tests.support.database import fresh_schema


@dataclass
class TrackerStore:
    url: str
    engine: Engine
    clock: float = 1_795_000_000.0  # 2026-11-18, advanced by each event written

    def write(self, sender: str, events: Sequence[dict[str, Any]], gap: float = 5.0) -> list[int]:
        """Append events as Rasa's SQLTrackerStore does; returns their ids."""
        ids = []
        with self.engine.begin() as connection:
            for event in events:
                self.clock += gap
                data = {"timestamp": self.clock, **event}
                result = connection.execute(
                    insert(tracker.events).values(
                        sender_id=sender,
                        type_name=data["event"],
                        timestamp=data["timestamp"],
                        intent_name=((data.get("parse_data") or {}).get("intent") or {}).get("name"),
                        action_name=data.get("name") if data["event"] == "action" else None,
                        data=json.dumps(data, ensure_ascii=False),
                    )
                )
                ids.append(int(result.inserted_primary_key[0]))
        return ids


@pytest.fixture
def tracker_store(committed_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrackerStore]:
    with fresh_schema(migrate=False) as url:
        monkeypatch.setenv("TRACKER_DB_URL", url)
        tracker.reset()
        engine = db.make_engine(url)
        tracker.events.create(engine)
        yield TrackerStore(url, engine)
        engine.dispose()
        tracker.reset()


# every staff member the console tests add signs in with it
PASSWORD = "correct horse battery"


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``, as the browser would send it back."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def signed_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client
