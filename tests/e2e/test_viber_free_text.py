"""What subscribers type instead of following the menu, through the Viber webhook: a reading with
its unit, a meter named by its kind, an account and a meter in one message. Each test is a new
Viber user on the session's servers; the replies are checked against domain.yml's texts and the
register against what must (or must not) have been saved."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from actions.register.models import Meter, Reading, Subscriber, subscriber_meters
from actions.texts import response
from tests.support.chats import Reply, ViberChat
from tests.support.moments import PERIOD
from tests.support.servers import Servers

ADDRESS_WORDS = ("вул.", "просп.")


def said(name: str, **values: str) -> str:
    """A response of domain.yml as the subscriber reads it."""
    return str(response(name)["text"]).format(**values)


def accepted(value: str) -> str:
    return said("utter_reading_accepted", value=value)


def lines(replies: list[Reply]) -> list[str]:
    return [reply.text for reply in replies]


def enrolled(servers: Servers, chat: ViberChat) -> list[str]:
    """The numbers of the meters the register has for this Viber user."""
    with servers.engine.connect() as connection:
        return list(
            connection.scalars(
                select(Meter.number)
                .join(subscriber_meters, subscriber_meters.c.meter_id == Meter.id)
                .join(Subscriber, Subscriber.id == subscriber_meters.c.subscriber_id)
                .where(Subscriber.channel == "viber", Subscriber.channel_user_id == chat.user_id)
                .order_by(Meter.number)
            )
        )


def saved(servers: Servers, chat: ViberChat) -> list[tuple[str, str]]:
    """(meter number, value) of every reading this Viber user gave in the test period, in order."""
    with servers.engine.connect() as connection:
        rows = connection.execute(
            select(Meter.number, Reading.value)
            .join(Reading.meter)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(
                Subscriber.channel == "viber",
                Subscriber.channel_user_id == chat.user_id,
                Reading.period == PERIOD,
            )
            .order_by(Reading.id)
        ).all()
    return [(number, str(value)) for number, value in rows]


# What the menu's buttons send back (their ActionBody), as in the seed scenario.
ADD_METER = "/register_meter"
SEND_READING = "/submit_reading"


def register(chat: ViberChat, account: str, meter: str) -> None:
    """Through the menu, as the seed scenario does."""
    chat.say(ADD_METER)
    chat.say(account)
    assert said("utter_registered") in lines(chat.say(meter)), (account, meter)


def subscriber(servers: Servers, *meters: tuple[str, str]) -> ViberChat:
    chat = ViberChat(servers)
    for account, meter in meters:
        register(chat, account, meter)
    return chat


# --- readings ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["показання 45,50 м3", "45,5 куб.м", "45.50м³"])
def test_a_value_with_its_unit_in_the_reading_form_is_the_reading(servers: Servers, typed: str) -> None:
    chat = subscriber(servers, ("23456", "333333"))
    assert lines(chat.say(SEND_READING))[-1] == said("utter_ask_reading_value")

    answer = lines(chat.say(typed))

    assert answer[0] == accepted("45.50"), answer
    assert saved(servers, chat) == [("333333", "45.50")]


def test_a_value_with_its_unit_outside_any_form_goes_to_the_only_meter(servers: Servers) -> None:
    chat = subscriber(servers, ("23456", "333333"))

    answer = lines(chat.say("42,10 м3"))

    assert answer[0] == accepted("42.10"), answer
    assert saved(servers, chat) == [("333333", "42.10")]


def test_the_kind_names_the_meter(servers: Servers) -> None:
    chat = subscriber(servers, ("12345", "111111"), ("12345", "222222"))

    heat = lines(chat.say("опалення 477,00"))
    assert heat[0] == accepted("477.00"), heat
    assert saved(servers, chat) == [("111111", "477.00")]

    hot_water = lines(chat.say("ГВП 128,30"))
    assert hot_water[0] == accepted("128.30"), hot_water
    assert saved(servers, chat) == [("111111", "477.00"), ("222222", "128.30")]


def test_two_readings_in_one_message(servers: Servers) -> None:
    chat = subscriber(servers, ("12345", "111111"), ("12345", "222222"))

    answer = lines(chat.say("гаряча 128,00 тепло 477,00"))

    assert accepted("128.00") in answer, answer
    assert accepted("477.00") in answer, answer
    assert sorted(saved(servers, chat)) == [("111111", "477.00"), ("222222", "128.00")]


def test_two_meters_of_the_kind_ask_which_then_save_the_value_given(servers: Servers) -> None:
    address = "м. Чернігів, вул. Доценка, 3, кв. 8"
    servers.add_meter("61234", address, "612341", "hot_water", "60.00")
    servers.add_meter("61234", address, "612342", "hot_water", "125.00")
    chat = subscriber(servers, ("61234", "612341"), ("61234", "612342"))

    asked = chat.say("ГВП 128,30")
    choices = {title: payload for reply in asked for title, payload in reply.buttons.items()}
    assert [title for title in choices if "№612341" in title], asked
    assert [title for title in choices if "№612342" in title], asked
    assert not any(line.startswith("Прийнято") for line in lines(asked)), asked
    assert saved(servers, chat) == []

    chosen = next(payload for title, payload in choices.items() if "№612342" in title)
    answer = lines(chat.say(chosen))

    assert accepted("128.30") in answer, answer
    assert said("utter_ask_reading_value") not in answer, answer
    assert saved(servers, chat) == [("612342", "128.30")]


# --- registration -----------------------------------------------------------------------


def test_an_account_in_the_request_asks_only_for_the_meter(servers: Servers) -> None:
    chat = ViberChat(servers)

    asked = lines(chat.say("зареєструйте мій лічильник, о/р 23456"))
    assert asked[-1] == said("utter_ask_meter_number"), asked
    assert said("utter_ask_account_number") not in asked, asked

    assert said("utter_registered") in lines(chat.say("333333"))
    assert enrolled(servers, chat) == ["333333"]


@pytest.mark.parametrize(
    "typed", ["о/р 23456, лічильник 333333", "23456\n333333", "рахунок 23456 лічильник 333333"]
)
def test_account_and_meter_in_one_message_register_at_once(servers: Servers, typed: str) -> None:
    chat = ViberChat(servers)
    assert lines(chat.say(ADD_METER))[-1] == said("utter_ask_account_number")

    answer = lines(chat.say(typed))

    assert said("utter_registered") in answer, answer
    assert said("utter_ask_meter_number") not in answer, answer
    assert enrolled(servers, chat) == ["333333"]


# --- nothing loosens ----------------------------------------------------------------------


def shows_no_address(replies: list[str]) -> bool:
    return not any(word in line for line in replies for word in ADDRESS_WORDS)


def test_an_unknown_account_in_the_request_registers_nothing(servers: Servers) -> None:
    chat = ViberChat(servers)

    replies = lines(chat.say("зареєструйте лічильник, о/р 99999"))
    replies += lines(chat.say("333333"))

    assert said("utter_registered") not in replies, replies
    assert shows_no_address(replies), replies
    assert enrolled(servers, chat) == []


def test_a_meter_of_another_account_registers_nothing(servers: Servers) -> None:
    chat = ViberChat(servers)
    chat.say(ADD_METER)

    replies = lines(chat.say("о/р 23456, лічильник 111111"))

    assert said("utter_registered") not in replies, replies
    assert shows_no_address(replies), replies
    assert enrolled(servers, chat) == []


def test_a_kind_the_subscriber_has_no_meter_of_saves_nothing_and_says_so(servers: Servers) -> None:
    chat = subscriber(servers, ("23456", "333333"))

    answer = chat.say("опалення 477,00")
    replies = lines(answer)

    assert not any(line.startswith("Прийнято") for line in replies), replies
    # said plainly: no heat meter here (not a question about the hot-water one)
    assert any(
        re.search(r"тепл|опален", line, re.IGNORECASE) and re.search(r"нема|не зареєстр", line, re.IGNORECASE)
        for line in replies
    ), replies
    assert not any("Так" in reply.buttons for reply in answer), replies
    assert saved(servers, chat) == []


@pytest.mark.parametrize("typed", ["опалення 1e9", "ГВП -5,00", "тепло 99999999,99"])
def test_a_hostile_value_after_a_kind_saves_nothing(servers: Servers, typed: str) -> None:
    chat = subscriber(servers, ("12345", "111111"), ("12345", "222222"))

    replies = lines(chat.say(typed))

    assert not any(line.startswith("Прийнято") for line in replies), replies
    assert saved(servers, chat) == []
