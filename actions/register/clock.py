"""The one clock: what "now" is for the register, the dialogue and the operator tools.

Real time unless set. Tests set it in-process (``use``); a whole process takes a fixed moment
from ``OTKE_NOW`` (ISO 8601 with its UTC offset, e.g. ``2026-11-27T12:00:00+02:00``), which the
test suites give the servers they start, so that a run crossing midnight at a month's end sees
one billing period from start to finish. ``scripts/serve.sh`` refuses it in production.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Source = Callable[[], dt.datetime]
ENVIRONMENT_VARIABLE = "OTKE_NOW"


def system_time() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fixed(moment: dt.datetime) -> Source:
    """A clock that always says ``moment`` (timezone-aware)."""
    if moment.tzinfo is None:
        raise ValueError(f"a fixed clock needs a timezone-aware moment, not {moment!r}")
    utc = moment.astimezone(dt.UTC)
    return lambda: utc


def parse_moment(raw: str, name: str = ENVIRONMENT_VARIABLE) -> dt.datetime:
    """An ISO 8601 moment with its offset; a clear error naming ``name`` otherwise."""
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(
            f"{name} must be an ISO 8601 moment such as 2026-11-27T12:00:00+02:00, not {raw!r}"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} must carry its UTC offset (e.g. +02:00), not {raw!r}")
    return moment


def _from_environment() -> Source:
    raw = os.environ.get(ENVIRONMENT_VARIABLE)
    return fixed(parse_moment(raw)) if raw else system_time


_source: Source = _from_environment()


def now() -> dt.datetime:
    """The current moment, timezone-aware, in UTC."""
    return _source()


def set_source(source: Source | None) -> None:
    """Make ``source`` the clock of this process; None goes back to the environment's clock."""
    global _source
    _source = source if source is not None else _from_environment()


@contextmanager
def use(source: Source) -> Iterator[None]:
    """``source`` is the clock inside the block."""
    previous = _source
    set_source(source)
    try:
        yield
    finally:
        set_source(previous)
