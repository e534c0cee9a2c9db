"""Viber public account channel: Viber's REST Bot API callbacks in, Viber messages out.

Loaded by Rasa from credentials.yml as ``custom_channels.viber.ViberInput``. Routes:
``GET /webhooks/viber/`` (health) and ``POST /webhooks/viber/webhook`` (Viber's callbacks).
The channel speaks Viber only: who may do what is the action server's business.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from custom_channels import viber_api

logger = logging.getLogger(__name__)

CHANNEL = "viber"
# Intents the channel sends for events that carry no text of the subscriber's.
CONVERSATION_STARTED = "/conversation_started"
SUBSCRIBED = "/subscribed"
UNSUBSCRIBED = "/unsubscribed"
NON_TEXT = "/non_text_message"
SEEN_TOKENS = 100_000
TOKEN_TTL_SECONDS = 24 * 3600
# How long a delivery being handled keeps its repeats out: well above a turn's longest time, short
# enough that Viber's retries of a callback whose Rasa process died are handled.
PENDING_TTL_SECONDS = 45
RETRY_AFTER_SECONDS = 5
SEND_TIMEOUT_SECONDS = 10


def sender_id(viber_user_id: str) -> str:
    """The Rasa sender id: qualified, so no other channel's user can become this one."""
    return f"{CHANNEL}:{viber_user_id}"


class BadCallback(ValueError):
    """A signed body that is not a Viber callback we understand."""


# Ids and tokens travel into the register (VARCHAR(255)), Redis keys and logs: printable ASCII only.
_IDENTIFIER = re.compile(r"[\x21-\x7e]+")
MAX_USER_ID = 128
MAX_TOKEN = 64
# Control characters and lone surrogates: PostgreSQL refuses NUL, UTF-8 refuses surrogates.
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
METADATA_KEYS = ("name", "language", "country", "api_version")
MAX_METADATA_TEXT = 255


def _identifier(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not _IDENTIFIER.fullmatch(value):
        raise BadCallback(field)
    return value


def _token(value: Any) -> str:
    """Viber's message token: a 64-bit number (a string of printable ASCII is taken too)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64:
        return str(value)
    return _identifier(value, "message_token", MAX_TOKEN)


def _metadata(user: dict[str, Any]) -> dict[str, Any]:
    """What the assistant may use of a user object, cleaned so any store can keep it."""
    metadata: dict[str, Any] = {}
    for key in METADATA_KEYS:
        item = user.get(key)
        if isinstance(item, str):
            cleaned = _UNSTORABLE.sub("", item)[:MAX_METADATA_TEXT]
            if cleaned.strip():
                metadata[key] = cleaned
        elif isinstance(item, int) and not isinstance(item, bool) and -(2**31) <= item < 2**31:
            metadata[key] = item
    return metadata


def _user(value: Any) -> tuple[str, dict[str, Any]]:
    """A Viber user object: its id, and the metadata the assistant may use."""
    if not isinstance(value, dict):
        raise BadCallback("user")
    return _identifier(value.get("id"), "user.id", MAX_USER_ID), _metadata(value)


# --- at-least-once delivery: remember the message tokens already handled ---------------------


class Claim(enum.Enum):
    NEW = "new"  # handle it
    IN_PROGRESS = "in progress"  # another delivery is being handled right now
    DONE = "done"  # handled: acknowledge again, do nothing


class TokenMemory:
    """Bounded, time-limited memory of callbacks being or already handled (one process).

    A claim is "in progress" only for PENDING_TTL_SECONDS: if the process handling it dies, a
    later retry is handled. Once handled, the token is remembered as done for the full TTL.
    """

    def __init__(
        self,
        size: int = SEEN_TOKENS,
        ttl: float = TOKEN_TTL_SECONDS,
        pending_ttl: float = PENDING_TTL_SECONDS,
    ) -> None:
        self.size, self.ttl, self.pending_ttl = size, ttl, pending_ttl
        self._seen: OrderedDict[str, tuple[bool, float]] = OrderedDict()  # token: (done, expiry)

    async def claim(self, token: str) -> Claim:
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values()))[1] < now:
            self._seen.popitem(last=False)
        entry = self._seen.get(token)
        if entry is not None and entry[1] >= now:
            return Claim.DONE if entry[0] else Claim.IN_PROGRESS
        self._remember(token, False, now + self.pending_ttl)
        return Claim.NEW

    async def done(self, token: str) -> None:
        """The callback was handled: acknowledge its repeats for the full TTL."""
        self._remember(token, True, time.monotonic() + self.ttl)

    async def release(self, token: str) -> None:
        """Forget a token whose handling failed, so Viber's retry is processed."""
        self._seen.pop(token, None)

    def _remember(self, token: str, done: bool, expiry: float) -> None:
        self._seen.pop(token, None)
        self._seen[token] = (done, expiry)
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)


