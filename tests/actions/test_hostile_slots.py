"""Hostile slot values through the validation actions and the register: each one is refused with
the usual answer, and no reading or registration appears.

The policy (tests/unit/test_hostile_values.py has the parsers alone): NFKC folds full-width
digits into ASCII, so those are accepted; digits of other scripts, exponents, NaN and infinity,
hex, underscores, bidi overrides, SQL and template text are refused; "-0" is refused as negative.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.dialogue.readings import ActionStartReading, ActionSubmitReading, ValidateReadingForm
from actions.dialogue.registration import ValidateRegistrationForm
from actions.register import db
from actions.register.meter import find_meter
from actions.register.reading import ReadingRefused, submit_reading
from tests.support.dialogue import (
    READING_RESET,
    Register,
    domain_buttons,
    message,
    run,
    slot,
    template,
    tracker,
    uttered,
)
from tests.support.moments import PERIOD

LONG = "1" * 10_000
INJECTIONS = [
    "'; DROP TABLE readings;--",
    "1 OR 1=1",
    "{account_number}",
    "{{7*7}}",
    "${7*7}",
    "%s%s%n",
    "{0.__class__}",
]


def filled(response: str, **values: Any) -> dict[str, Any]:
    """A domain text filled as say() fills it (the values may themselves hold braces)."""
    return message(template(response).format(**values), domain_buttons(response))


@pytest.fixture
def own(demo: dict[str, str], register: Register) -> dict[str, str]:
    """The tester registered 777777 (hot water, 100.00 last month) and the demo's 222222."""
    register.add_meter("54321", "777777", "hot_water", "100.00")
    register.subscribe("777777", "222222")
    return register.ids


# --- readings --------------------------------------------------------------------------------------


def value_turn(typed: str, meter_id: str) -> Tracker:
    return tracker(
        text=typed,
        intent="inform_number",
        typed={"reading_value": typed},
        slots={"meter_id": meter_id, "shown_meter_id": meter_id},
        form="reading_form",
        requested="reading_value",
    )


HOSTILE_READINGS = [
    ("1e3", "utter_reading_not_a_number"),
    ("NaN", "utter_reading_not_a_number"),
    ("nan", "utter_reading_not_a_number"),
    ("∞", "utter_reading_not_a_number"),
    ("inf", "utter_reading_not_a_number"),
    ("Infinity", "utter_reading_not_a_number"),
    ("-0", "utter_reading_negative"),
    ("0x1F", "utter_reading_not_a_number"),
    ("١٢٣٫٤٥", "utter_reading_not_a_number"),
    ("١٢٣.٤٥", "utter_reading_not_a_number"),
    ("123١", "utter_reading_not_a_number"),
    ("12٣.45", "utter_reading_not_a_number"),
    ("123.456", "utter_reading_too_many_decimals"),
    ("１２３.４５６", "utter_reading_too_many_decimals"),
    ("123,4,5", "utter_reading_not_a_number"),
    ("  ", "utter_reading_empty"),
    (LONG, "utter_reading_too_many_digits"),
    ("я" * 10_000, "utter_reading_not_a_number"),
    ("12 345,67", "utter_reading_too_many_digits"),
    ("1_000", "utter_reading_not_a_number"),
    ("\u202e54.321\u202c", "utter_reading_not_a_number"),
    *((injection, "utter_reading_not_a_number") for injection in INJECTIONS),
]


@pytest.mark.parametrize(("typed", "response"), HOSTILE_READINGS)
async def test_hostile_reading_is_refused_and_nothing_saved(
    own: dict[str, str], register: Register, typed: str, response: str
) -> None:
    meter = own["777777"]
    before = register.readings("777777")

    result = await run(ValidateReadingForm(), value_turn(typed, meter))

    assert result.events == [slot("reading_value", None), slot("requested_slot", "reading_value")]
    assert result.messages == [filled(response, text=typed.strip()[:40], limit="999.99")]
    # Whatever the form leaves behind, the submit action saves nothing from it.
    submitted = await run(
        ActionSubmitReading(),
        tracker(slots={"meter_id": meter, "reading_value": None, "shown_meter_id": meter}),
    )
    assert submitted.messages == [uttered("utter_menu")]
    assert register.readings("777777") == before


@pytest.mark.parametrize("injection", INJECTIONS)
async def test_an_injection_is_quoted_literally(own: dict[str, str], injection: str) -> None:
    result = await run(ValidateReadingForm(), value_turn(injection, own["777777"]))

    assert result.messages[0]["text"] == (
        f"«{injection}» не схоже на показання. Введіть число в форматі ХХХ.ХХ, наприклад 123.45."
    )


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("１２３.４５", "123.45"),
        ("１２３，４５", "123.45"),
        ("\u200f123.45\u200e", "123.45"),
        ("+105", "105.00"),
    ],
)
async def test_folded_reading_is_accepted_and_saved_as_ascii(
    own: dict[str, str], register: Register, typed: str, value: str
) -> None:
    meter = own["777777"]

    result = await run(ValidateReadingForm(), value_turn(typed, meter))

    assert result.events[0] == slot("reading_value", value)
    submitted = await run(
        ActionSubmitReading(),
        tracker(text=typed, slots={"meter_id": meter, "reading_value": value, "shown_meter_id": meter}),
    )
    assert submitted.messages[0] == filled("utter_reading_accepted", value=value)
    assert [(row.period, row.value) for row in register.readings("777777")][-1] == (PERIOD, Decimal(value))


