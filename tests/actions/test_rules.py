"""The pure helpers the actions decide with: no database, no Rasa."""

from __future__ import annotations

import datetime as dt

import pytest

from actions.dialogue.conversation import MeterCard
from actions.dialogue.meter_choice import choose_meter
from actions.dialogue.registration import retry_minutes
from actions.register.account import AccountRefused, mask_address, parse_account_number
from actions.register.meter import meter_number_candidates, meter_title, normalise_meter_number
from actions.register.models import Account, Meter, MeterKind
from actions.register.period import in_reading_window, period_title

# --- account numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        "  12345\n",
        "12 345",
        "1 2 3 4 5",
        "12\u00a0345",
        "12-345",
        "12–345",
        "№ 12345",
        "№12345",
        "N 12345",
        "no. 12345",
        "No 12345",
        "NO.12345",
        "#12345",
        "о/р 12345",
        "О/Р 12345",
        "о / р: 12345",
        "о.р. 12345",
        "ос. рах. 12345",
        "особовий рахунок 12345",
        "Особовий рахунок № 12345",
        "рахунок: 12345",
        "o/r 12345",
        "１２３４５",  # full-width digits are folded (NFKC)
    ],
)
def test_parse_account_number(typed: str) -> None:
    assert parse_account_number(typed) == "12345"


@pytest.mark.parametrize(
    ("typed", "reason", "digits"),
    [
        ("", "not_digits", 0),
        ("abcde", "not_digits", 0),
        ("12a45", "not_digits", 0),
        ("١٢٣٤٥", "not_digits", 0),  # Arabic-Indic
        ("12.345", "not_digits", 0),
        ("1234", "length", 4),
        ("123456", "length", 6),
        ("№ 1234", "length", 4),
        ("0000000000", "length", 10),
    ],
)
def test_parse_account_number_refuses(typed: str, reason: str, digits: int) -> None:
    with pytest.raises(AccountRefused) as refused:
        parse_account_number(typed)
    assert (refused.value.reason, refused.value.digits) == (reason, digits)


# --- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("вул. Шевченка, 12, кв. 3", "вул. Ш*******, 1*, кв. *"),
        ("м. Чернігів, вул. Шевченка, 12, кв. 3", "м. Чернігів, вул. Ш*******, 1*, кв. *"),
        ("м. Чернігів, просп. Перемоги, 45, кв. 17", "м. Чернігів, просп. П*******, 4*, кв. 1*"),
        ("Чернігів, пров. Тихий, буд. 5-а", "Чернігів, пров. Т****, буд. 5**"),
        ("б-р Героїв, 1", "б-р Г*****, *"),
        ("", ""),
    ],
)
def test_mask_address(address: str, masked: str) -> None:
    assert mask_address(address) == masked


# --- meter numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("222222", "222222"),
        ("  222 222 ", "222222"),
        ("№ 222222", "222222"),
        ("№222222", "222222"),
        ("#222222", "222222"),
        ("No. 222222", "222222"),
        ("no 222 222", "222222"),
        ("лічильник 222222", "222222"),
        ("Лічильника № 222222", "222222"),
        ("прилад обліку № 12-34/5", "12-34/5"),
        ("номер АБ123", "АБ123"),
        ("ab.12", "ab.12"),
    ],
)
def test_normalise_meter_number(typed: str, number: str) -> None:
    assert normalise_meter_number(typed) == number


def test_meter_title() -> None:
    meter = Meter(number="222222", kind=MeterKind.HOT_WATER, account=Account(number="12345", address="x"))
    assert meter_title(meter) == "Гаряча вода · №222222 · о/р 12345"
    meter.kind = MeterKind.HEAT
    assert meter_title(meter) == "Тепло · №222222 · о/р 12345"


# --- choosing a meter ----------------------------------------------------------------------------


def card(meter_id: int, number: str, kind: MeterKind) -> MeterCard:
    titles = {MeterKind.HOT_WATER: "Гаряча вода", MeterKind.HEAT: "Тепло"}
    return MeterCard(
        meter_id, number, kind, "12345", "вул. Миру, 1", 3, f"{titles[kind]} · №{number} · о/р 12345"
    )