class RedisTokenMemory(TokenMemory):
    """The same memory shared by every Rasa instance through Redis (SET NX with expiry)."""

    def __init__(
        self, url: str, ttl: float = TOKEN_TTL_SECONDS, pending_ttl: float = PENDING_TTL_SECONDS
    ) -> None:
        super().__init__(ttl=ttl, pending_ttl=pending_ttl)
        import redis.asyncio as redis  # only needed when configured

        self._redis = redis.from_url(url)

    async def claim(self, token: str) -> Claim:
        key = f"viber:token:{token}"
        if await self._redis.set(key, "pending", nx=True, ex=max(1, int(self.pending_ttl))):
            return Claim.NEW
        return Claim.DONE if await self._redis.get(key) == b"done" else Claim.IN_PROGRESS

    async def done(self, token: str) -> None:
        await self._redis.set(f"viber:token:{token}", "done", ex=max(1, int(self.ttl)))

    async def release(self, token: str) -> None:
        await self._redis.delete(f"viber:token:{token}")


# --- output -------------------------------------------------------------------------------------


class ViberClient:
    """Calls to the Viber API over aiohttp, with a timeout; failures are logged with their meaning."""

    def __init__(self, auth_token: str, api_url: str, sender_name: str, avatar: str | None) -> None:
        self.auth_token = auth_token
        self.api_url = api_url.rstrip("/")
        self.sender = viber_api.sender(sender_name, avatar)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS))
        return self._session

    async def post(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        try:
            async with self._http().post(
                f"{self.api_url}/{endpoint}",
                json=payload,
                headers={"X-Viber-Auth-Token": self.auth_token},
            ) as answer:
                if answer.status >= 400:
                    logger.error("viber %s: HTTP %s from the Viber API", endpoint, answer.status)
                    return None
                body = await answer.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            logger.error("viber %s: no answer from the Viber API (%s)", endpoint, type(error).__name__)
            return None
        if not isinstance(body, dict):
            logger.error("viber %s: unexpected answer (HTTP %s)", endpoint, answer.status)
            return None
        status = body.get("status")
        if status != 0:
            logger.error(
                "viber %s: status %s (%s): %s",
                endpoint,
                status,
                viber_api.status_meaning(status),
                str(body.get("status_message", ""))[:200],
            )
        return body

    async def send(self, receiver: str, message: dict[str, Any]) -> dict[str, Any] | None:
        return await self.post("send_message", viber_api.send_message_payload(receiver, message, self.sender))


class ViberOutput(OutputChannel):
    """Rasa's responses as Viber messages: texts, keyboards for buttons, pictures, custom JSON."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, client: ViberClient) -> None:
        self.client = client

    @staticmethod
    def _receiver(recipient_id: str) -> str:
        return recipient_id.removeprefix(f"{CHANNEL}:")

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in viber_api.split_text(text):
            await self.client.send(self._receiver(recipient_id), viber_api.text_message(piece))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        *first, last = viber_api.split_text(text)
        for piece in first:
            await self.client.send(self._receiver(recipient_id), viber_api.text_message(piece))
        await self.client.send(self._receiver(recipient_id), viber_api.text_message(last, buttons))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.client.send(self._receiver(recipient_id), viber_api.picture_message(image))

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        # A Viber-specific message (rich media, location…) written in the domain as `custom`.
        await self.client.send(self._receiver(recipient_id), dict(json_message))


# --- input --------------------------------------------------------------------------------------


class ViberInput(InputChannel):
    """Viber's callbacks: signed, de-duplicated, turned into messages for the assistant."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ViberInput:
        credentials = credentials or {}
        token = str(credentials.get("auth_token") or "").strip()
        if not token:
            raise RasaException(
                "The Viber channel needs the public account's token: set VIBER_AUTH_TOKEN "
                "(credentials.yml reads it as auth_token)."
            )
        name = str(credentials.get("name") or viber_api.DEFAULT_SENDER_NAME)
        if len(name) > viber_api.MAX_SENDER_NAME:
            raise RasaException(f"The Viber sender name may have at most 28 characters: {name!r}")
        redis_url = str(credentials.get("redis_url") or os.environ.get("REDIS_URL") or "").strip()
        if credentials.get("redis_required") and not redis_url:
            raise RasaException(
                "The Viber channel needs REDIS_URL (e.g. redis://redis:6379/2): without it each Rasa "
                "instance remembers handled callbacks on its own, and a callback Viber delivers again "
                "to another instance is processed twice (redis_required in the credentials)"
            )
        return cls(
            auth_token=token,
            name=name,
            avatar=credentials.get("avatar") or None,
            api_url=credentials.get("api_url")
            or os.environ.get("VIBER_API_URL")
            or viber_api.DEFAULT_API_URL,
            memory=RedisTokenMemory(redis_url) if redis_url else TokenMemory(),
        )

    def __init__(
        self, auth_token: str, name: str, avatar: str | None, api_url: str, memory: TokenMemory
    ) -> None:
        self.auth_token = auth_token
        self.client = ViberClient(auth_token, api_url, name, avatar)
        self.memory = memory

    def get_output_channel(self) -> OutputChannel:
        return ViberOutput(self.client)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        viber_webhook = Blueprint(f"viber_webhook_{id(self)}", __name__)

        @viber_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @viber_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            raw = request.body or b""
            if len(raw) > viber_api.MAX_CALLBACK_BYTES:
                return response.json({"error": "body too large"}, status=413)
            if not viber_api.signature_matches(
                raw, self.auth_token, request.headers.get("X-Viber-Content-Signature")
            ):
                logger.warning("viber: callback with a missing or wrong signature refused")
                return response.json({"error": "bad signature"}, status=403)
            try:
                callback = json.loads(raw)
            except (ValueError, RecursionError):
                return response.json({"error": "body is not JSON"}, status=400)
            if not isinstance(callback, dict) or not isinstance(callback.get("event"), str):
                return response.json({"error": "not a Viber callback"}, status=400)
            try:
                # Shielded: when Viber stops waiting and closes the connection, Sanic cancels this
                # handler; the turn must still finish (a retry meanwhile is told to come back later).
                return await asyncio.shield(self._handle(callback, on_new_message))
            except BadCallback as error:
                return response.json({"error": f"malformed callback: {error}"}, status=400)

        return viber_webhook

    async def _handle(
        self, callback: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        event = callback["event"]
        if event == "webhook":
            return response.json({"status": "ok"})
        if event in ("delivered", "seen", "failed"):
            if event == "failed":
                logger.warning(
                    "viber: a message could not be delivered: %s", str(callback.get("desc", ""))[:200]
                )
            else:
                logger.debug("viber: %s", event)
            return response.json({"status": "ok"})
        handlers = {
            "message": self._message,
            "conversation_started": self._conversation_started,
            "subscribed": self._subscribed,
            "unsubscribed": self._unsubscribed,
        }
        handler = handlers.get(event)
        if handler is None:
            logger.info("viber: ignored an unknown event %r", event[:40])
            return response.json({"status": "ok"})
        token = _token(callback.get("message_token"))
        claim = await self.memory.claim(token)
        if claim is Claim.DONE:
            logger.info("viber: callback %s already handled; acknowledged again", token)
            return response.json({"status": "ok"})
        if claim is Claim.IN_PROGRESS:
            # Not acknowledged: if the delivery being handled dies with its process, Viber's next
            # retry (after the claim lapses) is handled; if it finishes, the retry is acknowledged.
            logger.info("viber: callback %s is being handled; Viber will retry it", token)
            return response.json(
                {"error": "being handled"}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
        try:
            answer = await handler(callback, token, on_new_message)
            await self.memory.done(token)
            return answer
        except BadCallback:
            await self.memory.release(token)
            raise
        except Exception:
            # Not acknowledged: Viber retries, and the retry is processed.
            await self.memory.release(token)
            logger.exception("viber: handling a %s callback failed", event)
            return response.json({"error": "temporarily unavailable"}, status=503)

    async def _message(
        self, callback: dict[str, Any], token: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        user_id, metadata = _user(callback.get("sender"))
        message = callback.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise BadCallback("message")
        if message["type"] == "text":
            text = message.get("text")
            if not isinstance(text, str):
                raise BadCallback("message.text")
        else:
            text = NON_TEXT
        await on_new_message(self._user_message(text, user_id, token, metadata))
        return response.json({"status": "ok"})

    async def _conversation_started(
        self, callback: dict[str, Any], token: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        # Viber lets the bot answer this one only in the HTTP response: collect, then reply.
        user_id, metadata = _user(callback.get("user"))
        collector = CollectingOutputChannel()
        await on_new_message(self._user_message(CONVERSATION_STARTED, user_id, token, metadata, collector))
        texts = [m for m in collector.messages if m.get("text")]
        if not texts:
            return response.json({"status": "ok"})
        welcome = texts[0]
        return response.json(
            {"sender": self.client.sender, **viber_api.text_message(welcome["text"], welcome.get("buttons"))}
        )

    async def _subscribed(
        self, callback: dict[str, Any], token: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        user_id, metadata = _user(callback.get("user"))
        await on_new_message(self._user_message(SUBSCRIBED, user_id, token, metadata))
        return response.json({"status": "ok"})

    async def _unsubscribed(
        self, callback: dict[str, Any], token: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        user_id = _identifier(callback.get("user_id"), "user_id", MAX_USER_ID)
        # Nothing can be sent to someone who left: the answer, if any, is collected and dropped.
        await on_new_message(self._user_message(UNSUBSCRIBED, user_id, token, {}, CollectingOutputChannel()))
        return response.json({"status": "ok"})

    def _user_message(
        self,
        text: str,
        user_id: str,
        token: str,
        metadata: dict[str, Any],
        output: OutputChannel | None = None,
    ) -> UserMessage:
        return UserMessage(
            text,
            output or self.get_output_channel(),
            sender_id(user_id),
            input_channel=CHANNEL,
            message_id=token,
            metadata=metadata,
        )