@pytest.mark.parametrize(
    "typed",
    ["передати показання 123,45١", "передати показання 12٣.45", "передати {0.__class__}", "передати ${7}"],
)
async def test_no_reading_is_taken_from_a_hostile_request(
    demo: dict[str, str], register: Register, typed: str
) -> None:
    """Before: "123,45١" gave the reading 123,45 and "12٣.45" gave 12, straight into the form."""
    register.subscribe("222222")

    result = await run(ActionStartReading(), tracker(text=typed, intent="submit_reading"))

    assert result.events == [*READING_RESET, slot("meter_id", demo["222222"]), slot("reading_start", "ask")]


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", "-0.01", "1.005"])
def test_the_register_refuses_a_value_that_is_no_reading(
    register: Register, demo: dict[str, str], value: str
) -> None:
    """Whatever reached it unvalidated: PostgreSQL's NUMERIC would store 'NaN', and NaN >= 0 there."""
    before = register.readings("222222")
    with db.transaction() as session:
        meter = find_meter(session, "12345", "222222")
        assert meter is not None
        with pytest.raises(ReadingRefused):
            submit_reading(session, meter.id, Decimal(value), channel="rest")
    assert register.readings("222222") == before


# --- choosing a meter ----------------------------------------------------------------------------


def choice_turn(typed: str) -> Tracker:
    return tracker(
        text=typed,
        intent="inform_number",
        typed={"meter_id": typed},
        form="reading_form",
        requested="meter_id",
    )


@pytest.mark.parametrize("typed", ["²", "١", "٢", "9" * 5_000, LONG, *INJECTIONS])
async def test_a_hostile_choice_of_meter_is_unknown(
    own: dict[str, str], register: Register, typed: str
) -> None:
    """Before: "²" and 5,000 digits crashed the action (int()), "١" chose the first meter."""
    result = await run(ValidateReadingForm(), choice_turn(typed))

    assert result.events == [slot("meter_id", None), slot("requested_slot", "meter_id")]
    assert result.messages == [filled("utter_meter_choice_unknown")]


@pytest.mark.parametrize(
    ("typed", "number"), [("１", "777777"), ("２", "222222"), ("７７７７７７", "777777")]
)
async def test_a_full_width_choice_chooses(own: dict[str, str], typed: str, number: str) -> None:
    result = await run(ValidateReadingForm(), choice_turn(typed))

    assert result.events[0] == slot("meter_id", own[number])


# --- registration ----------------------------------------------------------------------------------


def account_turn(typed: str) -> Tracker:
    return tracker(
        text=typed,
        intent="inform_number",
        typed={"account_number": typed},
        slots={"registration_failures": 0.0, "registration_blocked": False},
        form="registration_form",
        requested="account_number",
    )


def meter_turn(typed: str, account: str = "12345") -> Tracker:
    return tracker(
        text=typed,
        intent="inform_number",
        typed={"meter_number": typed},
        slots={"account_number": account, "registration_failures": 0.0, "registration_blocked": False},
        form="registration_form",
        requested="meter_number",
    )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12a45", filled("utter_account_not_digits")),
        ("1234", filled("utter_account_wrong_length", digits=4)),
        ("123456", filled("utter_account_wrong_length", digits=6)),
        ("١٢٣٤٥", filled("utter_account_not_digits")),
        ("١12345", filled("utter_account_not_digits")),
        ("12345١", filled("utter_account_not_digits")),
        ("\u202e54321\u202c", filled("utter_account_not_digits")),
        (LONG, filled("utter_account_wrong_length", digits=10_000)),
        *((injection, filled("utter_account_not_digits")) for injection in INJECTIONS),
    ],
)
async def test_hostile_account_number_is_refused(
    demo: dict[str, str], register: Register, typed: str, expected: dict[str, Any]
) -> None:
    result = await run(ValidateRegistrationForm(), account_turn(typed))

    assert result.events == [slot("account_number", None)]
    assert result.messages == [expected]
    assert register.failures() == 0  # a typo, not a guess at someone's account


@pytest.mark.parametrize("typed", ["１２３４５", "12345 ", " 12345", "№ １２３４５", "12\u200b345"])
async def test_folded_account_number_is_accepted(demo: dict[str, str], typed: str) -> None:
    result = await run(ValidateRegistrationForm(), account_turn(typed))

    assert result.events == [slot("account_number", "12345")]
    assert result.messages == []


@pytest.mark.parametrize(
    "typed", ["٢٢٢٢٢٢", "٢22222", "222222١", "\u202e222222\u202c", "2_22222", "x" * 33, *INJECTIONS]
)
async def test_hostile_meter_number_is_refused_and_nothing_registered(
    demo: dict[str, str], register: Register, typed: str
) -> None:
    result = await run(ValidateRegistrationForm(), meter_turn(typed))

    assert result.events == [slot("meter_number", None)]
    assert result.messages == [filled("utter_meter_number_invalid")]
    assert register.failures() == 0
    assert register.enrolled("222222") == []


@pytest.mark.parametrize("typed", ["２２２２２２", "222222 ", "№ ２２２ ２２２"])
async def test_folded_meter_number_matches(demo: dict[str, str], register: Register, typed: str) -> None:
    result = await run(ValidateRegistrationForm(), meter_turn(typed))

    assert result.events == [slot("meter_number", "222222"), slot("registered_meter_id", demo["222222"])]
    assert register.enrolled("222222") == []  # only action_register_meter registers
