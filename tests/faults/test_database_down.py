"""The register (PostgreSQL) is unreachable for the action server, or restarted under it.

The action server reaches PostgreSQL through a TcpProxy: cut() drops its connections and refuses
new ones, restore() lets them through. While cut, every turn that needs the register gets the
apology and the menu, and no reading is acknowledged that was not committed; once restored, the
next turns work without restarting anything (stale pooled connections are replaced: pool_pre_ping).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.stack import APOLOGY, MENU, Stack, keyboard
from tests.support.viber import texts, viber_user


@pytest.fixture
def stack(production_stack: Stack) -> Iterator[Stack]:
    production_stack.ensure_running()
    yield production_stack
    production_stack.ensure_running()


def assert_apology(sent: list[dict[str, Any]], words: str = "") -> None:
    """One message: the apology, with the menu as its keyboard."""
    assert len(sent) == 1 and texts(sent)[0].startswith(APOLOGY), (words, texts(sent))
    assert keyboard(sent) == MENU, words


def test_every_turn_that_needs_the_register_apologises_while_it_is_cut(stack: Stack) -> None:
    user = viber_user()
    stack.register(user, "23456", "333333")
    stack.proxy.cut()
    for words in ["Додати лічильник", "Передати показання", "Мої лічильники", "Історія показань"]:
        assert_apology(stack.send(user, words), words)
        assert stack.active_loop(user) is None, words
    # A greeting needs no register: it still greets (the subscriber is recorded on the next one).
    assert stack.say(user, "Привіт")[0].startswith("Вітаємо! Це офіційний чат-бот АТ «ОТКЕ»")

    stack.proxy.restore()
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    assert stack.say(user, "45.10")[0] == "Прийнято 45.10 до обробки. Дякуємо"
    assert stack.readings(user) == ["45.10"]


def test_a_cut_in_the_middle_of_each_flow_ends_it_with_the_apology(stack: Stack) -> None:
    registering, reading, removing = viber_user(), viber_user(), viber_user()
    stack.say(registering, "Додати лічильник")
    stack.register(reading, "23456", "333333")
    assert "в форматі ХХХ.ХХ" in stack.say(reading, "Передати показання")[-1]
    stack.register(removing, "12345", "111111")
    stack.say(removing, "Мої лічильники")
    assert stack.say(removing, "Видалити №111111")[-1].startswith("Видалити лічильник")
    stack.proxy.cut()

    for user, words in ((registering, "12345"), (reading, "45.10"), (removing, "Так")):
        assert_apology(stack.send(user, words), words)
        assert stack.active_loop(user) is None, words
    assert stack.meters(registering) == []
    assert stack.readings(reading) == []
    assert stack.meters(removing) == ["111111"]

    stack.proxy.restore()
    stack.register(registering, "12345", "222222")
    assert stack.meters(registering) == ["222222"]
    assert "в форматі ХХХ.ХХ" in stack.say(reading, "Передати показання")[-1]
    assert stack.say(reading, "45.10")[0] == "Прийнято 45.10 до обробки. Дякуємо"
    assert stack.readings(reading) == ["45.10"]


def test_a_cut_just_before_the_reading_commits_acknowledges_nothing(stack: Stack) -> None:
    user = viber_user()
    stack.register(user, "34567", "555555")
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    stack.proxy.cut_on(b"INSERT INTO readings", b"COMMIT")
    sent = stack.send(user, "221.30")
    assert stack.proxy.tripped.is_set()  # the cut did happen at the COMMIT of the reading
    assert_apology(sent)
    assert stack.readings(user) == []

    stack.proxy.restore()
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    assert stack.say(user, "221.30")[0] == "Прийнято 221.30 до обробки. Дякуємо"
    assert stack.readings(user) == ["221.30"]


def test_a_restarted_database_is_used_again_at_once(stack: Stack) -> None:
    """Every pooled connection dies (a PostgreSQL restart) while nobody talks: the next turn works."""
    user = viber_user()
    stack.register(user, "23456", "333333")
    accepted = stack.proxy.accepted
    stack.proxy.cut()
    stack.proxy.restore()
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    assert stack.say(user, "45.10")[0] == "Прийнято 45.10 до обробки. Дякуємо"
    assert stack.readings(user) == ["45.10"]
    assert stack.proxy.accepted > accepted  # new connections replaced the dead ones
