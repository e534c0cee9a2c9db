"""The Rasa server is SIGKILLed between two turns of a half-finished flow and started again.

Production profile (PostgreSQL tracker store): the subscriber continues exactly where they were.
Embedded default (in-memory tracker store): the conversation is forgotten; the next message is
answered as a fresh conversation would answer it (a number out of context gets the explanation
and the menu), nothing half-done reaches the register, and the flow works again from the start.
"""

from __future__ import annotations

from typing import Any

from tests.support.stack import MENU, Stack, keyboard
from tests.support.viber import texts, viber_user


def halfway(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    """One subscriber after the account number, one with the meter chosen and the value not sent."""
    registering, reading = viber_user(), viber_user()
    stack.say(registering, "Додати лічильник")
    assert stack.say(registering, "12345")[-1].startswith("Зазначте номер вашого приладу обліку")
    stack.register(reading, "23456", "333333")
    assert "в форматі ХХХ.ХХ" in stack.say(reading, "Передати показання")[-1]
    return registering, reading


def restart(stack: Stack) -> None:
    stack.kill_rasa()
    stack.start_rasa()


def test_production_profile_continues_where_the_subscriber_was(production_stack: Stack) -> None:
    registering, reading = halfway(production_stack)
    restart(production_stack)

    assert "Тепер Ви зареєстровані!" in production_stack.say(registering, "222222")
    assert production_stack.meters(registering) == ["222222"]
    assert production_stack.say(reading, "45.10")[0] == "Прийнято 45.10 до обробки. Дякуємо"
    assert production_stack.readings(reading) == ["45.10"]


def test_embedded_default_forgets_the_conversation_but_not_the_register(embedded_stack: Stack) -> None:
    registering, reading = halfway(embedded_stack)
    restart(embedded_stack)

    # The meter number typed halfway through registration is a number out of context now.
    answer = embedded_stack.send(registering, "222222")
    assert texts(answer) == [
        "Бачу число, але не знаю, що це. Щоб передати показання, натисніть «Передати показання»; "
        "щоб зареєструвати лічильник, натисніть «Додати лічильник»."
    ]
    assert keyboard(answer) == MENU
    assert embedded_stack.meters(registering) == []
    assert embedded_stack.meters(reading) == ["333333"]  # registered before the restart: kept
    # A reading with no form going on is the reading of the subscriber's only meter.
    assert texts(embedded_stack.send(reading, "45.10"))[0] == "Прийнято 45.10 до обробки. Дякуємо"
    assert embedded_stack.readings(reading) == ["45.10"]

    # Both flows work again from the start.
    embedded_stack.register(registering, "12345", "222222")
    assert embedded_stack.meters(registering) == ["222222"]
    assert "в форматі ХХХ.ХХ" in embedded_stack.say(reading, "Передати показання")[-1]
    assert embedded_stack.say(reading, "45.10")[0] == "Прийнято 45.10 до обробки. Дякуємо"
    assert embedded_stack.readings(reading) == ["45.10", "45.10"]  # the second supersedes the first
