"""Property-based fuzzing of the Viber webhook: whatever arrives, the answer is 200 or a 4xx.

Hypothesis generates bodies (malformed JSON, wrong types in every field, missing fields, huge and
deeply nested bodies, invalid UTF-8, control, bidi, zero-width and emoji texts) and signatures
(right, wrong, missing) against the real Rasa server, action server and register. After each
example neither server has logged a traceback and no reading, account, meter or registration has
appeared; after each property a normal turn still completes. The examples are derandomized and
nothing is remembered between runs, so CI tries the same ones every time.
"""

from __future__ import annotations

import itertools
import json
import string
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.register.meter import enrol_meter, find_meter, meter_number_candidates
from actions.register.models import Account, Meter, Reading, subscriber_meters
from actions.register.reading import ReadingRefused, parse_reading
from actions.register.subscriber import Identity, get_or_create_subscriber
from custom_channels import viber_api
from tests.support.paths import OUTPUT, ROOT
from tests.support.servers import (
    VIBER_TOKEN,
    Servers,
    action_server_command,
    free_port,
    rasa_command,
    start_process,
    stop_process,
    wait_until_up,
)

# Deterministic and bounded: the same examples on every run, nothing remembered between runs.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# Servers of this module's own, so their logs hold only what the fuzzing caused.
LOGS = ("fuzz-rasa-server.log", "fuzz-action-server.log")
MENU_GREETING = "Привіт"

_tokens = itertools.count(int(time.time() * 1000) * 1000 + 500_000)


def new_user_id() -> str:
    return f"{uuid.uuid4().hex[:22]}=="


def message_callback(user_id: str, text: str) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-376_",
        "message_token": next(_tokens),
        "sender": {"id": user_id, "name": "Фазер", "language": "uk", "country": "UA", "api_version": 10},
        "message": {"type": "text", "text": text},
        "silent": False,
    }


