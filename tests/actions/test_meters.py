"""The subscriber's meters: action_my_meters, action_reading_history and removing a meter."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.dialogue.meters import (
    ActionAskMeterToRemove,
    ActionAskRemovalConfirmed,
    ActionMyMeters,
    ActionRemoveMeter,
    ActionStartRemoval,
    ValidateRemovalForm,
)
from actions.dialogue.readings import ActionReadingHistory, ActionSubmitReading
from actions.register.period import period_title
from actions.register.subscriber import Identity
from tests.support.dialogue import (
    MENU,
    REMOVAL_END,
    REMOVAL_RESET,
    YES_NO,
    Register,
    message,
    run,
    said,
    slot,
    tracker,
    uttered,
)
from tests.support.moments import LAST, MIDDLE, OLDEST, PERIOD

SHEVCHENKA = "м. Чернігів, вул. Ш*******, 1*, кв. *"
PEREMOHY = "м. Чернігів, просп. П*******, 4*, кв. 1*"
NEIGHBOUR = Identity("viber", "neighbour")


def removal_button(number: str, meter_id: str) -> dict[str, str]:
    return {"title": f"Видалити №{number}", "payload": f'/remove_meter{{"meter_id":"{meter_id}"}}'}


# --- my meters -----------------------------------------------------------------------------------


async def test_my_meters_lists_titles_masked_addresses_and_removal_buttons(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("222222", "333333")
    register.subscribe("111111", who=NEIGHBOUR)  # someone else's: not listed

    result = await run(ActionMyMeters(), tracker(text="/my_meters", intent="my_meters"))

    assert result.events == []
    assert result.messages == [
        message(
            "Ваші лічильники:\n"
            f"Гаряча вода · №222222 · о/р 12345, {SHEVCHENKA}\n"
            f"Гаряча вода · №333333 · о/р 23456, {PEREMOHY}"
        ),
        message(
            "Оберіть, що бажаєте зробити:",
            [removal_button("222222", demo["222222"]), removal_button("333333", demo["333333"]), *MENU],
        ),
    ]


async def test_my_meters_without_meters(demo: dict[str, str], register: Register) -> None:
    register.subscribe("111111", who=NEIGHBOUR)

    result = await run(ActionMyMeters(), tracker(text="/my_meters", intent="my_meters"))

    assert result.events == []
    assert result.messages == [uttered("utter_no_meters")]


async def test_my_meters_on_viber_are_not_the_rest_senders(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222", who=Identity("viber", "abc"))

    on_viber = await run(ActionMyMeters(), tracker(sender="viber:abc", channel="viber"))
    on_rest = await run(ActionMyMeters(), tracker(sender="viber:abc", channel="rest"))

    assert on_viber.messages[0] == message(
        f"Ваші лічильники:\nГаряча вода · №222222 · о/р 12345, {SHEVCHENKA}"
    )
    assert on_rest.messages == [uttered("utter_no_meters")]


# --- history ---------------------------------------------------------------------------------------


async def test_history_shows_three_periods_of_each_meter(demo: dict[str, str], register: Register) -> None:
    register.add_meter("12345", "121212", "heat")  # no readings yet
    register.subscribe("222222", "444444", "121212")

    result = await run(ActionReadingHistory(), tracker(text="/reading_history", intent="reading_history"))

    assert result.events == []
    assert result.messages == [
        message(
            "Гаряча вода · №222222 · о/р 12345\n"
            f"{period_title(LAST)}: 127.15 (спожито 3.35)\n"
            f"{period_title(MIDDLE)}: 123.80 (спожито 3.30)\n"
            f"{period_title(OLDEST)}: 120.50"
        ),
        said(
            "utter_history_header",
            title="Тепло · №444444 · о/р 34567",
            lines=f"{period_title(LAST)}: 3.60 (спожито 11.85)\n"
            f"{period_title(MIDDLE)}: 991.75 (спожито 11.35)\n"
            f"{period_title(OLDEST)}: 980.40",
        ),
        message("Тепло · №121212 · о/р 12345\nПоказань ще немає."),
        uttered("utter_menu"),
    ]


async def test_history_after_a_new_reading_drops_the_oldest_and_the_superseded(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("222222")
    for value, message_id in (("130.00", "m-1"), ("131.00", "m-2")):
        state = tracker(message_id=message_id, slots={"meter_id": demo["222222"], "reading_value": value})
        await run(ActionSubmitReading(), state)

    result = await run(ActionReadingHistory(), tracker(intent="reading_history"))

    assert result.messages == [
        message(
            "Гаряча вода · №222222 · о/р 12345\n"
            f"{period_title(PERIOD)}: 131.00 (спожито 3.85)\n"
            f"{period_title(LAST)}: 127.15 (спожито 3.35)\n"
            f"{period_title(MIDDLE)}: 123.80 (спожито 3.30)"
        ),
        uttered("utter_menu"),
    ]


async def test_history_without_meters(demo: dict[str, str]) -> None:
    result = await run(ActionReadingHistory(), tracker(intent="reading_history"))

    assert result.events == []
    assert result.messages == [uttered("utter_no_meters")]


# --- removal -------------------------------------------------------------------------------------


def remove_button(meter_id: str) -> Tracker:
    return tracker(
        text=f'/remove_meter{{"meter_id":"{meter_id}"}}',
        intent="remove_meter",
        entities={"meter_id": meter_id},
    )


async def test_start_removal_from_the_button_of_an_own_meter(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("111111", "222222")

    result = await run(ActionStartRemoval(), remove_button(demo["222222"]))

    assert result.events == [
        *REMOVAL_RESET,
        slot("meter_to_remove", demo["222222"]),
        slot("meters_registered", True),
    ]
    assert result.messages == []


async def test_start_removal_from_a_forged_button_chooses_nothing(
    demo: dict[str, str], register: Register
) -> None:
    register.subscribe("111111", "222222")
    register.subscribe("333333", who=NEIGHBOUR)

    result = await run(ActionStartRemoval(), remove_button(demo["333333"]))

    assert result.events == [*REMOVAL_RESET, slot("meters_registered", True)]


async def test_start_removal_with_one_meter_chooses_it(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")

    result = await run(ActionStartRemoval(), tracker(text="/remove_meter", intent="remove_meter"))

    assert result.events == [
        *REMOVAL_RESET,
        slot("meter_to_remove", demo["222222"]),
        slot("meters_registered", True),
    ]


async def test_start_removal_without_meters(demo: dict[str, str]) -> None:
    result = await run(ActionStartRemoval(), remove_button(demo["222222"]))

    assert result.events == [*REMOVAL_RESET, slot("meters_registered", False)]


async def test_ask_which_meter_to_remove(demo: dict[str, str], register: Register) -> None:
    register.subscribe("111111", "222222")

    result = await run(ActionAskMeterToRemove(), tracker(form="removal_form", requested="meter_to_remove"))

    assert result.events == []
    assert result.messages == [
        message(
            "Який лічильник видалити?",
            [
                {
                    "title": "Тепло · №111111 · о/р 12345",
                    "payload": f'/remove_meter{{"meter_id":"{demo["111111"]}"}}',
                },
                {
                    "title": "Гаряча вода · №222222 · о/р 12345",
                    "payload": f'/remove_meter{{"meter_id":"{demo["222222"]}"}}',
                },
            ],
        )
    ]


def removal_choice(typed: str, **kwargs: Any) -> Tracker:
    return tracker(
        text=kwargs.pop("text", typed),
        intent=kwargs.pop("intent", "inform_number"),
        typed={"meter_to_remove": typed},
        form="removal_form",
        requested="meter_to_remove",
        **kwargs,
    )


async def test_validate_meter_to_remove(demo: dict[str, str], register: Register) -> None:
    register.subscribe("111111", "222222")

    by_position = await run(ValidateRemovalForm(), removal_choice("2"))
    by_kind = await run(ValidateRemovalForm(), removal_choice("тепло"))
    unknown = await run(ValidateRemovalForm(), removal_choice("777"))

    assert by_position.events == [slot("meter_to_remove", demo["222222"])]
    assert by_kind.events == [slot("meter_to_remove", demo["111111"])]
    assert (by_position.messages, by_kind.messages) == ([], [])
    assert unknown.events == [slot("meter_to_remove", None)]
    assert unknown.messages == [said("utter_meter_choice_unknown")]


async def test_validate_a_forged_meter_to_remove(demo: dict[str, str], register: Register) -> None:
    register.subscribe("111111", "222222")
    forged = demo["333333"]

    result = await run(
        ValidateRemovalForm(),
        removal_choice(
            forged,
            text=f'/remove_meter{{"meter_id":"{forged}"}}',
            intent="remove_meter",
            entities={"meter_id": forged},
        ),
    )

    assert result.events == [slot("meter_to_remove", None)]
    assert result.messages == [said("utter_meter_not_available")]


async def test_ask_removal_confirmed(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")
    state = tracker(
        slots={"meter_to_remove": demo["222222"]}, form="removal_form", requested="removal_confirmed"
    )

    result = await run(ActionAskRemovalConfirmed(), state)

    assert result.events == []
    assert result.messages == [
        message(
            "Видалити лічильник Гаряча вода · №222222 · о/р 12345 з Ваших? Показання, які Ви вже "
            "передали, залишаться в реєстрі, а додати лічильник знову можна будь-коли.",
            YES_NO,
        )
    ]


async def test_ask_removal_confirmed_of_someone_elses_meter(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")
    state = tracker(
        slots={"meter_to_remove": demo["333333"]}, form="removal_form", requested="removal_confirmed"
    )

    result = await run(ActionAskRemovalConfirmed(), state)

    assert result.events == [slot("meter_to_remove", None)]
    assert result.messages == []


def answered(meter_id: str, confirmed: bool | None) -> Tracker:
    return tracker(
        slots={"meter_to_remove": meter_id, "removal_confirmed": confirmed}, latest_action="removal_form"
    )


async def test_remove_confirmed(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222", "111111")
    register.subscribe("222222", who=NEIGHBOUR)
    readings = register.readings("222222")

    result = await run(ActionRemoveMeter(), answered(demo["222222"], True))

    assert result.events == REMOVAL_END
    assert result.messages == [uttered("utter_meter_removed")]
    assert register.enrolled("222222") == [("viber", "neighbour")]  # the neighbour keeps theirs
    assert register.enrolled("111111") == [("rest", "tester")]
    assert register.readings("222222") == readings
    listed = await run(ActionMyMeters(), tracker(intent="my_meters"))
    assert "222222" not in listed.messages[0]["text"]


async def test_remove_denied_keeps_the_meter(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")

    denied = await run(ActionRemoveMeter(), answered(demo["222222"], False))
    unanswered = await run(ActionRemoveMeter(), answered(demo["222222"], None))

    assert denied.events == unanswered.events == REMOVAL_END
    assert denied.messages == unanswered.messages == [uttered("utter_meter_kept")]
    assert register.enrolled("222222") == [("rest", "tester")]


async def test_remove_someone_elses_meter_removes_nothing(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")
    register.subscribe("333333", who=NEIGHBOUR)

    result = await run(ActionRemoveMeter(), answered(demo["333333"], True))

    # (It still answers utter_meter_removed; the form never gets here with a foreign meter.)
    assert result.events == REMOVAL_END
    assert register.enrolled("333333") == [("viber", "neighbour")]
    assert register.enrolled("222222") == [("rest", "tester")]
