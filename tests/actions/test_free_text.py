"""What a free-text request carries: the entities the NLU pipeline found (a meter kind, a reading
value, an account or meter number) start the flow with them, or save readings at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.dialogue.readings import ActionStartReading, ActionSubmitReading, ValidateReadingForm
from actions.dialogue.registration import (
    ActionRegisterMeter,
    ActionStartRegistration,
    ValidateRegistrationForm,
)
from tests.support.dialogue import (
    READING_END,
    READING_RESET,
    REGISTRATION_RESET,
    Register,
    message,
    run,
    said,
    slot,
    tracker,
    uttered,
)
from tests.support.moments import IN_WINDOW, PERIOD

Found = tuple[str, str, str]  # entity, value, the words of the text it was found in


def spans(text: str, found: tuple[Found, ...]) -> list[tuple[str, str, int, int]]:
    """The entities with their offsets in ``text``, as the NLU pipeline reports them, in order."""
    located, start = [], 0
    for entity, value, words in found:
        start = text.index(words, start)
        located.append((entity, value, start, start + len(words)))
        start += len(words)
    return located


def request(text: str, *found: Found, intent: str = "submit_reading", **kwargs: Any) -> Tracker:
    return tracker(text=text, intent=intent, entity_list=spans(text, found), **kwargs)


def hot(words: str) -> Found:
    return ("meter_kind", "hot_water", words)


def heat(words: str) -> Found:
    return ("meter_kind", "heat", words)


def value(words: str) -> Found:
    return ("reading_value", words, words)


ACCEPTED_128_30 = [
    slot("reading_value", "128.30"),
    slot("reading_check", None),
    slot("reading_confirmed", None),
]


def accepted(number: str) -> dict[str, Any]:
    return message(f"Прийнято {number} до обробки. Дякуємо")


@pytest.fixture
def mine(demo: dict[str, str], register: Register) -> dict[str, str]:
    """The tester registered 111111 (heat, 475.10 last month) and 222222 (hot water, 127.15)."""
    register.subscribe("111111", "222222")
    return demo


@pytest.fixture
def two_hot(demo: dict[str, str], register: Register) -> dict[str, str]:
    """Besides 111111 (heat), two hot-water meters: 222222 (127.15 last month) and 333333 (41.00)."""
    register.subscribe("111111", "222222", "333333")
    return demo


# --- one reading ----------------------------------------------------------------------------------


async def test_a_kind_and_a_value_fill_the_form_for_the_one_meter_of_the_kind(
    mine: dict[str, str], register: Register
) -> None:
    before = register.readings("222222")
    meter = mine["222222"]

    started = await run(ActionStartReading(), request("ГВП 128,30", hot("ГВП"), value("128,30")))
    # the form's activation validates what was prefilled
    activated = await run(
        ValidateReadingForm(),
        request(
            "ГВП 128,30",
            hot("ГВП"),
            value("128,30"),
            typed={"meter_id": meter, "reading_value": "128,30"},
            form="reading_form",
        ),
    )

    assert started.events == [
        *READING_RESET,
        slot("meter_id", meter),
        slot("reading_value", "128,30"),
        slot("reading_start", "ask"),
    ]
    assert started.messages == []
    assert activated.events == [slot("meter_id", meter), *ACCEPTED_128_30, slot("requested_slot", None)]
    assert activated.messages == []
    assert register.readings("222222") == before  # action_submit_reading saves it


async def test_a_kind_without_a_meter_of_it_saves_nothing(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")
    hot_before, heat_before = register.readings("222222"), register.readings("111111")

    result = await run(ActionStartReading(), request("опалення 480,00", heat("опалення"), value("480,00")))

    assert result.events == [*READING_RESET, slot("reading_start", "done")]
    assert result.messages == [said("utter_no_meter_of_kind", kind="тепла")]
    assert register.readings("222222") == hot_before
    assert register.readings("111111") == heat_before


async def test_a_number_with_no_reading_in_it_is_not_a_number(mine: dict[str, str]) -> None:
    result = await run(ActionStartReading(), request("12", intent="inform_number"))

    assert result.events == [*READING_RESET, slot("reading_start", "not_a_number")]
    assert result.messages == []


async def test_a_bare_reading_fills_the_form_for_the_only_meter(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("222222")

    result = await run(ActionStartReading(), request("130,45", value("130,45"), intent="inform_number"))

    assert result.events == [
        *READING_RESET,
        slot("meter_id", demo["222222"]),
        slot("reading_value", "130,45"),
        slot("reading_start", "ask"),
    ]


# --- two meters of the kind: the value waits for the meter -----------------------------------------


def kept_value_turn(meter_id: str, kept: str) -> Tracker:
    """The subscriber presses a meter's button; the value came with the request."""
    return tracker(
        text=f'/submit_reading{{"meter_id":"{meter_id}"}}',
        intent="submit_reading",
        entities={"meter_id": meter_id},
        typed={"meter_id": meter_id},
        slots={"reading_value": kept},
        form="reading_form",
        requested="meter_id",
    )


