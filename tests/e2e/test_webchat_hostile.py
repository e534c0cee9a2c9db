"""The web chat socket takes anything anyone sends: hostile session requests and messages get a
fresh session or are ignored, never a crash, and the socket keeps working
(custom_channels/webchat.py replaces Rasa's two handlers)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.chats import WebChat
from tests.support.servers import Servers, WebchatPage

GREETING = "Вітаємо! Це офіційний чат-бот АТ «ОТКЕ»"


@pytest.fixture
def chat(servers: Servers, webchat_page: WebchatPage) -> Iterator[WebChat]:
    opened = WebChat(servers.rasa_url, webchat_page.origin, uuid.uuid4().hex)
    yield opened
    opened.close()


@pytest.mark.parametrize(
    "requested",
    [None, 42, {"id": 1}, ["a"], "", "x" * 65, "with space", "tab\there", "nul\x00", "\u202e1234"],
)
def test_a_hostile_session_request_gets_a_fresh_session(chat: WebChat, requested: Any) -> None:
    events = chat._emit("session_request", {"session_id": requested})

    confirmed = [data for name, data in events if name == "session_confirm"]
    assert len(confirmed) == 1 and re.fullmatch(r"[0-9a-f]{32}", confirmed[0]), events


@pytest.mark.parametrize(
    "data",
    [
        None,
        "text",
        ["message", "hi"],
        {"message": 42},
        {"message": {"text": "hi"}},
        {"message": "Привіт"},  # no session id
        {"message": "Привіт", "session_id": {"forged": True}},
        {"message": "Привіт", "session_id": "x" * 10_000},
    ],
)
def test_a_hostile_message_is_ignored_and_the_socket_keeps_working(chat: WebChat, data: Any) -> None:
    events = chat._emit("user_uttered", data)

    assert [name for name, _ in events if name == "bot_uttered"] == []
    assert any(reply.text.startswith(GREETING) for reply in chat.say("Привіт"))


def test_metadata_that_is_not_an_object_is_dropped(chat: WebChat) -> None:
    events = chat._emit(
        "user_uttered", {"message": "Привіт", "session_id": chat.user_id, "customData": "{not json"}
    )

    assert any(name == "bot_uttered" and data["text"].startswith(GREETING) for name, data in events)
