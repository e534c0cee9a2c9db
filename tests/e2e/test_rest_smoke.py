"""The minimal assistant through the REST channel, with the real Rasa server and action server."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from actions.register.models import Subscriber
from tests.support.servers import Servers

CONTACT_NUMBERS = ("(0 800) 407-707", "0 800-50-50-51", "(0462) 622-973, 622-963", "office.otke@ukr.net")


def texts(messages: list[dict[str, object]]) -> str:
    return "\n".join(str(message.get("text", "")) for message in messages)


def test_greeting_shows_the_menu_and_remembers_the_subscriber(servers: Servers) -> None:
    sender = f"smoke-{uuid.uuid4().hex[:8]}"
    messages = servers.say(sender, "Добрий день", name="Олена", language="uk")

    assert texts(messages).startswith("Вітаємо! Це офіційний чат-бот АТ «ОТКЕ»")
    assert [b["title"] for m in messages for b in m.get("buttons", [])] == [
        "Передати показання",
        "Додати лічильник",
        "Мої лічильники",
        "Історія показань",
        "Контакти",
    ]
    with servers.engine.connect() as connection:
        row = connection.execute(
            select(Subscriber.channel, Subscriber.display_name, Subscriber.language).where(
                Subscriber.channel_user_id == sender
            )
        ).one()
    assert tuple(row) == ("rest", "Олена", "uk")


def test_contacts_button_payload_and_typed_question_give_the_numbers(servers: Servers) -> None:
    for text in ("/contacts", "Куди дзвонити?"):
        reply = texts(servers.say("smoke-contacts", text))
        for number in CONTACT_NUMBERS:
            assert number in reply, (text, number)


def test_what_it_cannot_handle_gets_an_answer_never_silence(servers: Servers) -> None:
    for text in ("фівапролд", "яка завтра погода?"):
        messages = servers.say("smoke-fallback", text)
        assert messages, text
        assert "0 800-50-50-51" in texts(messages) or "не зрозумів" in texts(messages)
        assert any(b["payload"] == "/contacts" for m in messages for b in m.get("buttons", []))


def test_a_rest_sender_cannot_pose_as_a_viber_subscriber(servers: Servers) -> None:
    sender = f"viber:{uuid.uuid4().hex[:8]}"
    servers.say(sender, "Привіт")
    with servers.engine.connect() as connection:
        rows = connection.execute(
            select(Subscriber.channel, Subscriber.channel_user_id).where(
                Subscriber.channel_user_id.like(f"%{sender.split(':')[1]}")
            )
        ).all()
    assert [tuple(r) for r in rows] == [("rest", sender)]