async def test_two_meters_of_the_kind_keep_the_value_until_one_is_chosen(two_hot: dict[str, str]) -> None:
    said_text = "гаряча 128,30"
    started = await run(ActionStartReading(), request(said_text, hot("гаряча"), value("128,30")))
    # the form's activation validates the prefilled value, with no meter yet
    activated = await run(
        ValidateReadingForm(),
        request(
            said_text, hot("гаряча"), value("128,30"), typed={"reading_value": "128,30"}, form="reading_form"
        ),
    )
    chosen = await run(ValidateReadingForm(), kept_value_turn(two_hot["222222"], "128,30"))

    assert started.events == [*READING_RESET, slot("reading_value", "128,30"), slot("reading_start", "ask")]
    assert started.messages == []
    assert activated.events == [slot("reading_value", "128,30"), slot("requested_slot", "meter_id")]
    assert activated.messages == []
    assert chosen.events == [
        slot("meter_id", two_hot["222222"]),
        *ACCEPTED_128_30,
        slot("requested_slot", None),
    ]
    assert chosen.messages == []


@pytest.mark.parametrize(
    ("kept", "refusal"),
    [
        ("120,00", said("utter_reading_below_previous", value="120.00", previous="127.15")),
        ("1000", said("utter_reading_too_many_digits", limit="999.99")),
        ("12٣.45", said("utter_reading_not_a_number", text="12٣.45")),
        (
            "{0.__class__}",
            message(  # not said(): it refuses braces in the text it fills
                "«{0.__class__}» не схоже на показання. Введіть число в форматі ХХХ.ХХ, наприклад 123.45."
            ),
        ),
    ],
)
async def test_a_kept_value_is_checked_against_the_chosen_meter(
    two_hot: dict[str, str], register: Register, kept: str, refusal: dict[str, Any]
) -> None:
    before = register.readings("222222")

    result = await run(ValidateReadingForm(), kept_value_turn(two_hot["222222"], kept))

    assert result.events == [
        slot("meter_id", two_hot["222222"]),
        slot("reading_value", None),
        slot("requested_slot", "reading_value"),
    ]
    assert result.messages == [refusal]
    assert register.readings("222222") == before


# --- a minus before the value ---------------------------------------------------------------------


async def test_a_minus_before_the_value_makes_it_negative_and_refused(mine: dict[str, str]) -> None:
    said_text = "ГВП -5,00"
    meter = mine["222222"]
    started = await run(ActionStartReading(), request(said_text, hot("ГВП"), value("5,00")))
    activated = await run(
        ValidateReadingForm(),
        request(
            said_text,
            hot("ГВП"),
            value("5,00"),
            typed={"meter_id": meter, "reading_value": "-5,00"},
            form="reading_form",
        ),
    )

    assert started.events == [
        *READING_RESET,
        slot("meter_id", meter),
        slot("reading_value", "-5,00"),
        slot("reading_start", "ask"),
    ]
    assert activated.events == [
        slot("meter_id", meter),
        slot("reading_value", None),
        slot("requested_slot", "reading_value"),
    ]
    assert activated.messages == [said("utter_reading_negative")]


async def test_a_minus_typed_before_the_value_the_form_asked_for_is_refused(mine: dict[str, str]) -> None:
    # The slot mapping takes the entity's "5,00"; the text shows the minus before it.
    meter = mine["222222"]
    state = request(
        "-5,00",
        value("5,00"),
        intent="inform_number",
        slots={"meter_id": meter, "shown_meter_id": meter},
        typed={"reading_value": "5,00"},
        form="reading_form",
        requested="reading_value",
    )

    result = await run(ValidateReadingForm(), state)

    assert result.events == [slot("reading_value", None), slot("requested_slot", "reading_value")]
    assert result.messages == [said("utter_reading_negative")]


# --- several readings in one message ---------------------------------------------------------------

KINDS = {"гаряча": "hot_water", "тепло": "heat"}


def two_readings(text: str = "гаряча 128,00 тепло 477,00", message_id: str = "m-5") -> Tracker:
    """Each word is an entity: a kind, or the value of the kind named before it."""
    found = [("meter_kind", KINDS[word], word) if word in KINDS else value(word) for word in text.split()]
    return request(text, *found, message_id=message_id)


