"""Registration: action_start_registration, validate_registration_form, action_register_meter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.dialogue.registration import (
    ActionRegisterMeter,
    ActionStartRegistration,
    ValidateRegistrationForm,
)
from actions.register.subscriber import Identity
from tests.support.dialogue import (
    MENU,
    REGISTRATION_END,
    REGISTRATION_RESET,
    Clock,
    Configure,
    Register,
    message,
    run,
    said,
    slot,
    texts,
    tracker,
    uttered,
)
from tests.support.moments import IN_WINDOW

NOW = IN_WINDOW
# Anything that would tell a stranger whose account or meter it is.
PERSONAL = ("Шевченка", "Перемоги", "Реміснича", "кв.", "вул.", "адреса")


def account_turn(typed: str, failures: float = 0.0, **slots: Any) -> Tracker:
    return tracker(
        text=typed,
        intent="inform_number",
        typed={"account_number": typed},
        slots={"registration_failures": failures, "registration_blocked": False, **slots},
        form="registration_form",
        requested="account_number",
    )


def meter_turn(typed: str, account: str = "12345", failures: float = 0.0, **kwargs: Any) -> Tracker:
    return tracker(
        text=typed,
        intent="inform_number",
        typed={"meter_number": typed},
        slots={"account_number": account, "registration_failures": failures, "registration_blocked": False},
        form="registration_form",
        requested="meter_number",
        **kwargs,
    )


def minutes_ago(*minutes: float) -> list[dt.datetime]:
    return [NOW - dt.timedelta(minutes=m) for m in minutes]


# --- the account number --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        " 12345 ",
        "12 345",
        "12-345",
        "№ 12345",
        "№12345",
        "No. 12345",
        "о/р 12345",
        "О/Р: 12 345",
        "ос. рах. 12345",
    ],
)
async def test_account_accepted(demo: dict[str, str], register: Register, typed: str) -> None:
    result = await run(ValidateRegistrationForm(), account_turn(typed))

    assert result.events == [slot("account_number", "12345")]
    assert result.messages == []
    assert register.failures() == 0


@pytest.mark.parametrize("typed", ["abc", "12a45", "١٢٣٤٥", "12345abc", "-", "рахунок"])
async def test_account_not_digits(demo: dict[str, str], register: Register, typed: str) -> None:
    result = await run(ValidateRegistrationForm(), account_turn(typed))

    assert result.events == [slot("account_number", None)]
    assert result.messages == [said("utter_account_not_digits")]
    assert result.messages[0]["text"] == (
        "Номер особового рахунку складається лише з п’яти цифр, наприклад 12345. "
        "Перевірте квитанцію та введіть його ще раз."
    )
    assert register.failures() == 0  # a typo, not a guess: not counted


@pytest.mark.parametrize(
    ("typed", "digits"), [("1234", 4), ("123456", 6), ("12 34", 4), ("№ 1234567890", 10), ("0", 1)]
)
async def test_account_wrong_length_says_how_many_digits(
    demo: dict[str, str], register: Register, typed: str, digits: int
) -> None:
    result = await run(ValidateRegistrationForm(), account_turn(typed))

    assert result.events == [slot("account_number", None)]
    assert result.messages == [
        message(
            f"Номер особового рахунку має містити 5 цифр, а у введеному їх {digits}. "
            "Перевірте квитанцію та введіть його ще раз."
        )
    ]
    assert register.failures() == 0


async def test_unknown_account_counts_a_failure(demo: dict[str, str], register: Register) -> None:
    result = await run(ValidateRegistrationForm(), account_turn("№ 99999", failures=1.0))

    assert result.events == [slot("account_number", None), slot("registration_failures", 2.0)]
    assert result.messages == [
        message(
            "Особовий рахунок 99999 не знайдено. Перевірте номер у верхній частині квитанції "
            "та введіть його ще раз."
        )
    ]
    assert result.messages == [said("utter_account_unknown", account_number="99999")]
    assert register.failures() == 1


async def test_account_reset_by_an_action_is_not_validated(register: Register) -> None:
    state = tracker(
        text="/cancel",
        typed={"account_number": None},
        form="registration_form",
        requested="account_number",
    )

    result = await run(ValidateRegistrationForm(), state)

    assert result.events == [slot("account_number", None)]
    assert result.messages == []
    assert register.failures() == 0


# --- the meter number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["222222", " 222 222 ", "№ 222222", "№222 222", "No. 222222", "лічильник 222222"]
)
async def test_matching_pair_sets_the_meter(demo: dict[str, str], register: Register, typed: str) -> None:
    result = await run(ValidateRegistrationForm(), meter_turn(typed))

    assert result.events == [slot("meter_number", "222222"), slot("registered_meter_id", demo["222222"])]
    assert result.messages == []
    assert register.failures() == 0
    assert register.enrolled("222222") == []  # only action_register_meter registers


@pytest.mark.parametrize("typed", ["12#34", "222!", "лічильник", "<b>1</b>", "x" * 33, "12_34"])
async def test_meter_number_with_invalid_characters(
    demo: dict[str, str], register: Register, typed: str
) -> None:
    result = await run(ValidateRegistrationForm(), meter_turn(typed))

    assert result.events == [slot("meter_number", None)]
    assert result.messages == [
        message(
            "Номер приладу обліку складається з цифр (іноді з літерами), як у квитанції. Введіть його ще раз."
        )
    ]
    assert register.failures() == 0


async def test_meter_not_on_that_account_names_both_numbers(demo: dict[str, str], register: Register) -> None:
    # 333333 exists, but on account 23456.
    result = await run(ValidateRegistrationForm(), meter_turn("№ 333333"))

    assert result.events == [slot("meter_number", None), slot("registration_failures", 1.0)]
    assert result.messages == [
        message(
            "За особовим рахунком 12345 немає приладу обліку № 333333. "
            "Перевірте номер у квитанції та введіть його ще раз."
        )
    ]
    assert result.messages == [
        said("utter_meter_not_on_account", account_number="12345", meter_number="333333")
    ]
    assert register.failures() == 1


async def test_failure_messages_reveal_no_personal_data(demo: dict[str, str], register: Register) -> None:
    results = [
        await run(ValidateRegistrationForm(), account_turn("99999")),
        await run(ValidateRegistrationForm(), account_turn("1234")),
        await run(ValidateRegistrationForm(), account_turn("abc")),
        await run(ValidateRegistrationForm(), meter_turn("333333")),  # a real meter, another account
        await run(ValidateRegistrationForm(), meter_turn("444444", account="23456")),
        await run(ValidateRegistrationForm(), meter_turn("12#34")),
    ]
    failed = await run(ActionRegisterMeter(), tracker(slots={"registration_failures": 3.0}))
    blocked = await run(
        ActionRegisterMeter(),
        tracker(slots={"registration_blocked": True, "registration_retry_minutes": "5"}),
    )

    said_anything = texts([m for r in [*results, failed, blocked] for m in r.messages])
    assert said_anything
    for word in PERSONAL:
        assert word not in said_anything


# --- failures in a row end the form --------------------------------------------------------------


async def test_three_failures_in_a_row_end_the_form(demo: dict[str, str], register: Register) -> None:
    first = await run(ValidateRegistrationForm(), account_turn("99999", failures=0.0))
    second = await run(ValidateRegistrationForm(), meter_turn("999999", failures=1.0))
    third = await run(ValidateRegistrationForm(), account_turn("88888", failures=2.0))

    assert first.events == [slot("account_number", None), slot("registration_failures", 1.0)]
    assert first.messages == [said("utter_account_unknown", account_number="99999")]
    assert second.events == [slot("meter_number", None), slot("registration_failures", 2.0)]
    assert second.messages == [
        said("utter_meter_not_on_account", account_number="12345", meter_number="999999")
    ]
    # The third: no "enter it again"; the form ends and action_register_meter explains.
    assert third.events == [
        slot("account_number", None),
        slot("registration_failures", 3.0),
        slot("requested_slot", None),
    ]
    assert third.messages == []
    assert register.failures() == 3


async def test_the_limit_of_failures_in_a_row_is_configurable(
    demo: dict[str, str], register: Register, configure: Configure
) -> None:
    configure(failures_in_a_row=2)

    result = await run(ValidateRegistrationForm(), account_turn("99999", failures=1.0))

    assert result.events == [
        slot("account_number", None),
        slot("registration_failures", 2.0),
        slot("requested_slot", None),
    ]
    assert result.messages == []


async def test_a_blocked_form_validates_nothing_and_ends(demo: dict[str, str], register: Register) -> None:
    result = await run(ValidateRegistrationForm(), account_turn("12345", registration_blocked=True))

    assert result.events == [slot("requested_slot", None)]
    assert result.messages == []


async def test_a_good_answer_after_failures_keeps_the_count(demo: dict[str, str], register: Register) -> None:
    result = await run(ValidateRegistrationForm(), account_turn("12345", failures=2.0))

    assert result.events == [slot("account_number", "12345")]
    assert result.messages == []


# --- the hourly limits ---------------------------------------------------------------------------


async def test_start_registration_open(demo: dict[str, str], register: Register) -> None:
    result = await run(ActionStartRegistration(), tracker(intent="register_meter", text="/register_meter"))

    assert result.events == [*REGISTRATION_RESET, slot("registration_blocked", False)]
    assert result.messages == []


async def test_ten_failures_in_an_hour_block_the_subscriber(demo: dict[str, str], register: Register) -> None:
    register.fail(*minutes_ago(41, 42, 43, 44, 45, 46, 47, 48, 49, 50))

    result = await run(ActionStartRegistration(), tracker(intent="register_meter"))

    # The oldest of the ten leaves the hour 10 minutes from now.
    assert result.events == [
        *REGISTRATION_RESET,
        slot("registration_retry_minutes", "10"),
        slot("registration_blocked", True),
    ]
    assert result.messages == []


async def test_retry_minutes_round_up(demo: dict[str, str], register: Register, clock: Clock) -> None:
    register.fail(*minutes_ago(*range(1, 11)))
    clock.moment = NOW + dt.timedelta(seconds=1)

    result = await run(ActionStartRegistration(), tracker(intent="register_meter"))

    # 50 minutes minus a second: 50, never 49.
    assert result.events[-2:] == [
        slot("registration_retry_minutes", "50"),
        slot("registration_blocked", True),
    ]


@pytest.mark.parametrize("older", [60, 61, 600])
async def test_a_failure_older_than_an_hour_does_not_count(
    demo: dict[str, str], register: Register, older: float
) -> None:
    register.fail(*minutes_ago(1, 2, 3, 4, 5, 6, 7, 8, 9, older))

    result = await run(ActionStartRegistration(), tracker(intent="register_meter"))

    assert result.events == [*REGISTRATION_RESET, slot("registration_blocked", False)]


async def test_other_subscribers_failures_do_not_block_me(demo: dict[str, str], register: Register) -> None:
    register.fail(*minutes_ago(*range(1, 11)), who=Identity("rest", "someone-else"))

    result = await run(ActionStartRegistration(), tracker(intent="register_meter"))

    assert result.events == [*REGISTRATION_RESET, slot("registration_blocked", False)]


async def test_the_tenth_failure_in_the_form_blocks(demo: dict[str, str], register: Register) -> None:
    register.fail(*minutes_ago(42, 43, 44, 45, 46, 47, 48, 49, 50))

    result = await run(ValidateRegistrationForm(), account_turn("99999"))

    assert result.events == [
        slot("account_number", None),
        slot("registration_failures", 1.0),
        slot("registration_blocked", True),
        slot("registration_retry_minutes", "10"),
        slot("requested_slot", None),
    ]
    assert result.messages == []  # action_register_meter says why
    assert register.failures() == 10


async def test_the_tenth_failure_on_a_meter_number_blocks(demo: dict[str, str], register: Register) -> None:
    register.fail(*minutes_ago(2, 3, 4, 5, 6, 7, 8, 9, 30))

    result = await run(ValidateRegistrationForm(), meter_turn("333333"))

    assert result.events == [
        slot("meter_number", None),
        slot("registration_failures", 1.0),
        slot("registration_blocked", True),
        slot("registration_retry_minutes", "30"),
        slot("requested_slot", None),
    ]
    assert result.messages == []


async def test_global_limit_blocks_everyone_for_a_pause(
    demo: dict[str, str], register: Register, configure: Configure
) -> None:
    configure(global_failures_per_hour=3)
    register.fail(*minutes_ago(5, 10), who=Identity("rest", "guesser-1"))
    register.fail(*minutes_ago(59), who=Identity("viber", "guesser-2"))

    result = await run(ActionStartRegistration(), tracker(intent="register_meter"))

    assert result.events == [
        *REGISTRATION_RESET,
        slot("registration_retry_minutes", "15"),
        slot("registration_blocked", True),
    ]


async def test_global_limit_ignores_failures_older_than_an_hour(
    demo: dict[str, str], register: Register, configure: Configure
) -> None:
    configure(global_failures_per_hour=3)
    register.fail(*minutes_ago(5, 10), who=Identity("rest", "guesser-1"))
    register.fail(*minutes_ago(61), who=Identity("viber", "guesser-2"))

    result = await run(ActionStartRegistration(), tracker(intent="register_meter"))

    assert result.events == [*REGISTRATION_RESET, slot("registration_blocked", False)]


async def test_global_limit_reached_in_the_form(
    demo: dict[str, str], register: Register, configure: Configure
) -> None:
    configure(global_failures_per_hour=3)
    register.fail(*minutes_ago(5, 10), who=Identity("rest", "guesser-1"))

    result = await run(ValidateRegistrationForm(), account_turn("99999"))

    assert result.events == [
        slot("account_number", None),
        slot("registration_failures", 1.0),
        slot("registration_blocked", True),
        slot("registration_retry_minutes", "15"),
        slot("requested_slot", None),
    ]
    assert result.messages == []


# --- action_register_meter -----------------------------------------------------------------------


def registration_done(meter_id: str | None, **slots: Any) -> Tracker:
    return tracker(
        text="222222",
        slots={"account_number": "12345", "meter_number": "222222", "registered_meter_id": meter_id, **slots},
        latest_action="registration_form",
    )


async def test_register_a_new_meter(demo: dict[str, str], register: Register) -> None:
    result = await run(ActionRegisterMeter(), registration_done(demo["222222"]))

    assert result.events == REGISTRATION_END
    assert result.messages == [
        message(
            "Знайдено: лічильник гарячої води № 222222, особовий рахунок 12345, "
            "адреса: м. Чернігів, вул. Ш*******, 1*, кв. *."
        ),
        uttered("utter_registered"),
        uttered("utter_add_another_meter"),
    ]
    assert register.enrolled("222222") == [("rest", "tester")]


async def test_register_a_heat_meter(demo: dict[str, str], register: Register) -> None:
    result = await run(ActionRegisterMeter(), registration_done(demo["444444"]))

    assert result.messages[0] == said(
        "utter_meter_found",
        kind="тепла",
        meter_number="444444",
        account_number="34567",
        address="м. Чернігів, вул. Р********, *, кв. *",
    )


async def test_register_an_already_registered_meter(demo: dict[str, str], register: Register) -> None:
    register.subscribe("222222")

    result = await run(ActionRegisterMeter(), registration_done(demo["222222"]))

    assert result.events == REGISTRATION_END
    assert result.messages == [
        said(
            "utter_meter_found",
            kind="гарячої води",
            meter_number="222222",
            account_number="12345",
            address="м. Чернігів, вул. Ш*******, 1*, кв. *",
        ),
        uttered("utter_meter_already_registered"),
        uttered("utter_add_another_meter"),
    ]
    assert register.enrolled("222222") == [("rest", "tester")]


async def test_registration_blocked_ending(demo: dict[str, str], register: Register) -> None:
    result = await run(
        ActionRegisterMeter(),
        registration_done(None, registration_blocked=True, registration_retry_minutes="12"),
    )

    assert result.events == REGISTRATION_END
    assert result.messages == [
        message(
            "Забагато невдалих спроб реєстрації. З міркувань безпеки спробуйте знову через 12 хв "
            "або зателефонуйте: (0 800) 407-707 (безкоштовно), колцентр 0 800-50-50-51.",
            MENU,
        )
    ]


async def test_registration_blocked_wins_over_a_matched_meter(
    demo: dict[str, str], register: Register
) -> None:
    result = await run(ActionRegisterMeter(), registration_done(demo["222222"], registration_blocked=True))

    assert result.messages == [said("utter_registration_blocked", registration_retry_minutes="60")]
    assert register.enrolled("222222") == []


async def test_registration_failed_ending(demo: dict[str, str], register: Register) -> None:
    result = await run(ActionRegisterMeter(), registration_done(None, registration_failures=3.0))

    assert result.events == REGISTRATION_END
    assert result.messages == [uttered("utter_registration_failed")]
    assert register.enrolled("222222") == []


async def test_one_meter_registered_by_two_subscribers(demo: dict[str, str], register: Register) -> None:
    mine = await run(ActionRegisterMeter(), registration_done(demo["222222"]))
    theirs = await run(
        ActionRegisterMeter(),
        tracker(sender="viber:abc", channel="viber", slots={"registered_meter_id": demo["222222"]}),
    )

    assert mine.messages[1] == uttered("utter_registered")
    assert theirs.messages[1] == uttered("utter_registered")
    assert register.enrolled("222222") == [("rest", "tester"), ("viber", "abc")]


async def test_two_meters_of_two_accounts_for_one_subscriber(
    demo: dict[str, str], register: Register
) -> None:
    first = await run(ActionRegisterMeter(), registration_done(demo["222222"]))
    second = await run(ActionRegisterMeter(), registration_done(demo["333333"]))

    assert first.messages[1] == second.messages[1] == uttered("utter_registered")
    assert second.messages[0] == said(
        "utter_meter_found",
        kind="гарячої води",
        meter_number="333333",
        account_number="23456",
        address="м. Чернігів, просп. П*******, 4*, кв. 1*",
    )
    assert register.enrolled("222222") == register.enrolled("333333") == [("rest", "tester")]


async def test_viber_sender_is_its_channel_identity(demo: dict[str, str], register: Register) -> None:
    await run(
        ActionRegisterMeter(),
        tracker(sender="viber:abc", channel="viber", slots={"registered_meter_id": demo["111111"]}),
    )
    # A REST sender that merely calls itself "viber:..." is a REST subscriber.
    await run(
        ActionRegisterMeter(),
        tracker(sender="viber:abc", channel="rest", slots={"registered_meter_id": demo["111111"]}),
    )

    assert register.enrolled("111111") == [("viber", "abc"), ("rest", "viber:abc")]
