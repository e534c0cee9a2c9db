"""The Viber channel driven exactly as Viber drives it: signed callbacks into the real Rasa server,
replies recorded by a fake Viber API, the real action server and PostgreSQL behind."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select
from viberbot.api.messages import TextMessage

from actions.register.models import Meter, Reading, Subscriber
from custom_channels.viber_api import signature
from tests.support.paths import OUTPUT
from tests.support.servers import VIBER_TOKEN, Servers
from tests.support.viber import keyboard_of, message, say, texts, token, viber_user


def test_the_seed_scenario_through_the_viber_webhook(servers: Servers) -> None:
    user = viber_user()

    # Opening the chat: the welcome comes back in the HTTP response, with the start button.
    opened = servers.viber(
        {
            "event": "conversation_started",
            "timestamp": int(time.time() * 1000),
            "message_token": token(),
            "type": "open",
            "context": "",
            "user": user,
            "subscribed": False,
        }
    )
    assert opened.status_code == 200
    welcome = opened.json()
    assert welcome["type"] == "text"
    assert welcome["sender"] == {"name": "АТ «ОТКЕ»"}
    assert welcome["text"].startswith("Вітаємо в паблік-акаунті АТ «ОТКЕ»!")
    assert [(b["Text"], b["ActionBody"]) for b in welcome["keyboard"]["Buttons"]] == [("Розпочати", "/greet")]
    assert "receiver" not in welcome
    assert servers.viber_api.sent_to(user["id"]) == []  # nothing may be sent before the user writes

    menu = keyboard_of(say(servers, user, "/greet"))
    assert list(menu) == [
        "Передати показання",
        "Додати лічильник",
        "Мої лічильники",
        "Історія показань",
        "Контакти",
    ]

    asked = say(servers, user, menu["Додати лічильник"])
    assert texts(asked)[-1].startswith("Наберіть п’ятизначний номер вашого особового рахунку")
    assert texts(say(servers, user, "12345"))[-1].startswith("Зазначте номер вашого приладу обліку")
    registered = texts(say(servers, user, "222222"))
    assert "Тепер Ви зареєстровані!" in registered

    # a second meter, so the reading starts with a choice from the keyboard
    say(servers, user, "Додати лічильник")
    say(servers, user, "34567")
    assert "Тепер Ви зареєстровані!" in texts(say(servers, user, "555555"))

    choice = say(servers, user, menu["Передати показання"])
    meters = keyboard_of(choice)
    assert list(meters) == ["Гаряча вода · №222222 · о/р 12345", "Гаряча вода · №555555 · о/р 34567"]
    shown = say(servers, user, meters["Гаряча вода · №222222 · о/р 12345"])
    assert texts(shown)[0] == "Особовий рахунок 12345, лічильник гарячої води № 222222."
    assert texts(shown)[1].startswith("Попередні показання:\n")
    assert "в форматі ХХХ.ХХ" in texts(shown)[-1]

    accepted = texts(say(servers, user, "128.45"))
    assert accepted[0] == "Прийнято 128.45 до обробки. Дякуємо"

    with servers.engine.connect() as connection:
        saved = connection.execute(
            select(Reading.value, Reading.channel, Subscriber.channel_user_id, Reading.message_id)
            .join(Reading.meter)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Meter.number == "222222", Subscriber.channel_user_id == user["id"])
        ).all()
    assert [(str(v), c, u) for v, c, u, _ in saved] == [("128.45", "viber", user["id"])]
    assert saved[0][3] is not None  # the Viber message token of the message that was saved


def test_every_send_carries_the_token_and_matches_the_official_sdk(servers: Servers) -> None:
    user = viber_user()
    say(servers, user, "Привіт")
    calls = [c for c in servers.viber_api.calls if c.body.get("receiver") == user["id"]]
    assert calls and all(c.endpoint == "send_message" and c.token == VIBER_TOKEN for c in calls)
    for call in calls:
        body = dict(call.body)
        assert body.pop("receiver") == user["id"]
        assert body.pop("sender") == {"name": "АТ «ОТКЕ»"}
        # Viber's own SDK builds the same message from the same parts.
        official = TextMessage(text=body["text"], keyboard=body.get("keyboard")).to_dict()
        assert body == official
        assert len(body["text"]) <= 7000
        for button in body.get("keyboard", {}).get("Buttons", []):
            assert 1 <= button["Columns"] <= 6 and button["ActionType"] == "reply" and button["ActionBody"]


def test_signatures_are_checked_before_anything_else(servers: Servers) -> None:
    user = viber_user()
    body = json.dumps(message(user, "Привіт")).encode()
    other = json.dumps(message(user, "Контакти")).encode()

    assert servers.viber_raw(body, signature=None).status_code == 403
    assert servers.viber_raw(body, signature="0" * 64).status_code == 403
    assert servers.viber_raw(body, signature=signature(other, VIBER_TOKEN)).status_code == 403  # replayed
    assert servers.viber_raw(body, signature=signature(body, "another-token")).status_code == 403
    assert servers.viber_raw(body, signature="не-hex ☃".encode()).status_code == 403
    assert servers.viber_api.sent_to(user["id"]) == []
    with servers.engine.connect() as connection:
        assert (
            connection.scalar(select(Subscriber.id).where(Subscriber.channel_user_id == user["id"])) is None
        )
    assert servers.viber_raw(body).status_code == 200
    assert servers.viber_api.sent_to(user["id"])


def test_a_redelivered_callback_is_processed_once(servers: Servers) -> None:
    user = viber_user()
    say(servers, user, "Додати лічильник")
    say(servers, user, "23456")
    say(servers, user, "333333")
    say(servers, user, "Передати показання")
    callback = message(user, "45.10")
    first = servers.viber(callback)
    sent = len(servers.viber_api.sent_to(user["id"]))
    again = servers.viber(callback)
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(servers.viber_api.sent_to(user["id"])) == sent  # nothing new was sent
    with servers.engine.connect() as connection:
        values = connection.scalars(
            select(Reading.value)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Subscriber.channel_user_id == user["id"])
        ).all()
    assert [str(v) for v in values] == ["45.10"]


@pytest.mark.parametrize(
    "kind",
    [
        {"type": "sticker", "sticker_id": 46105},
        {"type": "picture", "media": "https://example.invalid/p.jpg", "text": ""},
        {"type": "location", "location": {"lat": 51.49, "lon": 31.29}},
        {"type": "contact", "contact": {"name": "Іван", "phone_number": "+380501234567"}},
        {"type": "file", "media": "https://example.invalid/f.pdf", "file_name": "f.pdf", "size": 100},
        {"type": "video", "media": "https://example.invalid/v.mp4", "size": 100},
        {"type": "url", "media": "https://example.invalid/"},
    ],
)
def test_non_text_messages_get_a_polite_answer(servers: Servers, kind: dict[str, Any]) -> None:
    user = viber_user()
    callback = message(user, "")
    callback["message"] = kind
    assert servers.viber(callback).status_code == 200
    assert texts(servers.viber_api.sent_to(user["id"])) == [
        "Вибачте, я розумію лише текстові повідомлення. Напишіть, будь ласка, текстом або оберіть пункт меню."
    ]


def test_a_sticker_in_the_middle_of_a_form_leaves_the_form_waiting(servers: Servers) -> None:
    user = viber_user()
    say(servers, user, "Додати лічильник")
    sticker = message(user, "")
    sticker["message"] = {"type": "sticker", "sticker_id": 1}
    before = len(servers.viber_api.sent_to(user["id"]))
    servers.viber(sticker)
    answer = texts(servers.viber_api.sent_to(user["id"])[before:])
    assert answer[0].startswith("Вибачте, я розумію лише текстові повідомлення.")
    assert answer[-1].startswith("Наберіть п’ятизначний номер")
    assert texts(say(servers, user, "12345"))[-1].startswith("Зазначте номер вашого приладу обліку")


def test_subscribed_and_unsubscribed_reach_the_register(servers: Servers) -> None:
    user = viber_user()
    now = int(time.time() * 1000)
    joined = servers.viber({"event": "subscribed", "timestamp": now, "message_token": token(), "user": user})
    assert joined.status_code == 200

    def subscribed() -> bool | None:
        with servers.engine.connect() as connection:
            return connection.scalar(
                select(Subscriber.subscribed).where(
                    Subscriber.channel == "viber", Subscriber.channel_user_id == user["id"]
                )
            )

    assert subscribed() is True
    left = servers.viber(
        {"event": "unsubscribed", "timestamp": now, "message_token": token(), "user_id": user["id"]}
    )
    assert left.status_code == 200
    assert subscribed() is False
    assert servers.viber_api.sent_to(user["id"]) == []  # nothing is sent for these events


@pytest.mark.parametrize(
    "event", ["webhook", "delivered", "seen", "failed", "client_status", "something_new"]
)
def test_other_events_are_acknowledged(servers: Servers, event: str) -> None:
    user = viber_user()
    callback = {"event": event, "timestamp": 1, "message_token": token(), "user_id": user["id"], "desc": "x"}
    assert servers.viber(callback).status_code == 200
    assert servers.viber_api.sent_to(user["id"]) == []


BAD_BODIES = {
    "not JSON": b"{not json",
    "invalid UTF-8": b'{"event": "message", "x": "\xff\xfe"}',
    "a JSON list": b"[1, 2, 3]",
    "a JSON string": b'"message"',
    "no event": b'{"sender": {"id": "a"}}',
    "event of the wrong type": b'{"event": 42}',
    "deeply nested": b'{"event": "message", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "message without sender": json.dumps(
        {"event": "message", "message_token": 1, "message": {"type": "text", "text": "hi"}}
    ).encode(),
    "sender of the wrong type": json.dumps(
        {"event": "message", "message_token": 2, "sender": "abc", "message": {"type": "text", "text": "hi"}}
    ).encode(),
    "sender without id": json.dumps(
        {
            "event": "message",
            "message_token": 3,
            "sender": {"name": "x"},
            "message": {"type": "text", "text": "hi"},
        }
    ).encode(),
    "message of the wrong type": json.dumps(
        {"event": "message", "message_token": 4, "sender": {"id": "a"}, "message": [1]}
    ).encode(),
    "text of the wrong type": json.dumps(
        {
            "event": "message",
            "message_token": 5,
            "sender": {"id": "a"},
            "message": {"type": "text", "text": 5},
        }
    ).encode(),
    "no message token": json.dumps(
        {"event": "message", "sender": {"id": "a"}, "message": {"type": "text", "text": "hi"}}
    ).encode(),
    "unsubscribed without user": json.dumps({"event": "unsubscribed", "message_token": 6}).encode(),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_malformed_callbacks_get_a_4xx_and_change_nothing(servers: Servers, name: str) -> None:
    answer = servers.viber_raw(BAD_BODIES[name])
    assert 400 <= answer.status_code < 500, (name, answer.status_code)
    assert "Traceback" not in answer.text and 'File "' not in answer.text


def test_an_oversized_body_is_refused(servers: Servers) -> None:
    user = viber_user()
    body = json.dumps(message(user, "я" * 20_000)).encode()
    assert len(body) > 30 * 1024
    assert servers.viber_raw(body).status_code == 413
    assert servers.viber_api.sent_to(user["id"]) == []


def test_long_answers_are_split_under_the_limit(servers: Servers) -> None:
    user = viber_user()
    say(servers, user, "Контакти")
    assert all(len(text) <= 7000 for text in texts(servers.viber_api.sent_to(user["id"])))


def test_a_failing_send_is_logged_and_loses_no_reading(servers: Servers) -> None:
    user = viber_user()
    say(servers, user, "Додати лічильник")
    say(servers, user, "23456")
    say(servers, user, "333333")
    say(servers, user, "Передати показання")
    servers.viber_api.statuses[user["id"]] = 6  # receiver not subscribed
    try:
        assert servers.viber(message(user, "46.20")).status_code == 200
    finally:
        servers.viber_api.statuses.pop(user["id"])
    with servers.engine.connect() as connection:
        values = connection.scalars(
            select(Reading.value)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Subscriber.channel_user_id == user["id"])
        ).all()
    assert [str(v) for v in values] == ["46.20"]
    log = (OUTPUT / "rasa-server.log").read_text(encoding="utf-8", errors="replace")
    assert "send_message: status 6 (receiver not subscribed)" in log


def test_the_same_id_on_rest_is_a_different_subscriber(servers: Servers) -> None:
    user = viber_user()
    say(servers, user, "Додати лічильник")
    say(servers, user, "12345")
    say(servers, user, "111111")
    # Someone on the REST channel claims the Viber user's id, with and without the qualifier.
    for claimed in (user["id"], f"viber:{user['id']}"):
        reply = servers.say(claimed, "Мої лічильники")
        assert all("111111" not in str(m.get("text", "")) for m in reply), claimed