async def test_two_readings_are_both_saved_and_acknowledged(mine: dict[str, str], register: Register) -> None:
    first = await run(ActionStartReading(), two_readings())
    again = await run(ActionStartReading(), two_readings())

    me = register.subscriber_id()
    assert first.events == again.events == [*READING_RESET, slot("reading_start", "done")]
    assert first.messages == again.messages == [accepted("128.00"), accepted("477.00")]
    hot_rows = [r for r in register.readings("222222") if r.period == PERIOD]
    heat_rows = [r for r in register.readings("111111") if r.period == PERIOD]
    assert [(r.value, r.status, r.channel, r.subscriber_id, r.message_id) for r in hot_rows] == [
        (Decimal("128.00"), "accepted", "rest", me, f"m-5/{mine['222222']}")
    ]
    assert [(r.value, r.status, r.channel, r.subscriber_id, r.message_id) for r in heat_rows] == [
        (Decimal("477.00"), "accepted", "rest", me, f"m-5/{mine['111111']}")
    ]


async def test_a_reading_of_a_kind_not_registered_is_not_saved_the_other_is(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("222222")
    heat_before = register.readings("111111")

    result = await run(ActionStartReading(), two_readings())

    assert result.events == [*READING_RESET, slot("reading_start", "done")]
    assert result.messages == [accepted("128.00"), said("utter_no_meter_of_kind", kind="тепла")]
    assert register.readings("222222")[-1].value == Decimal("128.00")
    assert register.readings("111111") == heat_before


async def test_of_two_readings_the_one_to_confirm_goes_on_in_the_form(
    mine: dict[str, str], register: Register
) -> None:
    heat_before = register.readings("111111")

    # 499.00 after 475.10 is 23.90 of heat: more than usual, to be confirmed
    result = await run(ActionStartReading(), two_readings("гаряча 128,00 тепло 499,00"))

    assert result.events == [
        *READING_RESET,
        slot("meter_id", mine["111111"]),
        slot("reading_value", "499,00"),
        slot("reading_start", "ask"),
    ]
    assert result.messages == [accepted("128.00")]
    assert register.readings("222222")[-1].value == Decimal("128.00")
    assert register.readings("111111") == heat_before


async def test_after_the_one_that_goes_on_in_the_form_the_rest_are_sent_separately(
    mine: dict[str, str], register: Register
) -> None:
    hot_before = register.readings("222222")

    result = await run(ActionStartReading(), two_readings("тепло 499,00 гаряча 128,00"))

    assert result.events == [
        *READING_RESET,
        slot("meter_id", mine["111111"]),
        slot("reading_value", "499,00"),
        slot("reading_start", "ask"),
    ]
    assert result.messages == [said("utter_reading_send_separately", value="128,00")]
    assert register.readings("222222") == hot_before


async def test_a_negative_one_of_two_readings_is_not_saved(mine: dict[str, str], register: Register) -> None:
    hot_before = register.readings("222222")

    result = await run(ActionStartReading(), two_readings("гаряча -5,00 тепло 477,00"))

    # The form refuses it at its start, saying why; the other waits for a message of its own.
    assert result.events == [
        *READING_RESET,
        slot("meter_id", mine["222222"]),
        slot("reading_value", "-5,00"),
        slot("reading_start", "ask"),
    ]
    assert result.messages == [said("utter_reading_send_separately", value="477,00")]
    assert register.readings("222222") == hot_before


# --- registration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found", "prefilled"),
    [
        (
            "зареєструйте лічильник, о/р 12345",
            [("account_number", "12345", "12345")],
            [slot("account_number", "12345")],
        ),
        (
            "додати лічильник 222222 о/р 12345",
            [("meter_number", "222222", "222222"), ("account_number", "12345", "12345")],
            [slot("account_number", "12345"), slot("meter_number", "222222")],
        ),
    ],
)
async def test_registration_starts_with_what_the_request_names(
    demo: dict[str, str], text: str, found: list[Found], prefilled: list[dict[str, Any]]
) -> None:
    result = await run(ActionStartRegistration(), request(text, *found, intent="register_meter"))

    assert result.events == [*REGISTRATION_RESET, *prefilled, slot("registration_blocked", False)]
    assert result.messages == []


async def test_a_blocked_registration_takes_nothing_from_the_request(
    demo: dict[str, str], register: Register
) -> None:
    register.fail(*[IN_WINDOW - dt.timedelta(minutes=1)] * 10)
    text = "зареєструйте лічильник, о/р 12345"

    result = await run(
        ActionStartRegistration(),
        request(text, ("account_number", "12345", "12345"), intent="register_meter"),
    )

    assert result.events == [
        *REGISTRATION_RESET,
        slot("registration_retry_minutes", "59"),
        slot("registration_blocked", True),
    ]


