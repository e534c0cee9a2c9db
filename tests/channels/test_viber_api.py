"""custom_channels/viber_api.py: signatures, keyboards, message payloads and status codes, checked
against first principles (hashlib, the documented limits) and against Viber's own Python SDK."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from viberbot.api.bot_configuration import BotConfiguration
from viberbot.api.message_sender import MessageSender
from viberbot.api.messages import PictureMessage, TextMessage
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberFailedRequest,
    ViberMessageRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
    create_request,
)

from custom_channels import viber_api
from custom_channels.viber_api import (
    keyboard,
    picture_message,
    send_message_payload,
    sender,
    signature,
    signature_matches,
    split_text,
    status_meaning,
    text_message,
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
BODY = '{"event":"message","message_token":4912661846655238145,"message":{"text":"Привіт"}}'.encode()


def domain() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return loaded


MAIN_MENU: list[dict[str, Any]] = domain()["responses"]["utter_greet"][0]["buttons"]


# --- signatures ----------------------------------------------------------------------------------


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    """RFC 2104 HMAC over SHA-256, written out with hashlib alone."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def test_the_independent_hmac_is_right() -> None:
    # RFC 4231, test case 2
    assert (
        hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


@pytest.mark.parametrize(
    ("body", "token"),
    [(BODY, TOKEN), (b"", TOKEN), (b"{}", "т" * 100), (b"x" * 40_000, "short")],
)
def test_signature_is_the_hex_hmac_sha256_of_the_body(body: bytes, token: str) -> None:
    expected = hmac_sha256_hex(token.encode(), body)
    assert signature(body, token) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", signature(body, token))


def test_the_right_signature_matches() -> None:
    right = hmac_sha256_hex(TOKEN.encode(), BODY)
    assert signature_matches(BODY, TOKEN, right) is True
    assert signature_matches(BODY, TOKEN, right.upper()) is True
    assert signature_matches(BODY, TOKEN, f" {right}\n") is True  # header whitespace


@pytest.mark.parametrize(
    "provided",
    [
        "",
        None,
        "0" * 64,
        "не-hex ☃",
        "\udcff" * 64,  # a lone surrogate cannot be encoded: replaced, never an error
        hmac_sha256_hex(TOKEN.encode(), BODY)[:-1],
        hmac_sha256_hex(TOKEN.encode(), BODY) + "0",
        hmac_sha256_hex(b"another-token", BODY),
        hmac_sha256_hex(TOKEN.encode(), BODY + b" "),
    ],
)
def test_any_other_signature_does_not_match(provided: str | None) -> None:
    assert signature_matches(BODY, TOKEN, provided) is False


# --- keyboards -----------------------------------------------------------------------------------


def rows(buttons: list[dict[str, Any]]) -> list[list[str]]:
    """Buttons laid out as Viber does: each row holds 6 columns; a button never spans two rows."""
    laid: list[list[str]] = []
    filled = 6
    for button in buttons:
        assert 1 <= button["Columns"] <= 6, button
        if filled == 6:
            laid.append([])
            filled = 0
        assert filled + button["Columns"] <= 6, f"{button['Text']!r} overflows its row"
        laid[-1].append(button["Text"])
        filled += button["Columns"]
    assert filled == 6, "the last row is not full"
    return laid


def test_the_main_menu_keyboard_exactly() -> None:
    def button(columns: int, payload: str, text: str) -> dict[str, Any]:
        return {
            "Columns": columns,
            "Rows": 1,
            "ActionType": "reply",
            "ActionBody": payload,
            "Text": text,
            "TextSize": "regular",
            "Silent": True,
        }

    assert keyboard(MAIN_MENU) == {
        "Type": "keyboard",
        "DefaultHeight": False,
        "Buttons": [
            button(3, "/submit_reading", "Передати показання"),
            button(3, "/register_meter", "Додати лічильник"),
            button(3, "/my_meters", "Мої лічильники"),
            button(3, "/reading_history", "Історія показань"),
            button(6, "/contacts", "Контакти"),
        ],
    }
    assert rows(keyboard(MAIN_MENU)["Buttons"]) == [
        ["Передати показання", "Додати лічильник"],
        ["Мої лічильники", "Історія показань"],
        ["Контакти"],
    ]


LONG = "Гаряча вода · №222222 · о/р 12345"  # 33 characters, as meter buttons are


@pytest.mark.parametrize(
    ("titles", "columns"),
    [
        ([], []),
        (["Так"], [6]),
        (["Так", "Ні"], [3, 3]),
        (["Так", "Ні", "Скасувати"], [3, 3, 6]),
        ([LONG, LONG], [6, 6]),
        (["Так", LONG, "Ні"], [6, 6, 6]),  # a short one beside a long one is alone
        ([LONG, "Так", "Ні", "Меню"], [6, 3, 3, 6]),
        (["а" * 20, "б" * 20], [3, 3]),  # 20 characters is still short
        (["а" * 21, "б" * 20], [6, 6]),
        (["а" * 20, "б" * 21], [6, 6]),
        (["x"] * 7, [3, 3, 3, 3, 3, 3, 6]),
    ],
)
def test_keyboard_columns(titles: list[str], columns: list[int]) -> None:
    buttons = keyboard([{"title": t, "payload": f"/p{i}"} for i, t in enumerate(titles)])["Buttons"]
    assert [b["Columns"] for b in buttons] == columns
    assert [b["Text"] for b in buttons] == titles
    if buttons:
        rows(buttons)


def test_keyboard_buttons_reply_with_the_payload() -> None:
    buttons = keyboard(
        [
            {"title": "Передати показання", "payload": "/submit_reading"},
            {"title": "Гаряча вода · №222222 · о/р 12345", "payload": "Гаряча вода · №222222"},
            {"payload": "/greet"},  # no title: the payload is shown
            {"title": "Так"},  # no payload: the title is what comes back
        ]
    )["Buttons"]
    assert [(b["ActionType"], b["ActionBody"], b["Text"], b["Silent"]) for b in buttons] == [
        ("reply", "/submit_reading", "Передати показання", True),
        ("reply", "Гаряча вода · №222222", "Гаряча вода · №222222 · о/р 12345", False),
        ("reply", "/greet", "/greet", True),
        ("reply", "Так", "Так", False),
    ]


def test_button_titles_are_cut_at_250_characters() -> None:
    title = "Ї" * 300
    [button] = keyboard([{"title": title, "payload": "/x"}])["Buttons"]
    assert button["Text"] == title[:250]
    assert button["Columns"] == 6
    assert button["ActionBody"] == "/x"


def test_every_keyboard_in_the_domain_is_valid() -> None:
    responses = domain()["responses"]
    boards = [v["buttons"] for variants in responses.values() for v in variants if v.get("buttons")]
    assert boards
    for buttons in boards:
        board = keyboard(buttons)["Buttons"]
        rows(board)
        for button in board:
            assert button["ActionBody"] and len(button["Text"]) <= 250


# --- texts ---------------------------------------------------------------------------------------


def reassemble(text: str, pieces: list[str]) -> list[str]:
    """Check the pieces are the text in order with only whitespace between; return those gaps."""
    gaps = []
    position = 0
    for piece in pieces:
        start = text.index(piece, position)
        gap = text[position:start]
        assert gap.strip() == "", f"lost text: {gap[:40]!r}"
        gaps.append(gap)
        position = start + len(piece)
    assert text[position:].strip() == ""
    return gaps[1:]


def words(count: int) -> str:
    vocabulary = ["показання", "лічильник", "Чернігів", "тепло", "вода", "о/р", "12345"]
    lines = []
    for i in range(count):
        lines.append(vocabulary[i % len(vocabulary)])
        lines.append("\n" if i % 11 == 10 else " ")
    return "".join(lines)


def test_a_short_text_is_left_alone() -> None:
    assert split_text("Прийнято 128.45 до обробки. Дякуємо") == ["Прийнято 128.45 до обробки. Дякуємо"]
    assert split_text("x" * 7000) == ["x" * 7000]
    assert split_text("  два пробіли  ") == ["  два пробіли  "]


def test_an_empty_text_is_one_empty_piece() -> None:
    assert split_text("") == [""]


def test_a_long_text_is_cut_at_whitespace() -> None:
    text = words(3000)[:15_000]
    assert len(text) == 15_000
    pieces = split_text(text)
    assert len(pieces) == 3
    assert all(0 < len(piece) <= 7000 for piece in pieces)
    assert all(len(piece) > 6900 for piece in pieces[:-1])  # cut near the limit, not early
    gaps = reassemble(text, pieces)
    assert all(gap and gap.isspace() for gap in gaps)  # cut where there was a space or newline


def test_a_long_text_of_lines_is_cut_at_a_newline() -> None:
    text = ("а" * 99 + "\n") * 150
    pieces = split_text(text)
    assert all(len(piece) <= 7000 for piece in pieces)
    assert pieces[0] == text[:6999]
    assert reassemble(text, pieces) == ["\n", "\n"]
    assert "".join(pieces).count("а") == 99 * 150


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    text = "я" * 20_000
    pieces = split_text(text)
    assert pieces == ["я" * 7000, "я" * 7000, "я" * 6000]
    assert "".join(pieces) == text


def test_split_text_with_a_smaller_limit() -> None:
    assert split_text("один два три", limit=5) == ["один", "два", "три"]


# --- messages ------------------------------------------------------------------------------------


def test_text_message_shapes() -> None:
    assert text_message("Привіт") == {"type": "text", "text": "Привіт"}
    assert text_message("Привіт", []) == {"type": "text", "text": "Привіт"}
    assert text_message("Меню", MAIN_MENU) == {
        "type": "text",
        "text": "Меню",
        "keyboard": keyboard(MAIN_MENU),
    }


def test_picture_message_shape() -> None:
    assert picture_message("https://example.invalid/p.jpg") == {
        "type": "picture",
        "text": "",
        "media": "https://example.invalid/p.jpg",
    }
    assert picture_message("https://example.invalid/p.jpg", "Квитанція")["text"] == "Квитанція"


def test_sender() -> None:
    assert sender("АТ «ОТКЕ»") == {"name": "АТ «ОТКЕ»"}
    assert sender("АТ «ОТКЕ»", "") == {"name": "АТ «ОТКЕ»"}
    assert sender("АТ «ОТКЕ»", None) == {"name": "АТ «ОТКЕ»"}
    assert sender("АТ «ОТКЕ»", "https://example.invalid/a.png") == {
        "name": "АТ «ОТКЕ»",
        "avatar": "https://example.invalid/a.png",
    }
    name = "Облтеплокомуненерго, м. Чернігів"
    assert len(name) > 28
    assert sender(name) == {"name": name[:28]}
    assert len(sender("Я" * 28)["name"]) == 28


def test_send_message_payload_shape() -> None:
    payload = send_message_payload("01234567890A==", text_message("Привіт"), sender("АТ «ОТКЕ»"))
    assert payload == {
        "receiver": "01234567890A==",
        "sender": {"name": "АТ «ОТКЕ»"},
        "type": "text",
        "text": "Привіт",
    }


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (0, "ok"),
        (1, "invalid url"),
        (2, "invalid auth token"),
        (5, "receiver not registered"),
        (6, "receiver not subscribed"),
        (12, "too many requests"),
        (21, "unknown status"),
        (999, "unknown status"),
        (-1, "unknown status"),
        (None, "no status"),
        ("0", "no status"),
        ("ok", "no status"),
        (0.0, "no status"),
        ({}, "no status"),
    ],
)
def test_status_meaning(status: object, meaning: str) -> None:
    assert status_meaning(status) == meaning