HEAT = card(7, "111111", MeterKind.HEAT)
HOT = card(9, "AB-22", MeterKind.HOT_WATER)


@pytest.mark.parametrize(
    ("typed", "button", "expected"),
    [
        ("anything", "9", HOT),  # a button names the meter by id
        ("111111", "8", None),  # a button with a foreign id wins over what was typed
        ("111111", None, HEAT),
        ("ab-22", None, HOT),  # numbers with letters, in any case
        ("№ AB-22", None, HOT),
        ("1", None, HEAT),
        ("2", None, HOT),
        ("3", None, None),
        ("0", None, None),
        ("гаряча вода", None, HOT),
        ("ГВП", None, HOT),
        ("тепло", None, HEAT),
        ("опалення", None, HEAT),
        ("heat", None, HEAT),
        ("тепло і гаряча вода", None, None),
        ("газ", None, None),
        ("", None, None),
    ],
)
def test_choose_meter(typed: str, button: str | None, expected: MeterCard | None) -> None:
    assert choose_meter([HEAT, HOT], typed, button) == expected


def test_choose_meter_a_number_beats_a_position() -> None:
    first, second = card(1, "2", MeterKind.HEAT), card(2, "555", MeterKind.HOT_WATER)
    assert choose_meter([first, second], "2", None) == first


def test_choose_meter_kind_must_be_unique() -> None:
    cards = [HOT, card(10, "333333", MeterKind.HOT_WATER)]
    assert choose_meter(cards, "гаряча вода", None) is None
    assert choose_meter(cards, "333333", None) == cards[1]


def test_choose_meter_by_position_only_up_to_nine() -> None:
    cards = [card(i, f"9{i:05d}", MeterKind.HEAT) for i in range(1, 11)]
    assert choose_meter(cards[:9], "9", None) == cards[8]
    assert choose_meter(cards, "9", None) is None
    assert choose_meter([], "1", None) is None


# --- texts and time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "title"),
    [
        ("2026-01", "січень 2026"),
        ("2026-02", "лютий 2026"),
        ("2026-03", "березень 2026"),
        ("2026-04", "квітень 2026"),
        ("2026-05", "травень 2026"),
        ("2026-06", "червень 2026"),
        ("2026-07", "липень 2026"),
        ("2026-08", "серпень 2026"),
        ("2026-09", "вересень 2026"),
        ("2026-10", "жовтень 2026"),
        ("2026-11", "листопад 2026"),
        ("2027-12", "грудень 2027"),
    ],
)
def test_period_title(period: str, title: str) -> None:
    assert period_title(period) == title


T = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("until", "minutes"),
    [
        (T + dt.timedelta(minutes=10), "10"),
        (T + dt.timedelta(minutes=10, seconds=1), "11"),
        (T + dt.timedelta(minutes=59, seconds=59), "60"),
        (T + dt.timedelta(seconds=1), "1"),
        (T, "1"),
        (T - dt.timedelta(minutes=5), "1"),
    ],
)
def test_retry_minutes(until: dt.datetime, minutes: str) -> None:
    assert retry_minutes(until, T) == minutes


def test_the_test_clock_moments() -> None:
    from tests.support.moments import IN_WINDOW, OUT_OF_WINDOW

    assert in_reading_window(IN_WINDOW)
    assert not in_reading_window(OUT_OF_WINDOW)


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("+12345", "12345"),
        ("мій рахунок 12345", "12345"),
        ("12345 (Шевченка, 12)", "12345"),
        ("особовий рахунок: 12 345, лічильник 222222", "12345"),
    ],
)
def test_an_account_number_among_words(typed: str, number: str) -> None:
    assert parse_account_number(typed) == number


@pytest.mark.parametrize(
    ("typed", "candidates"),
    [
        ("номер лічильника 222222", ["лічильника222222", "222222"]),
        ("222222 гаряча вода", ["222222гарячавода", "222222"]),
        ("№ 222 222", ["222222"]),
        ("N5001", ["N5001"]),
        ("12#34", []),
    ],
)
def test_meter_number_candidates(typed: str, candidates: list[str]) -> None:
    assert meter_number_candidates(typed) == candidates