async def test_a_meter_number_without_an_account_waits_silently(
    demo: dict[str, str], register: Register
) -> None:
    state = tracker(
        text="222222",
        intent="inform_number",
        typed={"meter_number": "222222"},
        slots={"registration_failures": 0.0, "registration_blocked": False},
        form="registration_form",
        requested="account_number",
    )

    result = await run(ValidateRegistrationForm(), state)

    assert result.events == [slot("meter_number", None)]
    assert result.messages == []
    assert register.failures() == 0


async def test_the_meter_number_of_a_refused_account_is_one_failure_not_two(
    demo: dict[str, str], register: Register
) -> None:
    text = "о/р 99999, лічильник 333333"
    state = request(
        text,
        ("account_number", "99999", "99999"),
        ("meter_number", "333333", "333333"),
        intent="inform_number",
        typed={"account_number": "99999", "meter_number": "333333"},
        slots={"registration_failures": 0.0, "registration_blocked": False},
        form="registration_form",
        requested="account_number",
    )

    result = await run(ValidateRegistrationForm(), state)

    assert result.events == [
        slot("account_number", None),
        slot("meter_number", None),
        slot("registration_failures", 1.0),
    ]
    assert result.messages == [said("utter_account_unknown", account_number="99999")]
    assert register.failures() == 1


# --- a finished flow leaves nothing behind for the policies ----------------------------------------


async def test_registering_resets_registration_blocked(demo: dict[str, str]) -> None:
    state = tracker(
        slots={"registered_meter_id": demo["222222"], "registration_blocked": False},
        latest_action="registration_form",
    )

    result = await run(ActionRegisterMeter(), state)

    assert slot("registration_blocked", None) in result.events
    assert result.messages[-2:] == [uttered("utter_registered"), uttered("utter_add_another_meter")]


async def test_submitting_resets_reading_start(mine: dict[str, str]) -> None:
    meter = mine["222222"]
    state = tracker(
        slots={"meter_id": meter, "reading_value": "128.00", "shown_meter_id": meter, "reading_start": "ask"},
        latest_action="reading_form",
    )

    result = await run(ActionSubmitReading(), state)

    assert result.events == READING_END
    assert result.messages == [accepted("128.00"), uttered("utter_menu")]


async def test_two_readings_of_the_one_meter_drop_neither_silently(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("222222")
    result = await run(ActionStartReading(), request("128,00 130,00", value("128,00"), value("130,00")))
    assert result.messages == [accepted("128.00"), said("utter_reading_send_separately", value="130,00")]
    assert [r.value for r in register.readings("222222") if r.period == PERIOD] == [Decimal("128.00")]


async def test_asked_which_meter_a_typed_value_is_kept_until_one_is_chosen(two_hot: dict[str, str]) -> None:
    turn = tracker(
        text="128,30",
        intent="inform_number",
        entity_list=spans("128,30", (value("128,30"),)),
        typed={"meter_id": "128,30"},
        form="reading_form",
        requested="meter_id",
    )

    result = await run(ValidateReadingForm(), turn)

    assert result.events == [
        slot("meter_id", None),
        slot("reading_value", "128,30"),
        slot("requested_slot", "meter_id"),
    ]
    assert result.messages == [said("utter_reading_kept_choose_meter", value="128,30")]


async def test_asked_which_meter_a_kind_with_a_value_names_it(mine: dict[str, str]) -> None:
    text = "тепло 480,00"
    turn = tracker(
        text=text,
        intent="submit_reading",
        entity_list=spans(text, (heat("тепло"), value("480,00"))),
        typed={"meter_id": text},
        form="reading_form",
        requested="meter_id",
    )

    result = await run(ValidateReadingForm(), turn)

    assert result.events == [
        slot("meter_id", mine["111111"]),
        slot("reading_value", "480.00"),
        slot("reading_check", None),
        slot("reading_confirmed", None),
        slot("requested_slot", None),
    ]
    assert result.messages == []


async def test_entities_written_into_a_payload_fill_nothing(demo: dict[str, str]) -> None:
    """'/register_meter{"account_number": …, "meter_number": …}' is no typed answer."""
    payload = '/register_meter{"account_number": "12345", "meter_number": "222222"}'
    turn = tracker(text=payload, intent="register_meter")
    turn.latest_message["entities"] = [
        {"entity": "account_number", "value": "12345"},
        {"entity": "meter_number", "value": "222222"},
    ]

    result = await run(ActionStartRegistration(), turn)

    assert result.events == [
        *REGISTRATION_RESET,
        slot("registration_blocked", False),
    ]