def test_the_constants_are_the_documented_limits() -> None:
    assert viber_api.MAX_TEXT == 7000
    assert viber_api.MAX_SENDER_NAME == 28
    assert viber_api.MAX_BUTTON_TEXT == 250
    assert viber_api.MAX_CALLBACK_BYTES == 30 * 1024
    assert viber_api.DEFAULT_API_URL == "https://chatapi.viber.com/pa"
    assert len(viber_api.DEFAULT_SENDER_NAME) <= 28


# --- the official SDK builds the same JSON -------------------------------------------------------

TEXTS = [
    "Привіт",
    "Оберіть, що бажаєте зробити:",
    "Рядок 1\nРядок 2 «лапки» & <b>теги</b>",
    "x" * 7000,
]
BUTTON_SETS: list[list[dict[str, Any]] | None] = [
    None,
    MAIN_MENU,
    [{"title": "Розпочати", "payload": "/greet"}],
    [{"title": LONG, "payload": LONG}, {"title": "Скасувати", "payload": "/cancel"}],
]


@pytest.mark.parametrize("buttons", BUTTON_SETS)
@pytest.mark.parametrize("text", TEXTS)
def test_text_message_is_the_sdks(text: str, buttons: list[dict[str, Any]] | None) -> None:
    board = keyboard(buttons) if buttons else None
    official = TextMessage(text=text, keyboard=board)
    assert official.validate()
    assert text_message(text, buttons) == official.to_dict()


