"""The action server is down (killed): every turn that needs it gets a short apology and the menu,
an active form ends, nothing is half-saved, and once it is back the same flow works from the start.

The Rasa side of this is custom_components/patches/action_failures.py; without it Rasa 3.6 logs the
exception, drops the action's events and carries on predicting (silence, or the form asking again).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import APOLOGY, MENU, Stack, keyboard
from tests.support.viber import texts, viber_user


@pytest.fixture
def stack(production_stack: Stack) -> Iterator[Stack]:
    production_stack.ensure_running()
    yield production_stack
    production_stack.ensure_running()


def assert_apology(sent: list[dict[str, object]]) -> None:
    """One message: the apology, with the menu as its keyboard."""
    assert len(sent) == 1, texts(sent)
    assert texts(sent)[0].startswith(APOLOGY)
    assert keyboard(sent) == MENU


def test_registration_interrupted_by_the_action_server_going_down(stack: Stack) -> None:
    user = viber_user()
    assert texts(stack.send(user, "Додати лічильник"))[-1].startswith("Наберіть п’ятизначний номер")
    stack.kill_actions()

    assert_apology(stack.send(user, "12345"))
    assert stack.active_loop(user) is None
    # The form is over: a number is now out of context, and telling what it is needs the actions.
    assert_apology(stack.send(user, "222222"))
    assert stack.active_loop(user) is None
    assert stack.meters(user) == []

    stack.start_actions()
    assert stack.say(user, "Додати лічильник")[-1].startswith("Наберіть п’ятизначний номер")
    assert stack.say(user, "12345")[-1].startswith("Зазначте номер вашого приладу обліку")
    assert "Тепер Ви зареєстровані!" in stack.say(user, "222222")
    assert stack.meters(user) == ["222222"]


def test_reading_interrupted_by_the_action_server_going_down(stack: Stack) -> None:
    user = viber_user()
    stack.register(user, "23456", "333333")
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    stack.kill_actions()

    assert_apology(stack.send(user, "45.10"))
    assert stack.active_loop(user) is None
    assert stack.readings(user) == []

    stack.start_actions()
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    assert stack.say(user, "45.10")[0] == "Прийнято 45.10 до обробки. Дякуємо"
    assert stack.readings(user) == ["45.10"]


def test_every_turn_that_needs_the_action_server_gets_the_apology(stack: Stack) -> None:
    stack.kill_actions()
    for words in ["Привіт", *MENU[:4], "/submit_reading", "/register_meter"]:
        user = viber_user()
        sent = stack.send(user, words)
        assert len(sent) == 1 and texts(sent)[0].startswith(APOLOGY), (words, texts(sent))
        assert keyboard(sent) == MENU, words
        assert stack.active_loop(user) is None, words


def test_the_contacts_need_no_action_server(stack: Stack) -> None:
    user = viber_user()
    stack.kill_actions()
    assert "0 800-50-50-51" in stack.say(user, "Контакти")[0]
