"""Policy knobs of the action server, read from the environment (defaults in brackets in README)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from actions.models import MeterKind

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


def _decimal(name: str, default: Decimal) -> Decimal:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{name} must be a decimal number, not {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive number, not {raw!r}")
    return value


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {raw!r}")
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