def encode(callback: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \\udxxx escapes, as a client with broken UTF-16 sends them
    return json.dumps(callback, ensure_ascii=True).encode()


# --- what must hold after every property -------------------------------------------------------


class FuzzServers(Servers):
    def __repr__(self) -> str:
        return f"FuzzServers({self.rasa_url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # hypothesis prints the fixtures of a failing example: not the whole fake Viber
        printer.text(repr(self))


@dataclass(repr=False)
class Watch:
    servers: Servers
    counts: dict[str, int]
    offsets: dict[str, int]

    def __repr__(self) -> str:
        return f"Watch({self.counts})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @staticmethod
    def count(servers: Servers) -> dict[str, int]:
        with servers.engine.connect() as connection:
            return {
                name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
                for name, table in (
                    ("readings", Reading),
                    ("accounts", Account),
                    ("meters", Meter),
                    ("registrations", subscriber_meters),
                )
            }

    @staticmethod
    def size(log: str) -> int:
        path = OUTPUT / log
        return path.stat().st_size if path.exists() else 0

    def new_log(self, log: str) -> str:
        path: Path = OUTPUT / log
        with path.open("rb") as file:
            file.seek(self.offsets[log])
            return file.read().decode("utf-8", "replace")

    def assert_unharmed(self) -> None:
        """After each example: no traceback in either log, nothing new in the register."""
        for log in LOGS:
            written = self.new_log(log)
            if "Traceback" in written:
                pytest.fail(f"{log}:\n{written[-6000:]}")
        counts = self.count(self.servers)
        if counts != self.counts:
            pytest.fail(f"the register changed: {self.counts} -> {counts}")

    def assert_still_serving(self) -> None:
        """After all examples of a property: a normal turn still completes."""
        user = new_user_id()
        answer = self.servers.viber(message_callback(user, MENU_GREETING))
        if answer.status_code != 200 or not self.servers.viber_api.texts_to(user):
            pytest.fail(f"a normal turn failed: HTTP {answer.status_code} {answer.text[:200]}")


@pytest.fixture(scope="module")
def fuzzed(servers: Servers, model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A Rasa server and an action server like the session's (same register, same fake Viber),
    logging to files of their own: the session's logs are shared with every other e2e test."""
    action_port, rasa_port = free_port(), free_port()
    endpoints = tmp_path_factory.mktemp("fuzz") / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    action, action_log = start_process(
        LOGS[1].removesuffix(".log"), action_server_command(action_port), servers.env
    )
    command = rasa_command(model_path, endpoints, ROOT / "credentials.yml")
    rasa, rasa_log = start_process(
        LOGS[0].removesuffix(".log"), [*command, "--port", str(rasa_port)], servers.env
    )
    try:
        wait_until_up(f"http://127.0.0.1:{action_port}/health", action, action_log)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/webhooks/viber/", rasa, rasa_log)
        yield FuzzServers(
            f"http://127.0.0.1:{rasa_port}",
            f"http://127.0.0.1:{action_port}",
            servers.database_url,
            servers.engine,
            servers.viber_api,
            command,
            servers.env,
        )
    finally:
        stop_process(rasa)
        stop_process(action)


@pytest.fixture
def watch(fuzzed: Servers) -> Iterator[Watch]:
    """The register's counts and the logs' lengths now; each example checks them, and a normal
    turn must complete after the property."""
    watch = Watch(fuzzed, Watch.count(fuzzed), {log: Watch.size(log) for log in LOGS})
    yield watch
    watch.assert_unharmed()
    watch.assert_still_serving()


def sent_to(servers: Servers, user_id: str) -> list[dict[str, Any]]:
    return servers.viber_api.sent_to(user_id)


def post(servers: Servers, body: bytes, signature: str | bytes | None = "sign") -> httpx.Response:
    try:
        answer = servers.viber_raw(body, signature=signature)
    except httpx.TransportError as error:  # a crashed or hung server
        pytest.fail(f"no HTTP answer ({type(error).__name__}) for {body[:200]!r}")
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (answer.status_code, body[:300])
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    return answer


# --- strategies ---------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

# Characters people and broken clients send: controls, bidi and zero-width marks, emoji with
# joiners and variation selectors, lone surrogates, other scripts' digits, the full-width block.
NASTY_CHARACTERS = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u2028\u2029"
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u034f"
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
    "\U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467\ufe0f\u20e3\U0001f1fa\U0001f1e6"
    "\ud800\udbff\udc00\udfff"
    "\u0661\u0662\u0663\u066b\u06f1\u0967\uff11\uff12\uff0e\uff0c\u00b2\u00b3\u2155\u2460"
    "\u0301\u0306\u0489\ufffd\uffff\U0010ffff"
)
nasty_text = st.text(
    alphabet=st.sampled_from(NASTY_CHARACTERS)
    | st.characters(codec="utf-8")
    | st.sampled_from(string.digits + ".,-"),
    max_size=60,
)
HOSTILE_TEXTS = [
    "",
    " ",
    "\u200b",
    "\u202e54.321\u202c",
    "\u200f123.45\u200e",
    "/",
    "/greet",
    "/submit_reading",
    '/submit_reading{"meter_id": "1"}',
    '/submit_reading{"meter_id": {"$ne": null}}',
    '/submit_reading{"meter_id": [1, 2]}',
    '/submit_reading{"meter_id": null}',
    '/submit_reading{"meter_id": "1"',
    "/submit_reading@2.5",
    "/submit_reading@-1",
    '/register_meter{"account_number": "12345", "meter_number": "222222"}',
    "/nonexistent_intent",
    "/conversation_started",
    "/unsubscribed",
    "/non_text_message",
    "/affirm",
    "'; DROP TABLE readings;--",
    "1 OR 1=1",
    "{account_number}",
    "{{7*7}}",
    "${7*7}",
    "%s%s%n",
    "{0.__class__}",
    "<script>alert(1)</script>",
    "я" * 7001,
    "1" * 10_000,
    "1 " * 4_000 + "a",
    "1.1." * 2_500,
    "\U0001f600" * 3_000,
]
message_texts = st.sampled_from(HOSTILE_TEXTS) | nasty_text


# --- properties ---------------------------------------------------------------------------------


@settings(FUZZ, max_examples=40)
@given(body=st.binary(max_size=400))
def test_arbitrary_bytes(fuzzed: Servers, watch: Watch, body: bytes) -> None:
    post(fuzzed, body)
    watch.assert_unharmed()


@settings(FUZZ, max_examples=40)
@given(value=json_values)
def test_any_json_value_as_the_body(fuzzed: Servers, watch: Watch, value: Any) -> None:
    post(fuzzed, encode(value))
    watch.assert_unharmed()


EVENTS = [
    "message",
    "conversation_started",
    "subscribed",
    "unsubscribed",
    "webhook",
    "delivered",
    "seen",
    "failed",
]
# Every field a callback has, as a path into the callback.
FIELDS = [
    ("event",),
    ("timestamp",),
    ("message_token",),
    ("chat_hostname",),
    ("silent",),
    ("sender",),
    ("sender", "id"),
    ("sender", "name"),
    ("sender", "language"),
    ("sender", "country"),
    ("sender", "api_version"),
    ("sender", "avatar"),
    ("user",),
    ("user", "id"),
    ("user", "name"),
    ("user_id",),
    ("message",),
    ("message", "type"),
    ("message", "text"),
    ("message", "tracking_data"),
    ("message", "media"),
    ("desc",),
]
SPECIAL_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        2**63,
        2**64 + 1,
        10**300,
        1.5,
        "",
        " ",
        "\x00",
        "\ud800",
        "a" * 300,
        "\u202e" * 10,
        [],
        {},
        [None],
        {"id": None},
    ]
)


