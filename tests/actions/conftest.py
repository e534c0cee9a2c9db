"""Fixtures of the action tests: the clock and the settings the actions see, and the register."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from actions.register import clock as register_clock
from actions.register import db
from tests.support.dialogue import CLOSED_PORT_URL, Clock, Configure, Register
from tests.support.moments import IN_WINDOW


@pytest.fixture(autouse=True)
def clock() -> Iterator[Clock]:
    """Inside the reading window unless a test moves it."""
    fixed = Clock(IN_WINDOW)
    with register_clock.use(fixed):
        yield fixed


@pytest.fixture
def configure() -> Iterator[Configure]:
    """Change the policy knobs the way the environment would (dataclasses.replace of the current ones)."""
    with ExitStack() as stack:
        yield Configure(stack)


@pytest.fixture
def register(committed_db: str) -> Register:
    """An empty, migrated register of the test's own."""
    return Register()


@pytest.fixture
def demo(register: Register) -> dict[str, str]:
    """The demo register; meter number -> meter id."""
    return register.seed()


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """DATABASE_URL pointing at a port where nothing listens."""
    monkeypatch.setenv("DATABASE_URL", CLOSED_PORT_URL)
    db.reset()
    yield
    db.reset()
