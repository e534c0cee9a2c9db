"""Viber delivers callbacks at least once and its API can refuse a send.

A callback retried after the sender gave up waiting, or delivered twice at the same moment, is
processed once: one reading, one confirmation; a copy that arrives while the first is being
handled gets 503 (Viber retries it, and the retry is acknowledged once the first has finished). A send that Viber refuses (a status such as 6
"receiver not subscribed", or an HTTP error) is logged by the Rasa server with that status, and
the reading, saved before the answer is sent, is in the register.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fake_viber import Call
from tests.support.stack import Stack, wait_for
from tests.support.viber import message, viber_user

ACCEPTED = "Прийнято 45.10 до обробки. Дякуємо"
MENU_PROMPT = "Оберіть, що бажаєте зробити:"


@pytest.fixture
def stack(production_stack: Stack) -> Iterator[Stack]:
    production_stack.ensure_running()
    yield production_stack
    production_stack.viber_api.on_call = None


def ready_to_send_a_reading(stack: Stack) -> dict[str, Any]:
    user = viber_user()
    stack.register(user, "23456", "333333")
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    return user


def assert_answered_once(sent: list[str]) -> None:
    """The answer to one reading: the confirmation first, the menu last, nothing twice (a copy
    processed as a second message would add "Бачу число…", a number out of context)."""
    assert sent[0] == ACCEPTED and sent[-1] == MENU_PROMPT, sent
    assert sent.count(ACCEPTED) == 1 and sent.count(MENU_PROMPT) == 1, sent
    assert not any(text.startswith("Бачу число") for text in sent), sent


def test_a_callback_retried_after_the_sender_gave_up_is_processed_once(stack: Stack) -> None:
    user = ready_to_send_a_reading(stack)
    before = len(stack.viber_api.sent_to(user["id"]))
    confirming, release = threading.Event(), threading.Event()

    def hold_the_confirmation(call: Call) -> None:
        if call.body.get("receiver") == user["id"] and call.body.get("text") == ACCEPTED:
            confirming.set()
            release.wait(60)

    stack.viber_api.on_call = hold_the_confirmation
    callback = message(user, "45.10")
    try:
        # Viber gives up waiting for the answer (here: the reply is held at the Viber API)...
        with pytest.raises(httpx.TimeoutException):
            stack.callback(callback, timeout=1)
        wait_for(confirming.is_set, "the first delivery to reach its confirmation")
        # ...and delivers the same callback again while the first is still being handled: it is
        # told to come back (not acknowledged, in case the first delivery's process dies).
        assert stack.callback(callback).status_code == 503
    finally:
        release.set()
    wait_for(lambda: MENU_PROMPT in stack.viber_api.texts_to(user["id"])[before:], "the first to finish")
    assert stack.callback(callback).status_code == 200  # once more, after it finished: acknowledged

    assert stack.readings(user) == ["45.10"]
    assert_answered_once(stack.viber_api.texts_to(user["id"])[before:])


def test_a_callback_delivered_twice_at_the_same_moment_is_processed_once(stack: Stack) -> None:
    user = ready_to_send_a_reading(stack)
    before = len(stack.viber_api.sent_to(user["id"]))
    callback = message(user, "45.10")
    gate = threading.Barrier(2)
    answers: list[int] = []

    def deliver() -> None:
        gate.wait()
        answers.append(stack.callback(callback).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # One is handled; the other, arriving while it was, is told to come back and then acknowledged.
    assert sorted(answers) == [200, 503]
    wait_for(lambda: MENU_PROMPT in stack.viber_api.texts_to(user["id"])[before:], "the answer")
    assert stack.callback(callback).status_code == 200

    assert stack.readings(user) == ["45.10"]
    assert_answered_once(stack.viber_api.texts_to(user["id"])[before:])


@pytest.mark.parametrize(
    ("failure", "logged"),
    [
        ({"statuses": 6}, "viber send_message: status 6 (receiver not subscribed)"),
        ({"http_errors": 500}, "viber send_message: HTTP 500"),
    ],
    ids=["status 6", "HTTP 500"],
)
def test_a_send_viber_refuses_is_logged_and_the_reading_is_kept(
    stack: Stack, failure: dict[str, int], logged: str
) -> None:
    user = ready_to_send_a_reading(stack)
    [(switch, status)] = failure.items()
    failures: dict[str, int] = getattr(stack.viber_api, switch)
    failures[user["id"]] = status
    try:
        assert stack.callback(message(user, "45.10")).status_code == 200
    finally:
        failures.pop(user["id"])
    assert stack.readings(user) == ["45.10"]
    wait_for(lambda: logged in stack.rasa_log_text(), f"{logged!r} in the Rasa server's log")
    # The conversation goes on normally once Viber takes messages again.
    assert "45.10" in stack.say(user, "Історія показань")[0]
