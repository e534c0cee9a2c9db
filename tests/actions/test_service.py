"""Who is talking (action_remember_subscriber), and every action when the register is unreachable."""

from __future__ import annotations

import pytest
from rasa_sdk import Action, Tracker

from actions.dialogue.meters import (
    ActionAskMeterToRemove,
    ActionAskRemovalConfirmed,
    ActionMyMeters,
    ActionRemoveMeter,
    ActionStartRemoval,
    ValidateRemovalForm,
)
from actions.dialogue.readings import (
    ActionAskMeterId,
    ActionAskReadingConfirmed,
    ActionAskReadingValue,
    ActionReadingHistory,
    ActionStartReading,
    ActionSubmitReading,
    ValidateReadingForm,
)
from actions.dialogue.registration import (
    ActionRegisterMeter,
    ActionStartRegistration,
    ValidateRegistrationForm,
)
from actions.dialogue.subscription import ActionRememberSubscriber
from actions.register import db
from actions.register.subscriber import Identity, find_subscriber
from tests.support.dialogue import STOP_FLOW, Register, run, said, slot, tracker, uttered

# --- action_remember_subscriber --------------------------------------------------------------------


def subscriber_row(who: Identity) -> tuple[str | None, str | None] | None:
    with db.transaction() as session:
        subscriber = find_subscriber(session, who)
        return None if subscriber is None else (subscriber.display_name, subscriber.language)


async def test_remember_a_new_subscriber_with_name_and_language(register: Register) -> None:
    state = tracker(
        sender="viber:abc", channel="viber", intent="greet", metadata={"name": "Олена", "language": "uk"}
    )

    result = await run(ActionRememberSubscriber(), state)

    assert result.events == []
    assert result.messages == []
    assert subscriber_row(Identity("viber", "abc")) == ("Олена", "uk")
    assert subscriber_row(Identity("rest", "viber:abc")) is None


async def test_remember_refreshes_the_name_and_ignores_blanks(register: Register) -> None:
    await run(
        ActionRememberSubscriber(), tracker(intent="greet", metadata={"name": "Олена", "language": "uk"})
    )
    await run(
        ActionRememberSubscriber(), tracker(intent="greet", metadata={"name": "Олена П.", "language": " "})
    )
    await run(ActionRememberSubscriber(), tracker(intent="greet", metadata={"name": 42, "language": None}))

    assert subscriber_row(Identity("rest", "tester")) == ("Олена П.", "uk")


async def test_remember_cuts_long_metadata(register: Register) -> None:
    await run(
        ActionRememberSubscriber(),
        tracker(intent="greet", metadata={"name": "я" * 300, "language": "uk-UA" * 9}),
    )

    assert subscriber_row(Identity("rest", "tester")) == ("я" * 255, ("uk-UA" * 9)[:16])


async def test_remember_drops_what_the_register_cannot_store(register: Register) -> None:
    hostile = {"name": "Оле\x00на\ud800\x1b[31m", "language": "\x00\x00"}
    result = await run(ActionRememberSubscriber(), tracker(intent="greet", metadata=hostile))

    assert result.messages == []
    assert subscriber_row(Identity("rest", "tester")) == ("Олена[31m", None)


async def test_remember_without_a_channel_is_rest(register: Register) -> None:
    await run(ActionRememberSubscriber(), tracker(channel=None, intent="greet"))

    assert subscriber_row(Identity("rest", "tester")) == (None, None)


# --- the register is unreachable -------------------------------------------------------------------


async def test_remember_subscriber_survives_a_database_outage(database_down: None) -> None:
    result = await run(ActionRememberSubscriber(), tracker(intent="greet", metadata={"name": "Олена"}))

    assert result.events == []
    assert result.messages == []


def registration_turn() -> Tracker:
    return tracker(
        text="12345",
        typed={"account_number": "12345"},
        slots={"registration_failures": 0.0},
        form="registration_form",
        requested="account_number",
    )


ACTIONS_AND_TRACKERS: list[tuple[Action, Tracker]] = [
    (ActionStartRegistration(), tracker(intent="register_meter")),
    (ValidateRegistrationForm(), registration_turn()),
    (
        ValidateRegistrationForm(),
        tracker(
            text="222222",
            typed={"meter_number": "222222"},
            slots={"account_number": "12345", "registration_failures": 0.0},
            form="registration_form",
            requested="meter_number",
        ),
    ),
    (ActionRegisterMeter(), tracker(slots={"registered_meter_id": "1"})),
    (ActionStartReading(), tracker(text="/submit_reading", intent="submit_reading")),
    (ActionAskMeterId(), tracker(form="reading_form", requested="meter_id")),
    (
        ValidateReadingForm(),
        tracker(text="1", typed={"meter_id": "1"}, form="reading_form", requested="meter_id"),
    ),
    (ActionAskReadingValue(), tracker(slots={"meter_id": "1"}, form="reading_form")),
    (
        ValidateReadingForm(),
        tracker(
            text="123.45",
            typed={"reading_value": "123.45"},
            slots={"meter_id": "1"},
            form="reading_form",
            requested="reading_value",
        ),
    ),
    (
        ActionAskReadingConfirmed(),
        tracker(slots={"meter_id": "1", "reading_value": "5.00", "reading_check": "rollover"}),
    ),
    (ActionSubmitReading(), tracker(slots={"meter_id": "1", "reading_value": "123.45"})),
    (ActionMyMeters(), tracker(intent="my_meters")),
    (ActionReadingHistory(), tracker(intent="reading_history")),
    (ActionStartRemoval(), tracker(intent="remove_meter")),
    (ActionAskMeterToRemove(), tracker(form="removal_form")),
    (
        ValidateRemovalForm(),
        tracker(text="1", typed={"meter_to_remove": "1"}, form="removal_form", requested="meter_to_remove"),
    ),
    (ActionAskRemovalConfirmed(), tracker(slots={"meter_to_remove": "1"})),
    (ActionRemoveMeter(), tracker(slots={"meter_to_remove": "1", "removal_confirmed": True})),
]


@pytest.mark.parametrize(
    ("action", "state"),
    ACTIONS_AND_TRACKERS,
    ids=[f"{action.name()}-{i}" for i, (action, _) in enumerate(ACTIONS_AND_TRACKERS)],
)
async def test_an_unreachable_register_ends_the_flow_politely(
    database_down: None, action: Action, state: Tracker
) -> None:
    result = await run(action, state)

    assert result.messages == [uttered("utter_service_unavailable")]
    assert result.events == STOP_FLOW


async def test_checks_that_need_no_register_still_answer(database_down: None) -> None:
    state = tracker(
        text="abc",
        typed={"account_number": "abc"},
        slots={"registration_failures": 0.0},
        form="registration_form",
        requested="account_number",
    )

    result = await run(ValidateRegistrationForm(), state)

    assert result.events == [slot("account_number", None)]
    assert result.messages == [said("utter_account_not_digits")]