def test_picture_message_is_the_sdks() -> None:
    url = "https://example.invalid/receipt.jpg"
    official = PictureMessage(media=url, text="")
    assert official.validate()
    as_dict = official.to_dict()
    assert as_dict.pop("thumbnail") is None  # the SDK sends "thumbnail": null; we leave it out
    assert picture_message(url) == as_dict


def official_payload(message: Any, receiver: str, name: str, avatar: str | None) -> dict[str, Any]:
    config = BotConfiguration(auth_token=TOKEN, name=name, avatar=avatar)
    sdk = MessageSender(logging.getLogger("viberbot-test"), None, config)
    payload: dict[str, Any] = sdk._prepare_payload(
        message=message, sender_name=config.name, sender_avatar=config.avatar, receiver=receiver
    )
    return payload


@pytest.mark.parametrize("buttons", BUTTON_SETS)
@pytest.mark.parametrize("text", TEXTS[:3])
def test_the_send_payload_is_the_sdks_without_the_token(
    text: str, buttons: list[dict[str, Any]] | None
) -> None:
    avatar = "https://example.invalid/otke.png"
    board = keyboard(buttons) if buttons else None
    official = official_payload(TextMessage(text=text, keyboard=board), "01234567890A==", "АТ «ОТКЕ»", avatar)
    ours = send_message_payload("01234567890A==", text_message(text, buttons), sender("АТ «ОТКЕ»", avatar))
    # The SDK puts the token in the body; we send it as the X-Viber-Auth-Token header only.
    assert official.pop("auth_token") == TOKEN
    official.pop("from", None)
    official.pop("chat_id", None)
    assert ours == official
    assert "auth_token" not in ours


