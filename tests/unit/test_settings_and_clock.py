"""The policy knobs and the clock, read from the environment: every malformed value stops the
process with a message naming the variable; nothing but ASCII digits counts as a number."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from actions.register import clock, settings
from actions.register.models import MeterKind


def test_defaults_without_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "READING_WINDOW_POLICY",
        "PLAUSIBLE_HOT_WATER",
        "PLAUSIBLE_HEAT",
        "REGISTRATION_FAILURES_IN_A_ROW",
    ):
        monkeypatch.delenv(name, raising=False)
    assert settings.load() == settings.Settings()


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READING_WINDOW_POLICY", "refuse")
    monkeypatch.setenv("PLAUSIBLE_HEAT", " 12.5 ")
    monkeypatch.setenv("REGISTRATION_FAILURES_PER_HOUR", "20")
    loaded = settings.load()
    assert loaded.reading_window_policy == "refuse"
    assert loaded.plausible_limit(MeterKind.HEAT) == Decimal("12.5")
    assert loaded.failures_per_hour == 20


@pytest.mark.parametrize(
    "raw",
    [
        "١٢",  # Arabic-Indic digits: isdigit() and int() take them
        "²",  # isdigit() takes it, int() raises
        "１２",  # full-width
        "0",
        "-3",
        "3.5",
        "",
        " ",
        "1e3",
        "9" * 5000,
    ],
)
def test_whole_numbers_are_ascii_digits_only(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("REGISTRATION_FAILURES_IN_A_ROW", raw)
    with pytest.raises(ValueError, match=r"^REGISTRATION_FAILURES_IN_A_ROW must be a positive whole number"):
        settings.load()


@pytest.mark.parametrize("raw", ["١٢", "NaN", "Infinity", "-1", "0", "0.00", "1,5", "1e2", "12.345", "٣.5"])
def test_decimals_are_ascii_digits_only(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("PLAUSIBLE_HOT_WATER", raw)
    with pytest.raises(ValueError, match=r"^PLAUSIBLE_HOT_WATER must be a positive number"):
        settings.load()


def test_an_unknown_window_policy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READING_WINDOW_POLICY", "ignore")
    with pytest.raises(ValueError, match=r"^READING_WINDOW_POLICY must be one of"):
        settings.load()


def test_use_replaces_the_settings_for_a_block() -> None:
    before = settings.current()
    with settings.use(settings.Settings(failures_in_a_row=7)):
        assert settings.current().failures_in_a_row == 7
    assert settings.current() is before


# --- the clock -----------------------------------------------------------------------------------


def test_the_clock_reads_otke_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTKE_NOW", "2026-12-31T23:59:59+02:00")
    clock.set_source(None)
    try:
        assert clock.now() == dt.datetime(2026, 12, 31, 21, 59, 59, tzinfo=dt.UTC)
        assert clock.now().tzinfo == dt.UTC
    finally:
        monkeypatch.undo()
        clock.set_source(None)


def test_without_otke_now_the_clock_is_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTKE_NOW")
    clock.set_source(None)
    try:
        before = dt.datetime.now(dt.UTC)
        assert before <= clock.now() <= dt.datetime.now(dt.UTC)
    finally:
        monkeypatch.undo()
        clock.set_source(None)


@pytest.mark.parametrize("raw", ["2026-11-27T12:00:00", "tomorrow", "2026-13-01T00:00+02:00", "١٢"])
def test_a_malformed_or_naive_otke_now_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^OTKE_NOW must"):
        clock.parse_moment(raw)


def test_use_sets_the_clock_for_a_block() -> None:
    outside = clock.now()
    moment = dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC)
    with clock.use(clock.fixed(moment)):
        assert clock.now() == moment
    assert clock.now() == outside  # the run's fixed moment (tests/conftest.py)


def test_a_fixed_clock_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.fixed(dt.datetime(2026, 11, 27, 12, 0))
