"""The web chat on the company's site: Rasa's socket.io channel with its identity made safe.

Loaded from credentials.yml as ``custom_channels.webchat.WebChatInput``. The browser chooses its
own session id, so every sender becomes ``webchat:<session id>``: a page that claims a Viber
user's id ("viber:…") gets a conversation of its own, never that subscriber's. Only the page's
origin may open a socket (WEBCHAT_ORIGINS), the same origin Rasa's CORS allows.

python-socketio is pinned below 5.10 in the Rasa lock: from 5.10 on, Rasa 3.6's channel misses an
``await`` on ``enter_room`` and replies never reach the browser (RasaHQ/rasa#13027); the browser
test proves the pin.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

CHANNEL = "webchat"
PREFIX = f"{CHANNEL}:"


def browser_room(recipient_id: str) -> str:
    """The socket.io room the page joined: its own session id, without our qualifier."""
    return recipient_id.removeprefix(PREFIX)


class WebChatOutput(SocketIOOutput):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def _send_message(self, socket_id: str, response: Any) -> None:
        await super()._send_message(browser_room(socket_id), response)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await super().send_custom_json(browser_room(recipient_id), json_message, **kwargs)


class WebChatInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        channel = super().from_credentials(credentials)
        configured = (credentials or {}).get("origins") or os.environ.get("WEBCHAT_ORIGINS", "")
        origins = configured if isinstance(configured, list) else str(configured).split(",")
        channel.origins = [origin.strip().rstrip("/") for origin in origins if origin.strip()]  # type: ignore[attr-defined]
        return channel

    origins: list[str]

    def get_output_channel(self) -> OutputChannel | None:
        return None if self.sio is None else WebChatOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def qualified(message: UserMessage) -> None:
            message.sender_id = f"{PREFIX}{message.sender_id}"
            message.output_channel = self.get_output_channel()
            await on_new_message(message)

        blueprint = super().blueprint(qualified)
        # Rasa opens the socket to every origin; only the company's page may connect.
        if self.sio is not None and getattr(self, "origins", None):
            self.sio.eio.cors_allowed_origins = self.origins
        return blueprint
