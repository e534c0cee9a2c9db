"""Policy knobs of the register's rules, read from the environment (docs/configuration.md lists them).

The action server reads them once at start (a malformed value stops it with a message naming the
variable); tests replace them in-process with ``use``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from actions.register.models import MeterKind

WINDOW_POLICIES = ("remind", "refuse")


@dataclass(frozen=True)
class Settings:
    # Outside the 25th..month-end window: accept with a reminder, or refuse.
    reading_window_policy: str = "remind"
    # Monthly consumption above which the subscriber is asked to confirm before saving.
    plausible_consumption: tuple[tuple[MeterKind, Decimal], ...] = (
        (MeterKind.HOT_WATER, Decimal("30")),
        (MeterKind.HEAT, Decimal("10")),
    )
    # Registration attempts: failed pairs in a row that end the form, and per-hour limits.
    failures_in_a_row: int = 3
    failures_per_hour: int = 10
    global_failures_per_hour: int = 2000

    def plausible_limit(self, kind: MeterKind) -> Decimal:
        return dict(self.plausible_consumption)[kind]


# ASCII digits only: str.isdigit(), int() and Decimal() take "١٢" (and isdigit() "²", which int() refuses).
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?")


def _decimal(name: str, default: Decimal) -> Decimal:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not _DECIMAL.fullmatch(raw.strip()) or (value := Decimal(raw.strip())) <= 0:
        raise ValueError(
            f"{name} must be a positive number written in ASCII digits, such as 30 or 12.5, not {raw!r}"
        )
    return value


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw.strip()) or int(raw) < 1:
        raise ValueError(
            f"{name} must be a positive whole number written in ASCII digits (1 to 999999999), not {raw!r}"
        )
    return int(raw)


def load() -> Settings:
    """Settings from the environment; a malformed value stops the action server at start."""
    defaults = Settings()
    policy = os.environ.get("READING_WINDOW_POLICY", defaults.reading_window_policy)
    if policy not in WINDOW_POLICIES:
        raise ValueError(f"READING_WINDOW_POLICY must be one of {WINDOW_POLICIES}, not {policy!r}")
    limits = dict(defaults.plausible_consumption)
    return Settings(
        reading_window_policy=policy,
        plausible_consumption=(
            (MeterKind.HOT_WATER, _decimal("PLAUSIBLE_HOT_WATER", limits[MeterKind.HOT_WATER])),
            (MeterKind.HEAT, _decimal("PLAUSIBLE_HEAT", limits[MeterKind.HEAT])),
        ),
        failures_in_a_row=_positive_int("REGISTRATION_FAILURES_IN_A_ROW", defaults.failures_in_a_row),
        failures_per_hour=_positive_int("REGISTRATION_FAILURES_PER_HOUR", defaults.failures_per_hour),
        global_failures_per_hour=_positive_int(
            "REGISTRATION_GLOBAL_FAILURES_PER_HOUR", defaults.global_failures_per_hour
        ),
    )


_current: Settings | None = None


def current() -> Settings:
    """The settings in force: the environment's, read on first use, unless a test set others."""
    global _current
    if _current is None:
        _current = load()
    return _current


@contextmanager
def use(settings: Settings) -> Iterator[Settings]:
    """``settings`` are in force inside the block."""
    global _current
    previous, _current = _current, settings
    try:
        yield settings
    finally:
        _current = previous
