"""The three channels as a subscriber sees them: REST, Viber (signed callbacks) and the web chat's socket."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest

from tests.support.servers import Servers
from tests.support.viber import message, viber_user


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: dict[str, str]  # title -> payload


class Chat(Protocol):
    channel: str
    user_id: str  # the id the register knows the subscriber by, on that channel

    def say(self, text: str) -> list[Reply]: ...


class RestChat:
    channel = "rest"

    def __init__(self, servers: Servers, sender: str, **extra: Any) -> None:
        self.url = f"{servers.rasa_url}/webhooks/rest/webhook"
        self.user_id = sender
        self.extra = extra  # more fields of the request body, e.g. a forged "input_channel"

    def say(self, text: str) -> list[Reply]:
        answer = httpx.post(
            self.url, json={"sender": self.user_id, "message": text, **self.extra}, timeout=30
        )
        answer.raise_for_status()
        return [
            Reply(str(m.get("text", "")), {b["title"]: b["payload"] for b in m.get("buttons", [])})
            for m in answer.json()
        ]


class ViberChat:
    channel = "viber"

    def __init__(self, servers: Servers, user: dict[str, Any] | None = None) -> None:
        self.servers = servers
        self.user = user or viber_user()
        self.user_id = str(self.user["id"])

    def say(self, text: str) -> list[Reply]:
        before = len(self.servers.viber_api.sent_to(self.user_id))
        answer = self.servers.viber(message(self.user, text))
        assert answer.status_code == 200, answer.text
        return [
            Reply(
                str(body.get("text", "")),
                {b["Text"]: b["ActionBody"] for b in body.get("keyboard", {}).get("Buttons", [])},
            )
            for body in self.servers.viber_api.sent_to(self.user_id)[before:]
        ]


class WebChat:
    """The web chat page's socket.io connection, spoken as Engine.IO v4 long-polling over httpx.

    Every event is emitted with an acknowledgement id: python-socketio acknowledges only after the
    handler (Rasa processing the whole turn) returned, so the bot_uttered events before the
    acknowledgement are exactly the turn's replies.
    """

    channel = "webchat"
    TURN_TIMEOUT = 60

    def __init__(self, rasa_url: str, origin: str, session_id: str) -> None:
        self.user_id = session_id
        self._http = httpx.Client(base_url=f"{rasa_url}/socket.io/", headers={"Origin": origin}, timeout=60)
        self._acks = itertools.count(1)
        opened = self._http.get("", params={"EIO": "4", "transport": "polling"})
        opened.raise_for_status()
        assert opened.text.startswith("0"), opened.text
        self._sid = json.loads(opened.text[1:])["sid"]
        self._send("40")
        self._receive_until(lambda packet: packet.startswith("40"))
        events = self._emit("session_request", {"session_id": session_id})
        assert ["session_confirm", session_id] in events, events

    def _params(self) -> dict[str, str]:
        return {"EIO": "4", "transport": "polling", "sid": self._sid}

    def _send(self, *packets: str) -> None:
        self._http.post("", params=self._params(), content="\x1e".join(packets).encode()).raise_for_status()

    def _receive_until(self, done: Callable[[str], bool]) -> list[str]:
        received: list[str] = []
        deadline = time.monotonic() + self.TURN_TIMEOUT
        while time.monotonic() < deadline:
            answer = self._http.get("", params=self._params())
            answer.raise_for_status()
            for packet in answer.text.split("\x1e"):
                if packet == "2":  # the server's ping
                    self._send("3")
                    continue
                received.append(packet)
                if done(packet):
                    return received
        pytest.fail(f"web chat: no acknowledgement within {self.TURN_TIMEOUT} s; received {received}")

    def _emit(self, event: str, data: dict[str, Any]) -> list[list[Any]]:
        ack = next(self._acks)
        self._send(f"42{ack}" + json.dumps([event, data], ensure_ascii=False))
        packets = self._receive_until(lambda packet: packet.startswith(f"43{ack}["))
        return [json.loads(packet[2:]) for packet in packets if packet.startswith("42[")]

    def say(self, text: str) -> list[Reply]:
        events = self._emit("user_uttered", {"message": text, "session_id": self.user_id})
        return [
            Reply(
                str(data.get("text", "")),
                {b["title"]: b["payload"] for b in data.get("quick_replies", []) or data.get("buttons", [])},
            )
            for name, data in events
            if name == "bot_uttered"
        ]

    def close(self) -> None:
        self._send("41", "1")
        self._http.close()
