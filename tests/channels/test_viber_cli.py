"""`otke viber ...` as operators run it: a subprocess against a fake Viber API that records every
call, and for `remind` a PostgreSQL schema of the test's own with real commits."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ruamel.yaml import YAML
from sqlalchemy import text

from actions.operators.demo import seed_demo
from actions.operators.reminder import STALE_CLAIM
from actions.register import db
from actions.register.meter import enrol_meter, find_meter
from actions.register.models import Reminder, ReminderStatus
from actions.register.reading import submit_reading
from actions.register.subscriber import Identity, get_or_create_subscriber, set_subscribed
from tests.support.fake_viber import Call, FakeViber, start_fake_viber
from tests.support.moments import TEST_MOMENT

ROOT = Path(__file__).resolve().parents[2]
OTKE = Path(sys.executable).with_name("otke")
TOKEN = "cli-test-token-5d0e8a"
UNREACHABLE = "http://127.0.0.1:1/pa"
CLOSED_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/test"
HOOK = "https://bot.otke.example/webhooks/viber/webhook"
EVENTS = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]
KYIV = ZoneInfo("Europe/Kyiv")
SENDER = {"name": "АТ «ОТКЕ»"}


def otke(
    *args: str, api_url: str, token: str | None = TOKEN, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("VIBER_AUTH_TOKEN", "VIBER_API_URL", "VIBER_SENDER_NAME")
    }
    env.setdefault("DATABASE_URL", CLOSED_DATABASE)  # a webhook command must not need the register
    env["VIBER_API_URL"] = api_url
    if token is not None:
        env["VIBER_AUTH_TOKEN"] = token
    result = subprocess.run(
        [str(OTKE), *args], capture_output=True, text=True, env=env | (extra or {}), timeout=60, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeViber]:
    fake = start_fake_viber()
    yield fake
    fake.stop()


@pytest.fixture
def viber(fake_api: FakeViber) -> FakeViber:
    """The module's fake Viber API, forgetting what earlier tests did to it."""
    with fake_api.lock:
        fake_api.calls.clear()
    fake_api.statuses.clear()
    fake_api.endpoint_statuses.clear()
    fake_api.on_call = None
    return fake_api


# --- set-webhook, unset-webhook, account-info ----------------------------------------------------


def test_set_webhook(viber: FakeViber) -> None:
    result = otke("viber", "set-webhook", HOOK, api_url=viber.url)
    assert result.returncode == 0, result.stderr
    assert viber.calls == [
        Call(
            "set_webhook",
            TOKEN,
            {"url": HOOK, "event_types": EVENTS, "send_name": True, "send_photo": False},
        )
    ]
    assert HOOK in result.stdout
    assert ", ".join(EVENTS) in result.stdout  # the events Viber confirmed


@pytest.mark.parametrize(
    "url",
    [
        "http://bot.otke.example/webhooks/viber/webhook",
        "garbage",
        "",
        "https://",
        "https:///webhooks/viber/webhook",
        "https://[::1",
        "ftp://bot.otke.example/",
        "bot.otke.example/webhooks/viber/webhook",
    ],
)
def test_set_webhook_refuses_anything_but_https(viber: FakeViber, url: str) -> None:
    result = otke("viber", "set-webhook", url, api_url=viber.url)
    assert result.returncode == 2
    assert "HTTPS" in result.stderr
    assert viber.calls == []


def test_unset_webhook(viber: FakeViber) -> None:
    result = otke("viber", "unset-webhook", api_url=viber.url)
    assert result.returncode == 0, result.stderr
    assert viber.calls == [Call("set_webhook", TOKEN, {"url": ""})]
    assert "від'єднано" in result.stdout


def test_account_info(viber: FakeViber) -> None:
    result = otke("viber", "account-info", api_url=viber.url)
    assert result.returncode == 0, result.stderr
    assert viber.calls == [Call("get_account_info", TOKEN, {})]
    assert result.stdout.splitlines() == [
        "id: pa:otke",
        "name: АТ «ОТКЕ»",
        "uri: chernihiv_otke",
        "subscribers_count: 10500",
    ]


COMMANDS = {
    "set-webhook": (["viber", "set-webhook", HOOK], "set_webhook"),
    "unset-webhook": (["viber", "unset-webhook"], "set_webhook"),
    "account-info": (["viber", "account-info"], "get_account_info"),
}