def test_the_send_payload_without_an_avatar() -> None:
    official = official_payload(TextMessage(text="Привіт"), "u1", "АТ «ОТКЕ»", None)
    ours = send_message_payload("u1", text_message("Привіт"), sender("АТ «ОТКЕ»"))
    official.pop("auth_token")
    # The SDK sends "avatar": null; we leave the key out. Everything else is the same.
    assert official.pop("sender") == {"name": "АТ «ОТКЕ»", "avatar": None}
    assert ours.pop("sender") == {"name": "АТ «ОТКЕ»"}
    assert ours == official


def test_a_picture_payload_is_the_sdks() -> None:
    url = "https://example.invalid/receipt.jpg"
    avatar = "https://example.invalid/otke.png"
    official = official_payload(PictureMessage(media=url, text=""), "u1", "АТ «ОТКЕ»", avatar)
    official.pop("auth_token")
    ours = send_message_payload("u1", picture_message(url), sender("АТ «ОТКЕ»", avatar))
    assert ours == official  # the SDK's top-level "thumbnail": null is dropped by the SDK itself


# --- the callbacks the end-to-end tests send are Viber's (tests/e2e/test_viber.py) ---------------

USER = {
    "id": "01234567890A1234567890==",
    "name": "Олена Петренко",
    "avatar": "https://example.invalid/avatar.jpg",
    "country": "UA",
    "language": "uk",
    "api_version": 10,
}
NOW = int(time.time() * 1000)


