"""The Viber REST Bot API as plain data: signatures, keyboards, message payloads, status codes.

No Rasa and no HTTP client here, so the Rasa channel (``viber.py``) and the operator's
``otke viber`` commands build exactly the same JSON, and tests can check it against Viber's SDK.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

DEFAULT_API_URL = "https://chatapi.viber.com/pa"
DEFAULT_SENDER_NAME = "АТ «ОТКЕ»"
MAX_CALLBACK_BYTES = 30 * 1024
MAX_TEXT = 7000
MAX_SENDER_NAME = 28
MAX_BUTTON_TEXT = 250
KEYBOARD_COLUMNS = 6
# Titles up to this length share a keyboard row with another short one.
SHORT_TITLE = 20
# Events we ask Viber for; message, subscribed and unsubscribed always come.
WEBHOOK_EVENTS = ("delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started")

STATUS_MEANINGS = {
    0: "ok",
    1: "invalid url",
    2: "invalid auth token",
    3: "bad data",
    4: "missing data",
    5: "receiver not registered",
    6: "receiver not subscribed",
    7: "public account blocked",
    8: "public account not found",
    9: "public account suspended",
    10: "webhook not set",
    11: "receiver has no suitable device",
    12: "too many requests",
    13: "api version not supported by the client",
    14: "incompatible with the client version",
    15: "public account not authorized",
    16: "inline not allowed",
    17: "public account is not inline",
    18: "no push data",
    19: "not supported",
    20: "device not supported",
}


def status_meaning(status: object) -> str:
    return STATUS_MEANINGS.get(status, "unknown status") if isinstance(status, int) else "no status"


def signature(body: bytes, auth_token: str) -> str:
    """X-Viber-Content-Signature: hex HMAC-SHA256 of the raw body, keyed by the auth token."""
    return hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, auth_token: str, provided: str | None) -> bool:
    """Constant-time comparison; a missing or malformed header never matches."""
    if not provided:
        return False
    return hmac.compare_digest(
        signature(body, auth_token).encode(), provided.strip().lower().encode("utf-8", "replace")
    )


def _columns(titles: list[str]) -> list[int]:
    """Two short titles share a row (3 + 3); a long one, or a short one left alone, takes the row."""
    columns: list[int] = []
    index = 0
    while index < len(titles):
        pair = index + 1 < len(titles)
        if pair and len(titles[index]) <= SHORT_TITLE and len(titles[index + 1]) <= SHORT_TITLE:
            columns += [KEYBOARD_COLUMNS // 2, KEYBOARD_COLUMNS // 2]
            index += 2
        else:
            columns.append(KEYBOARD_COLUMNS)
            index += 1
    return columns


def keyboard(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """Rasa buttons as a Viber reply keyboard: ActionBody is the payload, Text the title.

    Payloads are commands ("/submit_reading") rather than words, so the taps are silent: the
    chat shows the assistant's answer, not the command.
    """
    titles = [str(button.get("title") or button.get("payload") or "")[:MAX_BUTTON_TEXT] for button in buttons]
    return {
        "Type": "keyboard",
        "DefaultHeight": False,
        "Buttons": [
            {
                "Columns": columns,
                "Rows": 1,
                "ActionType": "reply",
                "ActionBody": str(button.get("payload") or title),
                "Text": title,
                "TextSize": "regular",
                "Silent": str(button.get("payload") or "").startswith("/"),
            }
            for button, title, columns in zip(buttons, titles, _columns(titles), strict=True)
        ],
    }


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces under Viber's text limit, cut at line breaks or spaces where possible."""
    pieces = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return [piece for piece in pieces if piece] or [""]


def sender(name: str, avatar: str | None = None) -> dict[str, str]:
    result = {"name": name[:MAX_SENDER_NAME]}
    if avatar:
        result["avatar"] = avatar
    return result


def text_message(text: str, buttons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "text", "text": text}
    if buttons:
        message["keyboard"] = keyboard(buttons)
    return message


def picture_message(url: str, text: str = "") -> dict[str, Any]:
    return {"type": "picture", "text": text, "media": url}


def send_message_payload(
    receiver: str, message: dict[str, Any], sender_info: dict[str, str]
) -> dict[str, Any]:
    return {"receiver": receiver, "sender": sender_info, **message}