@pytest.mark.parametrize(("command", "token"), [(c, None) for c in COMMANDS] + [("account-info", "  ")])
def test_no_token_is_a_clear_error(viber: FakeViber, command: str, token: str | None) -> None:
    result = otke(*COMMANDS[command][0], api_url=viber.url, token=token)
    assert result.returncode == 4
    assert "VIBER_AUTH_TOKEN" in result.stderr
    assert result.stdout == ""
    assert viber.calls == []


@pytest.mark.parametrize(
    ("command", "status", "meaning"),
    [
        ("set-webhook", 1, "invalid url"),
        ("set-webhook", 2, "invalid auth token"),
        ("unset-webhook", 2, "invalid auth token"),
        ("account-info", 2, "invalid auth token"),
    ],
)
def test_a_refusal_from_viber_is_reported(viber: FakeViber, command: str, status: int, meaning: str) -> None:
    args, endpoint = COMMANDS[command]
    viber.endpoint_statuses[endpoint] = status
    result = otke(*args, api_url=viber.url)
    assert result.returncode == 4
    assert f"status {status} ({meaning})" in result.stderr
    assert result.stdout == ""
    assert [call.endpoint for call in viber.calls] == [endpoint]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unreachable_api_is_reported(command: str) -> None:
    result = otke(*COMMANDS[command][0], api_url=UNREACHABLE)
    assert result.returncode == 4
    assert "Viber API недоступний" in result.stderr
    assert result.stdout == ""


# --- remind ----------------------------------------------------------------------------------------

TODAY = TEST_MOMENT.astimezone(KYIV)  # the seed's readings are relative to the run's clock
PERIOD = f"{TODAY.year:04d}-{TODAY.month:02d}"
IN_WINDOW = TODAY.replace(day=26, hour=12, minute=0, second=0, microsecond=0).isoformat()
BEFORE_WINDOW = TODAY.replace(day=10, hour=12, minute=0, second=0, microsecond=0).isoformat()

USERS = {
    "olena": "olenaA0123456789abcdef==",  # two meters, neither read this period: due
    "ivan": "ivanB0123456789abcdefgh==",  # one of two meters read already: due for the other
    "petro": "petroC0123456789abcdef==",  # his only meter read: not due
    "left": "leftD0123456789abcdefgh==",  # unsubscribed: not due
    "nometers": "nomeE0123456789abcdefg==",  # no meters: not due
    "rest": "restF0123456789abcdefgh==",  # a REST subscriber: never reminded on Viber
}
TITLES = {
    "111111": "Тепло · №111111 · о/р 12345",
    "222222": "Гаряча вода · №222222 · о/р 12345",
    "333333": "Гаряча вода · №333333 · о/р 23456",
    "444444": "Тепло · №444444 · о/р 34567",
    "555555": "Гаряча вода · №555555 · о/р 34567",
}
ACCOUNT = {"111111": "12345", "222222": "12345", "333333": "23456", "444444": "34567", "555555": "34567"}


def reminder_text(*meters: str) -> str:
    domain = YAML(typ="safe").load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    template = domain["responses"]["utter_reading_reminder"][0]["text"]
    assert template.startswith("Нагадуємо: з 25-го до останнього числа місяця")
    return str(template.format(meters="; ".join(TITLES[m] for m in meters)))


REMINDER_KEYBOARD = {
    "Type": "keyboard",
    "DefaultHeight": False,
    "Buttons": [
        {
            "Columns": 6,
            "Rows": 1,
            "ActionType": "reply",
            "ActionBody": "/submit_reading",
            "Text": "Передати показання",
            "TextSize": "regular",
            "Silent": True,
        }
    ],
}


def reminder(user: str, *meters: str) -> dict[str, Any]:
    return {
        "receiver": USERS[user],
        "sender": SENDER,
        "type": "text",
        "text": reminder_text(*meters),
        "keyboard": REMINDER_KEYBOARD,
    }


@pytest.fixture
def register(committed_db: str) -> dict[str, int]:
    """The demo register with six subscribers; their subscriber ids by name."""
    with db.transaction() as session:
        seed_demo(session)
    ids: dict[str, int] = {}
    with db.transaction() as session:

        def subscriber(name: str, *meters: str, channel: str = "viber", subscribed: bool = True) -> None:
            person = set_subscribed(session, Identity(channel, USERS[name]), subscribed)
            session.flush()
            for number in meters:
                meter = find_meter(session, ACCOUNT[number], number)
                assert meter is not None
                enrol_meter(session, person.id, meter.id)
            ids[name] = person.id

        subscriber("olena", "222222", "333333")
        subscriber("ivan", "111111", "444444")
        subscriber("petro", "555555")
        subscriber("left", "444444", subscribed=False)
        subscriber("nometers")
        subscriber("rest", "222222", channel="rest")
        for number in ("111111", "555555"):
            meter = find_meter(session, ACCOUNT[number], number)
            assert meter is not None
            submit_reading(session, meter.id, Decimal("999.99"), channel="viber", period=PERIOD)
        assert get_or_create_subscriber(session, Identity("viber", USERS["olena"])).id == ids["olena"]
    return ids


