"""Viber as the tests play it: users, signed message callbacks, and what came back to the fake API."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from tests.support.servers import Servers

_tokens = itertools.count(int(time.time() * 1000) * 1000)


def token() -> int:
    return next(_tokens)


def viber_user() -> dict[str, Any]:
    return {
        "id": f"{uuid.uuid4().hex[:22]}==",
        "name": "Олена Петренко",
        "avatar": "https://example.invalid/avatar.jpg",
        "country": "UA",
        "language": "uk",
        "api_version": 10,
    }


def message(user: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-376_",
        "message_token": token(),
        "sender": user,
        "message": {"type": "text", "text": text, **extra},
        "silent": False,
    }


def say(servers: Servers, user: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Send a text as the user; return what the assistant sent back to Viber for it."""
    before = len(servers.viber_api.sent_to(user["id"]))
    answer = servers.viber(message(user, text))
    assert answer.status_code == 200, answer.text
    return servers.viber_api.sent_to(user["id"])[before:]


def texts(sent: list[dict[str, Any]]) -> list[str]:
    return [str(body.get("text", "")) for body in sent]


def keyboard_of(sent: list[dict[str, Any]]) -> dict[str, str]:
    """The last keyboard sent: button text -> ActionBody."""
    boards = [body["keyboard"] for body in sent if "keyboard" in body]
    return {b["Text"]: b["ActionBody"] for b in boards[-1]["Buttons"]} if boards else {}