def full_callback(event: str, user_id: str, text: str) -> dict[str, Any]:
    callback = message_callback(user_id, text)
    callback["event"] = event
    callback["user"] = dict(callback["sender"])
    callback["user_id"] = user_id
    return callback


@st.composite
def mutated_callbacks(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed callback of some event with a few fields deleted or of the wrong type."""
    callback = full_callback(
        draw(st.sampled_from(EVENTS)), new_user_id(), draw(st.sampled_from(["Привіт", "12345"]))
    )
    for path in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        parent = callback
        for key in path[:-1]:
            child = parent.get(key)
            if not isinstance(child, dict):
                break
            parent = child
        else:
            if draw(st.booleans()):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(SPECIAL_VALUES | json_values)
    return callback


def with_field(path: tuple[str, ...], value: Any, event: str = "message") -> dict[str, Any]:
    callback = full_callback(event, new_user_id(), "Привіт")
    parent = callback
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return callback


# Callbacks that broke the channel once (found by the fuzzer or by reading the code), kept so
# every run tries them: each gave a 500 or a traceback before the channel checked ids and tokens.
FOUND = [
    with_field(("message_token",), "\ud800"),  # a Redis key cannot hold a lone surrogate
    with_field(("message_token",), "7" * 300),  # longer than readings.message_id
    with_field(("sender", "id"), "a" * 256),  # longer than subscribers.channel_user_id
    with_field(("sender", "id"), "\x00"),  # PostgreSQL refuses NUL
    with_field(("sender", "id"), "\ud800"),
    with_field(("sender", "name"), "Олена\x00"),
    with_field(("sender", "name"), "\udc00"),
    with_field(("sender", "language"), "uk\x00"),
    with_field(("user", "name"), "\x00", "subscribed"),
    with_field(("user_id",), "\x00", "unsubscribed"),
]


@pytest.mark.parametrize("callback", FOUND)
def test_what_the_fuzzer_found(fuzzed: Servers, watch: Watch, callback: dict[str, Any]) -> None:
    post(fuzzed, encode(callback))
    watch.assert_unharmed()


@settings(FUZZ, max_examples=100)
@given(callback=mutated_callbacks())
def test_missing_fields_and_wrong_types(fuzzed: Servers, watch: Watch, callback: dict[str, Any]) -> None:
    post(fuzzed, encode(callback))
    watch.assert_unharmed()


@settings(FUZZ, max_examples=60)
@given(text=message_texts)
def test_hostile_texts_are_answered(fuzzed: Servers, watch: Watch, text: str) -> None:
    user = new_user_id()
    body = encode(message_callback(user, text))
    answer = post(fuzzed, body)
    if len(body) > viber_api.MAX_CALLBACK_BYTES:
        assert answer.status_code == 413
        assert sent_to(fuzzed, user) == []
    else:
        assert answer.status_code == 200, answer.text
        if not text.strip().startswith("/"):
            # Anything typed that is not a command gets an answer (commands may legitimately not).
            assert sent_to(fuzzed, user), repr(text[:100])
        for sent in sent_to(fuzzed, user):
            assert len(str(sent.get("text", ""))) <= viber_api.MAX_TEXT
    watch.assert_unharmed()


@dataclass
class Reader:
    """A Viber subscriber who registered the demo meter 333333 (directly in the register)."""

    user_id: str


@pytest.fixture
def reader(fuzzed: Servers) -> Reader:
    user_id = new_user_id()
    with Session(fuzzed.engine) as session, session.begin():
        subscriber = get_or_create_subscriber(session, Identity("viber", user_id))
        meter = find_meter(session, "23456", "333333")
        assert meter is not None
        enrol_meter(session, subscriber.id, meter.id)
    return Reader(user_id)


def turn(servers: Servers, user_id: str, text: str) -> list[str]:
    before = len(servers.viber_api.texts_to(user_id))
    answer = post(servers, encode(message_callback(user_id, text)))
    assert answer.status_code == 200, answer.text
    return servers.viber_api.texts_to(user_id)[before:]


def fits_a_callback(text: str) -> bool:
    return len(encode(text)) < viber_api.MAX_CALLBACK_BYTES - 1000


def refused_as_reading(text: str) -> bool:
    try:
        parse_reading(text)
    except ReadingRefused:
        return True
    return False


@settings(FUZZ, max_examples=25)
@given(text=message_texts.filter(fits_a_callback))
def test_hostile_texts_as_a_reading(fuzzed: Servers, reader: Reader, watch: Watch, text: str) -> None:
    assume(refused_as_reading(text))
    asked = turn(fuzzed, reader.user_id, "/submit_reading")
    assert "в форматі ХХХ.ХХ" in asked[-1], asked
    assert turn(fuzzed, reader.user_id, text), repr(text[:100])
    turn(fuzzed, reader.user_id, "/cancel")
    watch.assert_unharmed()


@settings(FUZZ, max_examples=25)
@given(text=message_texts.filter(fits_a_callback), stage=st.sampled_from(["account", "meter"]))
def test_hostile_texts_in_the_registration_form(fuzzed: Servers, watch: Watch, text: str, stage: str) -> None:
    assume(not {"111111", "222222"} & set(meter_number_candidates(text)))
    user_id = new_user_id()
    asked = turn(fuzzed, user_id, "/register_meter")
    if stage == "meter":
        asked = turn(fuzzed, user_id, "12345")
        assert asked[-1].startswith("Зазначте номер вашого приладу обліку"), asked
    assert turn(fuzzed, user_id, text), repr(text[:100])
    watch.assert_unharmed()


@settings(FUZZ, max_examples=8)
@given(size=st.integers(min_value=viber_api.MAX_CALLBACK_BYTES + 1, max_value=300_000), signed=st.booleans())
def test_huge_bodies_are_refused_with_413(fuzzed: Servers, watch: Watch, size: int, signed: bool) -> None:
    user = new_user_id()
    callback = message_callback(user, "")
    callback["message"]["text"] = "я" * size  # at least 2 bytes a letter: more than `size` bytes
    answer = post(fuzzed, json.dumps(callback, ensure_ascii=False).encode(), "sign" if signed else None)
    assert answer.status_code == 413
    assert sent_to(fuzzed, user) == []
    watch.assert_unharmed()


@settings(FUZZ, max_examples=10)
@given(
    depth=st.integers(min_value=1, max_value=15_000),
    where=st.sampled_from(FIELDS),
    kind=st.sampled_from("[{"),
)
def test_deeply_nested_json(
    fuzzed: Servers, watch: Watch, depth: int, where: tuple[str, ...], kind: str
) -> None:
    nested = "[" * depth + "]" * depth if kind == "[" else '{"a":' * depth + "1" + "}" * depth
    callback = full_callback("message", new_user_id(), "Привіт")
    marker = "__NESTED__"
    parent = callback
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = marker
    body = json.dumps(callback).replace(f'"{marker}"', nested).encode()
    answer = post(fuzzed, body)
    if len(body) > viber_api.MAX_CALLBACK_BYTES:
        assert answer.status_code == 413
    watch.assert_unharmed()


@settings(FUZZ, max_examples=20)
@given(
    garbage=st.binary(min_size=1, max_size=8).filter(lambda raw: not _is_utf8(raw)),
    where=st.sampled_from(["text", "id", "event", "token", "key"]),
)
def test_invalid_utf8_is_a_400(fuzzed: Servers, watch: Watch, garbage: bytes, where: str) -> None:
    user = new_user_id()
    text, user_id, event, token, key = b"hi", user.encode(), b"message", b"1", b"silent"
    if where == "text":
        text += garbage
    elif where == "id":
        user_id += garbage
    elif where == "event":
        event += garbage
    elif where == "token":
        token += garbage
    else:
        key += garbage
    body = (
        b'{"event": "' + event + b'", "message_token": "' + token + b'", "' + key + b'": false, '
        b'"sender": {"id": "' + user_id + b'"}, "message": {"type": "text", "text": "' + text + b'"}}'
    )
    answer = post(fuzzed, body)
    assert answer.status_code == 400
    assert sent_to(fuzzed, user) == []
    watch.assert_unharmed()


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


signatures = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=80),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.binary(max_size=80),
)


@settings(FUZZ, max_examples=40)
@given(
    how=st.sampled_from(["garbage", "other token", "other body", "truncated", "extended"]),
    garbage=signatures,
    text=st.sampled_from(["Привіт", "Додати лічильник", "12345"]),
)
def test_wrong_or_missing_signatures_are_a_403(
    fuzzed: Servers, watch: Watch, how: str, garbage: str | bytes | None, text: str
) -> None:
    user = new_user_id()
    body = encode(message_callback(user, text))
    right = viber_api.signature(body, VIBER_TOKEN)
    signature: str | bytes | None = {
        "garbage": garbage,
        "other token": viber_api.signature(body, "not-" + VIBER_TOKEN),
        "other body": viber_api.signature(body + b" ", VIBER_TOKEN),
        "truncated": right[:-1],
        "extended": right + "0",
    }[how]
    if isinstance(signature, str) and signature.strip().lower() == right:
        return  # hypothesis found the right signature: not a wrong one
    if isinstance(signature, str):
        signature = signature.encode("utf-8", "surrogatepass")
    if signature is not None:
        # what an HTTP client can put in a header at all: no control characters
        signature = bytes(byte for byte in signature if byte >= 0x20 and byte != 0x7F).strip()
    answer = post(fuzzed, body, signature)
    assert answer.status_code == 403, (signature, answer.status_code)
    assert sent_to(fuzzed, user) == []
    watch.assert_unharmed()