def reminders() -> list[tuple[int, str, str]]:
    with db.engine().connect() as connection:
        rows = connection.execute(
            text("SELECT subscriber_id, period, status, updated_at FROM reminders ORDER BY subscriber_id")
        ).all()
    assert all(row.updated_at is not None and row.updated_at.tzinfo is not None for row in rows)
    return [(row.subscriber_id, row.period, row.status) for row in rows]


def subscribed() -> dict[int, bool]:
    with db.engine().connect() as connection:
        rows = connection.execute(text("SELECT id, subscribed FROM subscribers")).all()
    return {row.id: row.subscribed for row in rows}


def sends(viber: FakeViber) -> list[dict[str, Any]]:
    with viber.lock:
        assert all(call.token == TOKEN for call in viber.calls)
        return [call.body for call in viber.calls if call.endpoint == "send_message"]


def remind(viber: FakeViber | None, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return otke("viber", "remind", *args, api_url=viber.url if viber else UNREACHABLE, **kwargs)


def summary(sent: int, skipped: int, failed: int) -> str:
    return f"Період {PERIOD}: надіслано {sent}, пропущено {skipped}, з помилками {failed}"


def test_remind_sends_nothing_outside_the_window(viber: FakeViber, register: dict[str, int]) -> None:
    before = subscribed()
    result = remind(viber, "--now", BEFORE_WINDOW)
    assert result.returncode == 2
    assert "вікні передачі показань" in result.stderr and "нічого не надіслано" in result.stderr
    for args in (["--now", "10.11.2026"], ["--now", "garbage"], ["--now", IN_WINDOW, "--rate", "0"]):
        refused = remind(viber, *args)
        assert refused.returncode == 2, args
    assert remind(viber, "--now", IN_WINDOW, "--rate", "nan").returncode == 2
    assert sends(viber) == []
    assert reminders() == []
    assert subscribed() == before


def test_dry_run_lists_and_sends_and_writes_nothing(viber: FakeViber, register: dict[str, int]) -> None:
    before = subscribed()
    result = remind(viber, "--dry-run", "--now", IN_WINDOW, token=None)  # needs no token
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{USERS['olena'][:6]}…: {TITLES['222222']}; {TITLES['333333']}",
        f"{USERS['ivan'][:6]}…: {TITLES['444444']}",
        f"Період {PERIOD}: було б надіслано 2, пропущено 0 (уже нагадано)",
    ]
    assert viber.calls == []
    assert reminders() == []
    assert subscribed() == before


def test_remind_once_per_due_subscriber(viber: FakeViber, register: dict[str, int]) -> None:
    # naive --now: a Kyiv wall-clock moment
    now = IN_WINDOW[:16]
    result = remind(viber, "--now", now)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [summary(sent=2, skipped=0, failed=0)]
    assert sends(viber) == [reminder("olena", "222222", "333333"), reminder("ivan", "444444")]
    assert reminders() == [(register["olena"], PERIOD, "sent"), (register["ivan"], PERIOD, "sent")]

    again = remind(viber, "--now", now)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [summary(sent=0, skipped=2, failed=0)]
    assert len(sends(viber)) == 2  # nobody got a second one
    assert reminders() == [(register["olena"], PERIOD, "sent"), (register["ivan"], PERIOD, "sent")]

    listed = remind(viber, "--dry-run", "--now", now)
    assert (
        listed.stdout.splitlines()[-1] == f"Період {PERIOD}: було б надіслано 0, пропущено 2 (уже нагадано)"
    )
    assert all(line.endswith("(уже нагадано)") for line in listed.stdout.splitlines()[:-1])


def test_remind_without_a_token_claims_nothing(viber: FakeViber, register: dict[str, int]) -> None:
    for token in (None, " "):
        result = remind(viber, "--now", IN_WINDOW, token=token)
        assert result.returncode == 4
        assert result.stderr.count("VIBER_AUTH_TOKEN") == 1
    assert viber.calls == []
    assert reminders() == []


