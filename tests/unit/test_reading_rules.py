"""The reading value rules and the Kyiv billing calendar: pure functions, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from actions.register.period import (
    KYIV,
    in_reading_window,
    is_period,
    period_of,
    previous_period,
    reading_window,
)
from actions.register.reading import ReadingRefused, consumption, dial_limit, format_value, parse_reading


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123.45", "123.45"),
        (".5", "0.50"),
        (",5", "0.50"),
        ("123,45", "123.45"),
        (" 123.45 ", "123.45"),
        ("\t123.45\n", "123.45"),
        ("\u00a0123,45\u00a0", "123.45"),
        ("123", "123.00"),
        ("123.", "123.00"),
        ("123.4", "123.40"),
        ("0", "0.00"),
        ("0.00", "0.00"),
        ("007.5", "7.50"),
        ("000999.99", "999.99"),
        ("999.99", "999.99"),
        ("+5", "5.00"),
        ("12 3", "123.00"),
        ("１２３", "123.00"),  # full-width digits are folded (NFKC)
    ],
)
def test_parse_reading_accepts(text: str, expected: str) -> None:
    value = parse_reading(text)
    assert isinstance(value, Decimal)
    assert str(value) == expected
    assert value == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u00a0\t", "empty"),
        ("abc", "not_a_number"),
        ("1e3", "not_a_number"),
        ("NaN", "not_a_number"),
        ("nan", "not_a_number"),
        ("Infinity", "not_a_number"),
        ("∞", "not_a_number"),
        ("0x1F", "not_a_number"),
        ("١٢٣٫٤٥", "not_a_number"),  # Arabic-Indic digits and decimal separator
        ("١٢٣", "not_a_number"),
        ("12.3.4", "not_a_number"),
        ("12,3,4", "not_a_number"),
        (".", "not_a_number"),
        (",", "not_a_number"),
        ("1_000", "not_a_number"),
        ("--5", "not_a_number"),
        ("-", "not_a_number"),
        ("+-5", "not_a_number"),
        ("-5", "negative"),
        ("−5", "negative"),  # U+2212 MINUS SIGN
        ("-0", "negative"),
        ("-12.50", "negative"),
        (" - 5 ", "negative"),
        ("123.456", "too_many_decimals"),
        ("0,001", "too_many_decimals"),
        ("1000", "too_many_digits"),
        ("1000.00", "too_many_digits"),
        ("1 000.5", "too_many_digits"),  # spaces go, so this is 1000.5
        ("1\u202f000", "too_many_digits"),
        ("0001000", "too_many_digits"),
    ],
)
def test_parse_reading_refuses(text: str, reason: str) -> None:
    with pytest.raises(ReadingRefused) as refused:
        parse_reading(text)
    assert refused.value.reason == reason
    assert isinstance(refused.value, ValueError)
    assert str(refused.value) == f"{reason}: {text!r}"


def test_register_digits_widen_the_limit() -> None:
    assert parse_reading("1000", dial_digits=4) == Decimal("1000.00")
    assert parse_reading("9999.99", dial_digits=4) == Decimal("9999.99")
    with pytest.raises(ReadingRefused) as refused:
        parse_reading("10000", dial_digits=4)
    assert refused.value.reason == "too_many_digits"
    with pytest.raises(ReadingRefused) as refused:
        parse_reading("10", dial_digits=1)
    assert refused.value.reason == "too_many_digits"


@pytest.mark.parametrize(("digits", "limit"), [(1, "9.99"), (3, "999.99"), (5, "99999.99")])
def test_register_limit(digits: int, limit: str) -> None:
    assert dial_limit(digits) == Decimal(limit)


def test_register_limit_default() -> None:
    assert dial_limit() == Decimal("999.99")


@pytest.mark.parametrize(
    ("previous", "current", "digits", "expected"),
    [
        ("100.00", "112.35", 3, "12.35"),
        ("462.35", "475.10", 3, "12.75"),
        ("475.10", "475.10", 3, "0.00"),
        ("991.75", "3.60", 3, "11.85"),  # the register rolled over
        ("999.99", "0.00", 3, "0.01"),
        ("0.00", "999.99", 3, "999.99"),
        ("9990.00", "5.00", 4, "15.00"),
        ("9.50", "0.25", 1, "0.75"),
    ],
)
def test_consumption(previous: str, current: str, digits: int, expected: str) -> None:
    used = consumption(Decimal(previous), Decimal(current), digits)
    assert str(used) == expected


def test_consumption_default_register() -> None:
    assert str(consumption(Decimal("991.75"), Decimal("3.60"))) == "11.85"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("123.45", "123.45"),
        ("123", "123.00"),
        ("123.4", "123.40"),
        ("0", "0.00"),
        ("0.1", "0.10"),
        ("1E+2", "100.00"),
        ("999.99", "999.99"),
    ],
)
def test_format_value(value: str, text: str) -> None:
    assert format_value(Decimal(value)) == text


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-01", True),
        ("2026-12", True),
        ("1999-10", True),
        ("2026-13", False),
        ("2026-00", False),
        ("2026-1", False),
        ("26-01", False),
        ("2026/01", False),
        ("2026-01-01", False),
        (" 2026-01", False),
        ("２０２６-01", False),
        ("", False),
    ],
)
def test_is_period(text: str, ok: bool) -> None:
    assert is_period(text) is ok


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("moment", "period"),
    [
        # Winter time (UTC+2): the last evening of October UTC is already November in Kyiv.
        (utc(2026, 10, 31, 21, 59), "2026-10"),
        (utc(2026, 10, 31, 22, 0), "2026-11"),
        (utc(2026, 10, 31, 22, 30), "2026-11"),
        # Summer time (UTC+3): 21:00 UTC on 30 June is midnight of 1 July in Kyiv.
        (utc(2026, 6, 30, 20, 59), "2026-06"),
        (utc(2026, 6, 30, 21, 0), "2026-07"),
        # New Year in Kyiv while UTC is still in December.
        (utc(2025, 12, 31, 22, 0), "2026-01"),
        (utc(2025, 12, 31, 21, 59, 59), "2025-12"),
        (utc(2026, 3, 15, 12, 0), "2026-03"),
        (dt.datetime(2026, 11, 1, 0, 30, tzinfo=KYIV), "2026-11"),
        (dt.datetime(2026, 10, 31, 23, 59, tzinfo=KYIV), "2026-10"),
    ],
)
def test_period_of(moment: dt.datetime, period: str) -> None:
    assert period_of(moment) == period


@pytest.mark.parametrize(
    ("period", "previous"),
    [
        ("2026-03", "2026-02"),
        ("2026-12", "2026-11"),
        ("2026-10", "2026-09"),
        ("2026-01", "2025-12"),
        ("2000-01", "1999-12"),
    ],
)
def test_previous_period(period: str, previous: str) -> None:
    assert previous_period(period) == previous


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("2024-02", dt.date(2024, 2, 25), dt.date(2024, 2, 29)),  # leap year
        ("2026-02", dt.date(2026, 2, 25), dt.date(2026, 2, 28)),
        ("2000-02", dt.date(2000, 2, 25), dt.date(2000, 2, 29)),
        ("1900-02", dt.date(1900, 2, 25), dt.date(1900, 2, 28)),
        ("2026-01", dt.date(2026, 1, 25), dt.date(2026, 1, 31)),
        ("2026-04", dt.date(2026, 4, 25), dt.date(2026, 4, 30)),
        ("2026-12", dt.date(2026, 12, 25), dt.date(2026, 12, 31)),
    ],
)
def test_reading_window(period: str, first: dt.date, last: dt.date) -> None:
    assert reading_window(period) == (first, last)


def kyiv(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=KYIV)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (kyiv(2026, 3, 24, 23, 59), False),
        (kyiv(2026, 3, 25, 0, 0), True),
        (kyiv(2026, 3, 31, 23, 59), True),
        (kyiv(2026, 4, 1, 0, 0), False),
        (kyiv(2026, 3, 1, 0, 0), False),
        (kyiv(2024, 2, 29, 23, 59), True),
        (kyiv(2026, 2, 28, 23, 59), True),
        (kyiv(2026, 11, 24, 23, 59), False),
        (kyiv(2026, 11, 25, 0, 0), True),
        (kyiv(2026, 11, 30, 23, 59), True),
        # The same instants given in UTC: the Kyiv calendar decides, not the UTC one.
        (utc(2026, 3, 24, 22, 0), True),  # 25 March 00:00 in Kyiv (UTC+2)
        (utc(2026, 3, 24, 21, 59), False),
        (utc(2026, 7, 24, 21, 0), True),  # 25 July 00:00 in Kyiv (UTC+3)
        (utc(2026, 7, 24, 20, 59), False),
        (utc(2026, 7, 31, 20, 59), True),  # 31 July 23:59 in Kyiv
        (utc(2026, 7, 31, 21, 0), False),  # 1 August 00:00 in Kyiv
    ],
)
def test_in_reading_window(moment: dt.datetime, inside: bool) -> None:
    assert in_reading_window(moment) is inside


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("показання 123,45", "123.45"),
        ("123.45 м³", "123.45"),
        ("123,45 куб.м", "123.45"),
        ("гаряча вода: 123.45", "123.45"),
        ("123.45.", "123.45"),
    ],
)
def test_a_reading_among_words(text: str, expected: str) -> None:
    assert str(parse_reading(text)) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ось 1 і 2", "not_a_number"),
        ("123.45.67", "not_a_number"),
        ("12з.45", "not_a_number"),
        ("показання за жовтень", "not_a_number"),
        ("-5 кубів", "negative"),
        ("показання 123.456", "too_many_decimals"),
    ],
)
def test_words_do_not_hide_a_bad_reading(text: str, reason: str) -> None:
    with pytest.raises(ReadingRefused) as refused:
        parse_reading(text)
    assert refused.value.reason == reason


def test_billing_files_get_no_leniency() -> None:
    with pytest.raises(ReadingRefused) as refused:
        parse_reading("123.45 м³", among_words=False)
    assert refused.value.reason == "not_a_number"
