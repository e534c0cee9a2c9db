"""The web chat on the company's site: Rasa's socket.io channel with its identity made safe.

Loaded from credentials.yml as ``custom_channels.webchat.WebChatInput``. The browser chooses its
own session id, so every sender becomes ``webchat:<session id>``: a page that claims a Viber
user's id ("viber:…") gets a conversation of its own, never that subscriber's. Only the page's
origin may open a socket (WEBCHAT_ORIGINS), the same origin Rasa's CORS allows.

Rasa 3.6's ``session_request`` handler misses an ``await`` on ``enter_room`` (RasaHQ/rasa#13027):
with python-socketio 5.10 or later replies never reach the browser. Both socket handlers are
replaced here (the session request with the ``await``; both with the browser's data checked, since
anyone can send anything), so python-socketio stays current: 5.9, which Rasa's bug needed, has a
memory-exhaustion advisory on the public socket (fixed in 5.16.2). The browser test proves replies
arrive.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
PREFIX = f"{CHANNEL}:"
MAX_SESSION_ID = 64
# scheme://host[:port], nothing else: "*" or a path would let other pages in or match nothing.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


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
        credentials = credentials or {}
        configured = credentials.get("origins") or os.environ.get("WEBCHAT_ORIGINS", "")
        origins = configured if isinstance(configured, list) else str(configured).split(",")
        channel.origins = [str(origin).strip().rstrip("/") for origin in origins if str(origin).strip()]
        for origin in channel.origins:
            if not _ORIGIN.fullmatch(origin):
                raise RasaException(
                    f"WEBCHAT_ORIGINS: {origin!r} is not an origin; give each page's scheme, host and "
                    "port, comma-separated, e.g. https://www.otke.example,https://otke.example:8443"
                )
        if credentials.get("origins_required") and not channel.origins:
            raise RasaException(
                "The web chat channel needs the origins of the pages that carry the widget: set "
                "WEBCHAT_ORIGINS (comma-separated, e.g. https://www.otke.example); without it the "
                "socket would accept a browser on any site (origins_required in the credentials)"
            )
        return channel

    origins: list[str]

    def get_output_channel(self) -> OutputChannel | None:
        return None if self.sio is None else WebChatOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def qualified(message: UserMessage) -> None:
            message.sender_id = f"{PREFIX}{message.sender_id}"
            message.output_channel = self.get_output_channel()
            await on_new_message(message)

        blueprint: Blueprint = super().blueprint(qualified)
        if self.sio is not None:
            self._replace_handlers(self.sio, qualified)
            # Rasa opens the socket to every origin; only the company's page may connect.
            if getattr(self, "origins", None):
                self.sio.eio.cors_allowed_origins = self.origins
        return blueprint

    def _replace_handlers(self, sio: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if _is_session_id(requested) else uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id)  # a coroutine from python-socketio 5.10 on
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.warning("webchat: a message that is not text was ignored")
                return
            if self.session_persistence:
                if not _is_session_id(data.get("session_id")):
                    logger.warning("webchat: a message without a valid session id was ignored")
                    return
                sender_id = data["session_id"]
            else:
                sender_id = sid
            metadata = data.get(self.metadata_key)
            message = UserMessage(
                data.get("message", ""),
                WebChatOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=metadata if isinstance(metadata, dict) else {},
            )
            await on_new_message(message)


def _is_session_id(value: Any) -> bool:
    """A session id the page may choose: short, printable, no spaces (the widget sends a hex uuid)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_SESSION_ID
        and value.isprintable()
        and " " not in value
    )