def test_a_receiver_who_left_is_marked_unsubscribed(viber: FakeViber, register: dict[str, int]) -> None:
    viber.statuses[USERS["olena"]] = 6  # receiver not subscribed
    result = remind(viber, "--now", IN_WINDOW)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [summary(sent=1, skipped=0, failed=1)]
    assert f"{USERS['olena'][:6]}…: status 6 (receiver not subscribed)" in result.stderr
    assert [body["receiver"] for body in sends(viber)] == [USERS["olena"], USERS["ivan"]]
    assert reminders() == [(register["olena"], PERIOD, "failed"), (register["ivan"], PERIOD, "sent")]
    assert subscribed()[register["olena"]] is False
    assert subscribed()[register["ivan"]] is True

    viber.statuses.clear()
    again = remind(viber, "--now", IN_WINDOW)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [summary(sent=0, skipped=1, failed=0)]
    assert len(sends(viber)) == 2  # she is not retried: she left
    assert reminders() == [(register["olena"], PERIOD, "failed"), (register["ivan"], PERIOD, "sent")]


def test_failed_sends_are_retried_by_the_next_run(viber: FakeViber, register: dict[str, int]) -> None:
    unreachable = remind(None, "--now", IN_WINDOW)
    assert unreachable.returncode == 1
    assert unreachable.stdout.splitlines() == [summary(sent=0, skipped=0, failed=2)]
    assert unreachable.stderr.count("Viber API недоступний (ConnectError)") == 2
    assert reminders() == [(register["olena"], PERIOD, "failed"), (register["ivan"], PERIOD, "failed")]

    viber.statuses[USERS["olena"]] = 12  # too many requests
    throttled = remind(viber, "--now", IN_WINDOW, "--rate", "100")
    assert throttled.returncode == 1
    assert throttled.stdout.splitlines() == [summary(sent=1, skipped=0, failed=1)]
    assert "status 12 (too many requests)" in throttled.stderr
    assert reminders() == [(register["olena"], PERIOD, "failed"), (register["ivan"], PERIOD, "sent")]
    assert subscribed()[register["olena"]] is True  # a busy Viber is no reason to drop her

    # While Viber is being called, her reminder is claimed ("sending"): a crash cannot resend it.
    seen: list[str] = []

    def while_sending(call: Call) -> None:
        with db.engine().connect() as connection:
            seen.append(
                connection.scalar(
                    text("SELECT status FROM reminders WHERE subscriber_id = :id"), {"id": register["olena"]}
                )
            )

    viber.statuses.clear()
    viber.on_call = while_sending
    retried = remind(viber, "--now", IN_WINDOW)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.splitlines() == [summary(sent=1, skipped=1, failed=0)]
    assert seen == ["sending"]
    assert sends(viber) == [
        reminder("olena", "222222", "333333"),
        reminder("ivan", "444444"),
        reminder("olena", "222222", "333333"),
    ]
    assert reminders() == [(register["olena"], PERIOD, "sent"), (register["ivan"], PERIOD, "sent")]


def test_a_claim_left_by_a_run_that_died_is_taken_over_later(
    viber: FakeViber, register: dict[str, int]
) -> None:
    """A run killed between claiming a reminder and recording the send leaves it "sending": a later
    run sends it once the claim is STALE_CLAIM old, and leaves a fresh claim (a run in progress) alone."""
    now = TEST_MOMENT  # the clock of the commands the tests run (OTKE_NOW)
    with db.transaction() as session:
        for name, age in (("olena", STALE_CLAIM + dt.timedelta(seconds=1)), ("ivan", STALE_CLAIM / 2)):
            session.add(
                Reminder(
                    subscriber_id=register[name],
                    period=PERIOD,
                    status=ReminderStatus.SENDING,
                    updated_at=now - age,
                )
            )
    listed = remind(viber, "--dry-run", "--now", IN_WINDOW)
    assert (
        listed.stdout.splitlines()[-1] == f"Період {PERIOD}: було б надіслано 1, пропущено 1 (уже нагадано)"
    )
    result = remind(viber, "--now", IN_WINDOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [summary(sent=1, skipped=1, failed=0)]
    assert sends(viber) == [reminder("olena", "222222", "333333")]
    assert reminders() == [(register["olena"], PERIOD, "sent"), (register["ivan"], PERIOD, "sending")]
