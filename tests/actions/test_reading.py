"""Sending a reading: action_start_reading, the reading form (asks and validation), action_submit_reading."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.dialogue.readings import (
    ActionAskMeterId,
    ActionAskReadingConfirmed,
    ActionAskReadingValue,
    ActionStartReading,
    ActionSubmitReading,
    ValidateReadingForm,
)
from actions.register.period import period_title
from actions.register.subscriber import Identity
from tests.support.dialogue import (
    READING_END,
    READING_RESET,
    YES_NO,
    Clock,
    Configure,
    ReadingRow,
    Register,
    message,
    run,
    said,
    slot,
    tracker,
    uttered,
)
from tests.support.moments import IN_WINDOW, LAST, MIDDLE, OLDEST, OUT_OF_WINDOW, PERIOD

VIBER = Identity("viber", "abc")
RESETS = [slot("reading_value", None), slot("reading_check", None), slot("reading_confirmed", None)]


@pytest.fixture
def mine(demo: dict[str, str], register: Register) -> dict[str, str]:
    """The tester registered both meters of account 12345: 111111 (heat), then 222222 (hot water)."""
    register.subscribe("111111", "222222")
    return demo


@pytest.fixture
def own(register: Register) -> dict[str, str]:
    """Meters of account 54321 registered by the tester, away from the demo's numbers:
    777777 hot water at 100.00, 888888 hot water at 991.75, 999999 heat at 995.00, 666666 new."""
    register.add_meter("54321", "777777", "hot_water", "100.00")
    register.add_meter("54321", "888888", "hot_water", "991.75")
    register.add_meter("54321", "999999", "heat", "995.00")
    register.add_meter("54321", "666666", "heat")
    register.subscribe("777777", "888888", "999999", "666666")
    return register.ids


def choice_turn(
    typed: str, *, text: str | None = None, intent: str = "inform_number", **kwargs: Any
) -> Tracker:
    """The subscriber answers "which meter?" (from_text, or from_entity for a button)."""
    return tracker(
        text=typed if text is None else text,
        intent=intent,
        typed={"meter_id": typed},
        form="reading_form",
        requested="meter_id",
        **kwargs,
    )


def button_turn(meter_id: str, **kwargs: Any) -> Tracker:
    return choice_turn(
        meter_id,
        text=f'/submit_reading{{"meter_id":"{meter_id}"}}',
        intent="submit_reading",
        entities={"meter_id": meter_id},
        **kwargs,
    )


def value_turn(typed: str, meter_id: str, **slots: Any) -> Tracker:
    return tracker(
        text=typed,
        intent="inform_number",
        typed={"reading_value": typed},
        slots={"meter_id": meter_id, "shown_meter_id": meter_id, **slots},
        form="reading_form",
        requested="reading_value",
    )


def ready(meter_id: str, value: str, message_id: str | None = "m-1", **kwargs: Any) -> Tracker:
    """The form is done: what action_submit_reading sees."""
    slots = {"meter_id": meter_id, "reading_value": value, "shown_meter_id": meter_id}
    slots |= kwargs.pop("slots", {})
    return tracker(text=value, message_id=message_id, slots=slots, latest_action="reading_form", **kwargs)


def accepted(value: str) -> list[dict[str, Any]]:
    return [
        slot("reading_value", value),
        slot("reading_check", None),
        slot("reading_confirmed", None),
        slot("requested_slot", None),
    ]


# --- action_start_reading ----------------------------------------------------------------------


async def test_start_without_meters(demo: dict[str, str]) -> None:
    result = await run(ActionStartReading(), tracker(text="/submit_reading", intent="submit_reading"))

    assert result.events == [*READING_RESET, slot("reading_start", "no_meters")]
    assert result.messages == []


async def test_start_with_one_meter_chooses_it(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")

    result = await run(ActionStartReading(), tracker(text="/submit_reading", intent="submit_reading"))

    assert result.events == [*READING_RESET, slot("meter_id", demo["222222"]), slot("reading_start", "ask")]
    assert result.messages == []


async def test_start_with_several_meters_asks(mine: dict[str, str]) -> None:
    result = await run(ActionStartReading(), tracker(text="/submit_reading", intent="submit_reading"))

    assert result.events == [*READING_RESET, slot("reading_start", "ask")]


async def test_start_from_a_button_of_an_own_meter(mine: dict[str, str]) -> None:
    meter = mine["222222"]
    state = tracker(
        text=f'/submit_reading{{"meter_id":"{meter}"}}', intent="submit_reading", entities={"meter_id": meter}
    )

    result = await run(ActionStartReading(), state)

    assert result.events == [*READING_RESET, slot("meter_id", meter), slot("reading_start", "ask")]


@pytest.mark.parametrize("forged", ["333333", "unknown"])
async def test_start_from_a_forged_button_chooses_nothing(mine: dict[str, str], forged: str) -> None:
    meter = mine.get(forged, "424242")  # someone else's meter, or no meter at all
    state = tracker(
        text=f'/submit_reading{{"meter_id":"{meter}"}}', intent="submit_reading", entities={"meter_id": meter}
    )

    result = await run(ActionStartReading(), state)

    assert result.events == [*READING_RESET, slot("reading_start", "ask")]


@pytest.mark.parametrize(
    ("policy", "moment", "start"),
    [
        ("refuse", OUT_OF_WINDOW, "window_closed"),
        ("refuse", IN_WINDOW, "ask"),
        ("remind", OUT_OF_WINDOW, "ask"),
        ("remind", IN_WINDOW, "ask"),
    ],
)
async def test_window_policy(
    mine: dict[str, str], configure: Configure, clock: Clock, policy: str, moment: Any, start: str
) -> None:
    configure(reading_window_policy=policy)
    clock.moment = moment

    result = await run(ActionStartReading(), tracker(intent="submit_reading"))

    assert result.events == [*READING_RESET, slot("reading_start", start)]


async def test_window_policy_without_meters(demo: dict[str, str], configure: Configure, clock: Clock) -> None:
    configure(reading_window_policy="refuse")
    clock.moment = OUT_OF_WINDOW

    result = await run(ActionStartReading(), tracker(intent="submit_reading"))

    assert result.events == [*READING_RESET, slot("reading_start", "no_meters")]


# --- which meter -------------------------------------------------------------------------------


async def test_ask_meter_id_offers_the_subscribers_meters(mine: dict[str, str]) -> None:
    result = await run(ActionAskMeterId(), tracker(form="reading_form", requested="meter_id"))

    assert result.events == []
    assert result.messages == [
        message(
            "Оберіть лічильник:",
            [
                {
                    "title": "Тепло · №111111 · о/р 12345",
                    "payload": f'/submit_reading{{"meter_id":"{mine["111111"]}"}}',
                },
                {
                    "title": "Гаряча вода · №222222 · о/р 12345",
                    "payload": f'/submit_reading{{"meter_id":"{mine["222222"]}"}}',
                },
            ],
        )
    ]


def chosen(meter_id: str) -> list[dict[str, Any]]:
    """The first meter was chosen: the value is asked next."""
    return [slot("meter_id", meter_id), slot("requested_slot", "reading_value")]


async def test_choose_by_button(mine: dict[str, str]) -> None:
    result = await run(ValidateReadingForm(), button_turn(mine["222222"]))

    assert result.events == chosen(mine["222222"])
    assert result.messages == []


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("222222", "222222"),
        ("№ 222 222", "222222"),
        ("лічильник 111111", "111111"),
        ("гаряча вода", "222222"),
        ("Гаряча", "222222"),
        ("тепло", "111111"),
        ("опалення", "111111"),
        ("1", "111111"),
        ("2", "222222"),
    ],
)
async def test_choose_by_typing(mine: dict[str, str], typed: str, number: str) -> None:
    result = await run(ValidateReadingForm(), choice_turn(typed))

    assert result.events == chosen(mine[number])
    assert result.messages == []


async def test_choose_a_meter_preset_by_an_action(mine: dict[str, str]) -> None:
    # On activation the form validates the meter action_start_reading chose; the text was the menu button.
    state = choice_turn(mine["222222"], text="/submit_reading", intent="submit_reading")

    result = await run(ValidateReadingForm(), state)

    assert result.events == chosen(mine["222222"])


async def test_the_meter_already_shown_keeps_its_value(mine: dict[str, str]) -> None:
    meter = mine["222222"]
    state = choice_turn("2", slots={"shown_meter_id": meter, "reading_value": "130.00"})

    result = await run(ValidateReadingForm(), state)

    assert result.events == [slot("meter_id", meter), *accepted("130.00")]


async def test_another_meter_than_the_one_shown_drops_its_value(mine: dict[str, str]) -> None:
    state = choice_turn("1", slots={"shown_meter_id": mine["222222"], "reading_value": "130.00"})

    result = await run(ValidateReadingForm(), state)

    assert result.events == [
        slot("meter_id", mine["111111"]),
        *RESETS,
        slot("requested_slot", "reading_value"),
    ]
    assert result.messages == []


@pytest.mark.parametrize("typed", ["999", "3", "0", "333333", "газ", "гаряча вода і тепло"])
async def test_choose_unknown(mine: dict[str, str], typed: str) -> None:
    result = await run(ValidateReadingForm(), choice_turn(typed))

    assert result.events == [slot("meter_id", None), slot("requested_slot", "meter_id")]
    assert result.messages == [
        message("Серед Ваших лічильників такого немає. Оберіть лічильник кнопкою нижче.")
    ]


async def test_a_kind_word_shared_by_two_meters_is_unknown(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222", "333333")  # two hot-water meters

    result = await run(ValidateReadingForm(), choice_turn("гаряча вода"))

    assert result.events == [slot("meter_id", None), slot("requested_slot", "meter_id")]
    assert result.messages == [said("utter_meter_choice_unknown")]


async def test_choose_someone_elses_meter_by_entity(mine: dict[str, str]) -> None:
    forged = mine["333333"]
    state = choice_turn(
        forged, text=f'/inform_number{{"meter_id":"{forged}"}}', entities={"meter_id": forged}
    )

    result = await run(ValidateReadingForm(), state)

    assert result.events == [slot("meter_id", None), slot("requested_slot", "meter_id")]
    assert result.messages == [
        message("Цей лічильник не зареєстровано у Вас. Оберіть один із Ваших лічильників.")
    ]


async def test_the_menu_button_again_just_asks_again(mine: dict[str, str]) -> None:
    state = choice_turn("/submit_reading", intent="submit_reading")

    result = await run(ValidateReadingForm(), state)

    assert result.events == [slot("meter_id", None), slot("requested_slot", "meter_id")]
    assert result.messages == []


# --- the previous readings, then the value -----------------------------------------------------


async def test_ask_reading_value_shows_account_and_history(mine: dict[str, str]) -> None:
    meter = mine["222222"]
    state = tracker(slots={"meter_id": meter}, form="reading_form", requested="reading_value")

    result = await run(ActionAskReadingValue(), state)

    assert result.events == [slot("shown_meter_id", meter)]
    assert result.messages == [
        message("Особовий рахунок 12345, лічильник гарячої води № 222222."),
        message(
            "Попередні показання:\n"
            f"{period_title(LAST)}: 127.15 (спожито 3.35)\n"
            f"{period_title(MIDDLE)}: 123.80 (спожито 3.30)\n"
            f"{period_title(OLDEST)}: 120.50"
        ),
        uttered("utter_ask_reading_value"),
    ]


async def test_ask_reading_value_history_across_a_rollover(demo: dict[str, str], register: Register) -> None:
    register.subscribe("444444")
    state = tracker(slots={"meter_id": demo["444444"]}, form="reading_form", requested="reading_value")

    result = await run(ActionAskReadingValue(), state)

    assert result.messages[:2] == [
        said("utter_meter_summary", account_number="34567", kind="тепла", meter_number="444444"),
        said(
            "utter_previous_readings",
            lines=f"{period_title(LAST)}: 3.60 (спожито 11.85)\n"
            f"{period_title(MIDDLE)}: 991.75 (спожито 11.35)\n"
            f"{period_title(OLDEST)}: 980.40",
        ),
    ]


async def test_ask_reading_value_twice_shows_only_the_question(mine: dict[str, str]) -> None:
    meter = mine["222222"]
    state = tracker(
        slots={"meter_id": meter, "shown_meter_id": meter}, form="reading_form", requested="reading_value"
    )

    result = await run(ActionAskReadingValue(), state)

    assert result.events == [slot("shown_meter_id", meter)]
    assert result.messages == [uttered("utter_ask_reading_value")]


async def test_ask_reading_value_of_a_meter_without_readings(own: dict[str, str]) -> None:
    state = tracker(slots={"meter_id": own["666666"]}, form="reading_form", requested="reading_value")

    result = await run(ActionAskReadingValue(), state)

    assert result.events == [slot("shown_meter_id", own["666666"])]
    assert result.messages == [
        message("Особовий рахунок 54321, лічильник тепла № 666666."),
        uttered("utter_no_previous_readings"),
        uttered("utter_ask_reading_value"),
    ]


async def test_ask_reading_value_shows_nothing_of_someone_elses_meter(mine: dict[str, str]) -> None:
    state = tracker(slots={"meter_id": mine["333333"]}, form="reading_form", requested="reading_value")

    result = await run(ActionAskReadingValue(), state)

    assert result.messages == [uttered("utter_ask_reading_value")]


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("123.45", "123.45"),
        ("123,45", "123.45"),
        (" 123.45 ", "123.45"),
        ("123", "123.00"),
        ("100", "100.00"),  # the same as last month: nothing used
        ("130.00", "130.00"),  # 30.00 used: the hot-water limit itself
    ],
)
async def test_reading_value_accepted(own: dict[str, str], typed: str, value: str) -> None:
    result = await run(ValidateReadingForm(), value_turn(typed, own["777777"]))

    assert result.events == accepted(value)
    assert result.messages == []


async def test_first_reading_of_a_meter_is_accepted(own: dict[str, str]) -> None:
    result = await run(ValidateReadingForm(), value_turn("512.5", own["666666"]))

    assert result.events == accepted("512.50")


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("", "Показання порожнє. Введіть його в форматі ХХХ.ХХ, наприклад 123.45."),
        ("   ", "Показання порожнє. Введіть його в форматі ХХХ.ХХ, наприклад 123.45."),
        ("abc", "«abc» не схоже на показання. Введіть число в форматі ХХХ.ХХ, наприклад 123.45."),
        ("1e3", "«1e3» не схоже на показання. Введіть число в форматі ХХХ.ХХ, наприклад 123.45."),
        ("NaN", "«NaN» не схоже на показання. Введіть число в форматі ХХХ.ХХ, наприклад 123.45."),
        (" 12.3.4 ", "«12.3.4» не схоже на показання. Введіть число в форматі ХХХ.ХХ, наприклад 123.45."),
        ("-5", "Показання не може бути від’ємним. Введіть число з лічильника в форматі ХХХ.ХХ."),
        ("123.456", "Після крапки потрібно не більше двох цифр (формат ХХХ.ХХ), наприклад 123.45."),
        (
            "1000",
            "Лічильник показує щонайбільше 999.99: у введеному забагато цифр до крапки. "
            "Введіть показання в форматі ХХХ.ХХ.",
        ),
    ],
)
async def test_reading_value_refused(own: dict[str, str], typed: str, text: str) -> None:
    result = await run(ValidateReadingForm(), value_turn(typed, own["777777"]))

    assert result.events == [slot("reading_value", None), slot("requested_slot", "reading_value")]
    assert result.messages == [message(text)]


async def test_a_long_refused_text_is_cut_in_the_reply(own: dict[str, str]) -> None:
    typed = "x" * 100

    result = await run(ValidateReadingForm(), value_turn(typed, own["777777"]))

    assert result.messages == [said("utter_reading_not_a_number", text="x" * 40)]


async def test_reading_below_previous(mine: dict[str, str]) -> None:
    result = await run(ValidateReadingForm(), value_turn("120", mine["222222"]))

    assert result.events == [slot("reading_value", None), slot("requested_slot", "reading_value")]
    assert result.messages == [
        message(
            "Показання 120.00 менше за попереднє прийняте (127.15), тому його не прийнято. "
            "Перевірте лічильник і введіть поточне показання."
        )
    ]


@pytest.mark.parametrize(
    ("number", "typed", "value"),
    [("888888", "5", "5.00"), ("888888", "21.74", "21.74"), ("999999", "3.00", "3.00")],
)
async def test_rollover_needs_confirming(own: dict[str, str], number: str, typed: str, value: str) -> None:
    result = await run(ValidateReadingForm(), value_turn(typed, own[number]))

    # reading_confirmed is now required: the form itself asks for it.
    assert result.events == [
        slot("reading_value", value),
        slot("reading_check", "rollover"),
        slot("reading_confirmed", None),
    ]
    assert result.messages == []


async def test_a_rollover_beyond_the_plausible_is_below_previous(own: dict[str, str]) -> None:
    # 991.75 -> 21.75 would be 30.00 used, the limit; 21.76 is 30.01: not a rollover but a mistake.
    result = await run(ValidateReadingForm(), value_turn("21.76", own["888888"]))

    assert result.events == [slot("reading_value", None), slot("requested_slot", "reading_value")]
    assert result.messages == [said("utter_reading_below_previous", value="21.76", previous="991.75")]


@pytest.mark.parametrize(
    ("number", "typed", "value"),
    [("333333", "71.01", "71.01"), ("111111", "485.11", "485.11"), ("111111", "999.99", "999.99")],
)
async def test_large_consumption_needs_confirming(
    demo: dict[str, str], register: Register, number: str, typed: str, value: str
) -> None:
    register.subscribe(number)

    result = await run(ValidateReadingForm(), value_turn(typed, demo[number]))

    assert result.events == [
        slot("reading_value", value),
        slot("reading_check", "large"),
        slot("reading_confirmed", None),
    ]
    assert result.messages == []


async def test_heat_limit_is_ten(demo: dict[str, str], register: Register) -> None:
    register.subscribe("111111")  # previous 475.10

    result = await run(ValidateReadingForm(), value_turn("485.10", demo["111111"]))

    assert result.events == accepted("485.10")


async def test_plausible_limits_are_configurable(
    demo: dict[str, str], register: Register, configure: Configure
) -> None:
    from actions.register.models import MeterKind

    configure(plausible_consumption=((MeterKind.HOT_WATER, Decimal("100")), (MeterKind.HEAT, Decimal("1"))))
    register.subscribe("333333", "111111")

    hot = await run(ValidateReadingForm(), value_turn("71.01", demo["333333"]))
    heat = await run(ValidateReadingForm(), value_turn("476.20", demo["111111"]))

    assert hot.events == accepted("71.01")
    assert heat.events[1] == slot("reading_check", "large")


async def test_reading_for_someone_elses_meter(mine: dict[str, str]) -> None:
    result = await run(ValidateReadingForm(), value_turn("50", mine["333333"]))

    assert result.events == [
        slot("reading_value", None),
        slot("meter_id", None),
        slot("requested_slot", "meter_id"),
    ]
    assert result.messages == [said("utter_meter_not_available")]


async def test_a_new_number_instead_of_yes_or_no_is_checked_again(mine: dict[str, str]) -> None:
    meter = mine["111111"]
    state = tracker(
        text="480",
        intent="inform_number",
        typed={"reading_value": "480"},
        slots={"meter_id": meter, "shown_meter_id": meter, "reading_check": "large"},
        form="reading_form",
        requested="reading_confirmed",
    )

    result = await run(ValidateReadingForm(), state)

    assert result.events == accepted("480.00")


# --- confirming ----------------------------------------------------------------------------------


async def test_ask_to_confirm_a_rollover(own: dict[str, str]) -> None:
    state = tracker(
        slots={"meter_id": own["888888"], "reading_value": "5.00", "reading_check": "rollover"},
        form="reading_form",
        requested="reading_confirmed",
    )

    result = await run(ActionAskReadingConfirmed(), state)

    assert result.events == []
    assert result.messages == [
        message(
            "Показання 5.00 менше за попереднє (991.75). Лічильник дійшов до 999.99 і почав рахувати "
            "з нуля? Тоді споживання становить 13.25. Підтверджуєте?",
            YES_NO,
        )
    ]


async def test_ask_to_confirm_a_large_consumption(demo: dict[str, str], register: Register) -> None:
    register.subscribe("333333")
    state = tracker(
        slots={"meter_id": demo["333333"], "reading_value": "80.00", "reading_check": "large"},
        form="reading_form",
        requested="reading_confirmed",
    )

    result = await run(ActionAskReadingConfirmed(), state)

    assert result.events == []
    assert result.messages == [
        message(
            "Споживання 39.00 більше за звичайне (попереднє показання 41.00, нове 80.00). "
            "Перевірте, будь ласка. Показання правильне?",
            YES_NO,
        )
    ]


async def test_nothing_to_confirm_without_a_previous_reading(own: dict[str, str]) -> None:
    state = tracker(
        slots={"meter_id": own["666666"], "reading_value": "5.00", "reading_check": "large"},
        form="reading_form",
        requested="reading_confirmed",
    )

    result = await run(ActionAskReadingConfirmed(), state)

    assert result.events == [slot("reading_check", None), slot("reading_confirmed", True)]
    assert result.messages == []


def confirm_turn(meter_id: str, answer: bool) -> Tracker:
    return tracker(
        text="так" if answer else "ні",
        intent="affirm" if answer else "deny",
        typed={"reading_confirmed": answer},
        slots={
            "meter_id": meter_id,
            "shown_meter_id": meter_id,
            "reading_value": "5.00",
            "reading_check": "rollover",
        },
        form="reading_form",
        requested="reading_confirmed",
    )


async def test_confirmed_keeps_the_reading(own: dict[str, str]) -> None:
    result = await run(ValidateReadingForm(), confirm_turn(own["888888"], True))

    assert result.events == [slot("reading_confirmed", True)]
    assert result.messages == []


async def test_not_confirmed_drops_the_reading_and_asks_again(own: dict[str, str]) -> None:
    result = await run(ValidateReadingForm(), confirm_turn(own["888888"], False))

    assert result.events == [
        slot("reading_confirmed", None),
        slot("reading_value", None),
        slot("reading_check", None),
        slot("requested_slot", "reading_value"),
    ]
    assert result.messages == [message("Гаразд, показання не збережено.")]


# --- saving ----------------------------------------------------------------------------------------


async def test_submit_saves_and_thanks(own: dict[str, str], register: Register) -> None:
    result = await run(ActionSubmitReading(), ready(own["777777"], "123.45", message_id="m-42"))

    assert result.events == READING_END
    assert result.messages == [message("Прийнято 123.45 до обробки. Дякуємо"), uttered("utter_menu")]
    assert register.readings("777777") == [
        ReadingRow(LAST, Decimal("100.00"), "accepted", "import", None, None),
        ReadingRow(PERIOD, Decimal("123.45"), "accepted", "rest", register.subscriber_id(), "m-42"),
    ]


async def test_submit_through_viber(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222", who=VIBER)

    result = await run(
        ActionSubmitReading(), ready(demo["222222"], "130.50", sender="viber:abc", channel="viber")
    )

    assert result.messages[0] == message("Прийнято 130.50 до обробки. Дякуємо")
    assert register.readings("222222")[-1] == ReadingRow(
        PERIOD, Decimal("130.50"), "accepted", "viber", register.subscriber_id(VIBER), "m-1"
    )


async def test_a_second_submission_supersedes_the_first(own: dict[str, str], register: Register) -> None:
    await run(ActionSubmitReading(), ready(own["777777"], "123.45", message_id="m-1"))

    result = await run(ActionSubmitReading(), ready(own["777777"], "124.00", message_id="m-2"))

    assert result.events == READING_END
    assert result.messages == [
        message("Прийнято 124.00 до обробки. Дякуємо"),
        message(f"Це показання замінило передане раніше за {period_title(PERIOD)} (123.45)."),
        uttered("utter_menu"),
    ]
    assert [(r.period, str(r.value), r.status) for r in register.readings("777777")] == [
        (LAST, "100.00", "accepted"),
        (PERIOD, "123.45", "superseded"),
        (PERIOD, "124.00", "accepted"),
    ]


async def test_the_same_message_twice_saves_once(own: dict[str, str], register: Register) -> None:
    first = await run(ActionSubmitReading(), ready(own["777777"], "123.45", message_id="m-7"))
    again = await run(ActionSubmitReading(), ready(own["777777"], "123.45", message_id="m-7"))

    assert (
        first.messages
        == again.messages
        == [message("Прийнято 123.45 до обробки. Дякуємо"), uttered("utter_menu")]
    )
    assert [r.message_id for r in register.readings("777777")] == [None, "m-7"]


async def test_submit_for_a_meter_not_registered_saves_nothing(
    mine: dict[str, str], register: Register
) -> None:
    before = register.readings("333333")

    result = await run(ActionSubmitReading(), ready(mine["333333"], "50.00"))

    assert result.events == READING_END
    assert result.messages == [said("utter_meter_not_available"), uttered("utter_menu")]
    assert register.readings("333333") == before


async def test_submit_for_a_meter_that_does_not_exist_saves_nothing(mine: dict[str, str]) -> None:
    result = await run(ActionSubmitReading(), ready("424242", "50.00"))

    assert result.messages == [said("utter_meter_not_available"), uttered("utter_menu")]


@pytest.mark.parametrize("check", ["rollover", "large"])
@pytest.mark.parametrize("confirmed", [None, False])
async def test_submit_an_unconfirmed_reading_saves_nothing(
    own: dict[str, str], register: Register, check: str, confirmed: bool | None
) -> None:
    state = ready(own["888888"], "5.00", slots={"reading_check": check, "reading_confirmed": confirmed})

    result = await run(ActionSubmitReading(), state)

    assert result.events == READING_END
    assert result.messages == [uttered("utter_menu")]
    assert len(register.readings("888888")) == 1


async def test_submit_a_confirmed_rollover(own: dict[str, str], register: Register) -> None:
    state = ready(own["888888"], "5.00", slots={"reading_check": "rollover", "reading_confirmed": True})

    result = await run(ActionSubmitReading(), state)

    assert result.messages == [message("Прийнято 5.00 до обробки. Дякуємо"), uttered("utter_menu")]
    assert register.readings("888888")[-1].value == Decimal("5.00")


@pytest.mark.parametrize(("meter", "value"), [(None, "5.00"), ("x", None)])
async def test_submit_without_a_meter_or_value_saves_nothing(
    own: dict[str, str], register: Register, meter: str | None, value: str | None
) -> None:
    state = tracker(slots={"meter_id": own["777777"] if meter else None, "reading_value": value})

    result = await run(ActionSubmitReading(), state)

    assert result.events == READING_END
    assert result.messages == [uttered("utter_menu")]
    assert len(register.readings("777777")) == 1


async def test_submit_outside_the_window_reminds(own: dict[str, str], clock: Clock) -> None:
    clock.moment = OUT_OF_WINDOW

    result = await run(ActionSubmitReading(), ready(own["777777"], "123.45"))

    assert result.messages == [
        message("Прийнято 123.45 до обробки. Дякуємо"),
        uttered("utter_reading_window_reminder"),
        uttered("utter_menu"),
    ]


async def test_a_reading_in_the_request_itself_is_taken_for_the_only_meter(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("222222")

    typed = "хочу передати показання 130,45"
    state = tracker(text=typed, intent="submit_reading", entity_list=[("reading_value", "130,45", 24, 30)])

    result = await run(ActionStartReading(), state)

    assert result.events == [
        *READING_RESET,
        slot("meter_id", demo["222222"]),
        slot("reading_value", "130,45"),
        slot("reading_start", "ask"),
    ]


@pytest.mark.parametrize("typed", ["передати показання за 10 місяць", "/submit_reading", "показання 1 і 2"])
async def test_no_value_is_guessed_from_other_numbers(
    typed: str, demo: dict[str, str], register: Register
) -> None:
    register.subscribe("222222")

    result = await run(ActionStartReading(), tracker(text=typed, intent="submit_reading"))

    assert slot("reading_value", "10") not in result.events
    assert not [e for e in result.events if e["name"] == "reading_value" and e["value"] is not None]
