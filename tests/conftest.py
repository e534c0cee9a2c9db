"""Fixtures every suite may use; their machinery lives in tests/support/.

- The whole run lives at a fixed moment (tests/support/moments.py): the test process's clock and,
  through OTKE_NOW, every server and command the tests start.
- PostgreSQL: a schema migrated once per run (``session``, rolled back per test) or one of a
  test's own with real commits (``committed_db``).
- The real servers (``servers``), the trained model, the fake Viber API and the web chat page are
  started once per run and shared by the end-to-end, browser, fault and scale-out tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from actions.register import clock, db
from tests.support.database import fresh_schema
from tests.support.fake_viber import FakeViber, start_fake_viber
from tests.support.moments import TEST_MOMENT
from tests.support.servers import Servers, WebchatPage, running_servers, serving_webchat, trained_model

# Run by the Rasa environment's own pytest (tests/rasa/pytest.ini), never by this one.
collect_ignore = ["rasa"]


@pytest.fixture(scope="session", autouse=True)
def fixed_moment() -> Iterator[None]:
    """Every test, server and command of the run sees TEST_MOMENT as "now"."""
    previous = os.environ.get(clock.ENVIRONMENT_VARIABLE)
    os.environ[clock.ENVIRONMENT_VARIABLE] = TEST_MOMENT.isoformat()
    clock.set_source(None)
    yield
    if previous is None:
        os.environ.pop(clock.ENVIRONMENT_VARIABLE, None)
    else:
        os.environ[clock.ENVIRONMENT_VARIABLE] = previous
    clock.set_source(None)


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """An engine on a schema migrated once for the whole run."""
    with fresh_schema() as url:
        engine = db.make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def session(pg_engine: Engine) -> Iterator[Session]:
    """A session whose every change is rolled back after the test (commits become savepoints)."""
    with pg_engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            yield session
        transaction.rollback()


@pytest.fixture
def committed_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A schema of the test's own where commits are real; DATABASE_URL points at it. Yields the URL."""
    with fresh_schema() as url:
        monkeypatch.setenv("DATABASE_URL", url)
        db.reset()
        yield url
        db.reset()


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The trained model for the current config, domain and data (trained only if missing)."""
    return trained_model()


@pytest.fixture(scope="session")
def fake_viber() -> Iterator[FakeViber]:
    fake = start_fake_viber()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def webchat_page() -> Iterator[WebchatPage]:
    """webchat/public served on 127.0.0.1, as `make run` serves it."""
    with serving_webchat() as page:
        yield page


@pytest.fixture(scope="session")
def servers(
    model_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fake_viber: FakeViber,
    webchat_page: WebchatPage,
) -> Iterator[Servers]:
    """The action server on a fresh schema with the demo register, and the Rasa server, once per run."""
    with running_servers(model_path, fake_viber, webchat_page, tmp_path_factory.mktemp("rasa")) as started:
        yield started