def message_callback(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": NOW,
        "chat_hostname": "SN-376_",
        "message_token": 5_000_000_000_000_000_001,
        "sender": USER,
        "message": {"type": "text", "text": text, **extra},
        "silent": False,
    }


NON_TEXT = [
    {"type": "sticker", "sticker_id": 46105},
    {"type": "picture", "media": "https://example.invalid/p.jpg", "text": ""},
    {"type": "location", "location": {"lat": 51.49, "lon": 31.29}},
    {"type": "contact", "contact": {"name": "Іван", "phone_number": "+380501234567"}},
    {"type": "file", "media": "https://example.invalid/f.pdf", "file_name": "f.pdf", "size": 100},
    {"type": "video", "media": "https://example.invalid/v.mp4", "size": 100},
    {"type": "url", "media": "https://example.invalid/"},
]


def test_the_e2e_text_message_is_a_viber_callback() -> None:
    request = create_request(message_callback("128.45"))
    assert isinstance(request, ViberMessageRequest)
    assert request.sender.id == USER["id"]
    assert request.sender.name == USER["name"]
    assert request.sender.language == "uk"
    assert request.message.text == "128.45"
    assert request.message_token == 5_000_000_000_000_000_001
    assert request.timestamp == NOW


@pytest.mark.parametrize("kind", NON_TEXT, ids=[k["type"] for k in NON_TEXT])
def test_the_e2e_non_text_messages_are_viber_callbacks(kind: dict[str, Any]) -> None:
    callback = message_callback("")
    callback["message"] = kind
    request = create_request(callback)
    assert isinstance(request, ViberMessageRequest)
    assert type(request.message).__name__.lower().startswith(kind["type"])
    assert request.message.validate()


def test_the_e2e_subscription_callbacks_are_viber_callbacks() -> None:
    started = create_request(
        {
            "event": "conversation_started",
            "timestamp": NOW,
            "message_token": 1,
            "type": "open",
            "context": "",
            "user": USER,
            "subscribed": False,
        }
    )
    assert isinstance(started, ViberConversationStartedRequest)
    assert (started.user.id, started.type, started.subscribed) == (USER["id"], "open", False)

    joined = create_request({"event": "subscribed", "timestamp": NOW, "message_token": 2, "user": USER})
    assert isinstance(joined, ViberSubscribedRequest)
    assert joined.user.id == USER["id"]

    left = create_request(
        {"event": "unsubscribed", "timestamp": NOW, "message_token": 3, "user_id": USER["id"]}
    )
    assert isinstance(left, ViberUnsubscribedRequest)
    assert left.user_id == USER["id"]


@pytest.mark.parametrize("event", ["webhook", "delivered", "seen", "failed"])
def test_the_e2e_status_callbacks_are_viber_callbacks(event: str) -> None:
    callback = {"event": event, "timestamp": 1, "message_token": 7, "user_id": USER["id"], "desc": "x"}
    request = create_request(callback)
    assert request.event_type == event
    if isinstance(request, ViberFailedRequest):
        assert request.desc == "x"


@pytest.mark.parametrize("event", ["client_status", "something_new"])
def test_the_e2e_unknown_events_are_unknown_to_the_sdk_too(event: str) -> None:
    # The channel acknowledges them (Viber may add events); the SDK does not know them either.
    with pytest.raises(Exception, match="not supported"):
        create_request({"event": event, "timestamp": 1})
