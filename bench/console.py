"""The staff console at scale: 100,000 conversations (about a million Rasa tracker events) and a
register of 20,000 meters in PostgreSQL, the index catching up, then every page timed over HTTP.

    .venv/bin/python bench/console.py                          # 100,000 conversations (minutes)
    .venv/bin/python bench/console.py --conversations 2000     # smoke run
    .venv/bin/python bench/console.py --keep                   # leave the databases for EXPLAIN

Two throw-away PostgreSQL databases beside ADMIN_URL's (tests/support/database.py): the tracker
store, with Rasa's ``events`` table and its sender_id index, and the register, migrated to head.
The register: 15,000 accounts with 20,000 meters (bench/import_accounts.py's two-meter accounts and
one-meter ones, through billing's importer), 10,500 subscribers on Viber and the web chat, their
enrolments, and readings of the current and the previous period. The conversations: scripted
sessions of several kinds per sender over 60 days (greetings, readings, registrations with refused
values, forms left unfinished, fallbacks, out of scope, near-ties, action server failures), built
with tests/support/tracker_events.py, interleaved by time as Rasa writes them and loaded with COPY.

It times the index catching up from nothing (in this process, as `otke console index` runs it) and
an incremental run, starts `otke console serve --workers 2`, signs in over HTTP and times each page
(3 warm-ups, then --repeats requests one after another: p50/p90/max), then the Conversations page
right after 2,000 new events arrived (a request indexes up to 2,000 itself), and the workers' peak RSS.

The clock is fixed (OTKE_NOW, --now) at noon on the 28th: the current period's readings are coming
in (its window opened on the 25th) and the previous period's are all in. The databases are vacuumed
and analysed after loading, as autovacuum leaves them in service. Results: bench/results/console.json
and console.md; the server's log in bench/results/logs/console-serve.log. Exit status 1 when a page's
p90 is 300 ms or more.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import os
import platform
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from ruamel.yaml import YAML
from sqlalchemy import create_engine, func, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.console import dashboard, index, tracker  # noqa: E402
from actions.console.dashboard import REFUSAL_REASONS  # noqa: E402
from actions.console.models import Conversation, InboxMessage, InboxStatus  # noqa: E402
from actions.operators.billing import import_accounts  # noqa: E402
from actions.register import clock, db, schema  # noqa: E402
from actions.register.models import Account, Meter  # noqa: E402
from actions.register.period import KYIV, period_of, previous_period  # noqa: E402
from bench.conversations import children, free_port, peak_rss_mb, percentile  # noqa: E402
from bench.import_accounts import PERIOD as BILLING_PERIOD  # noqa: E402
from bench.import_accounts import generate_csv  # noqa: E402
from tests.support.database import ADMIN_URL  # noqa: E402
from tests.support.tracker_events import action, bot, loop, session_start, slot, user  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
OTKE = ROOT / ".venv" / "bin" / "otke"
TARGET_MS = 300.0
TWO_METER_ACCOUNTS = 5_000  # bench/import_accounts.py's rows: heat and hot water on each
ONE_METER_ACCOUNTS = 10_000
SUBSCRIBERS = 10_500
DAYS = 60
CONVERSATIONS_PER_SENDER = 4  # on average; a few senders have dozens
STAFF = "bench.admin"
PASSWORD = "bench console password"
NEW_EVENTS = 2_000  # what a Conversations or Inbox request indexes at most (index_events batch)


def say(line: str) -> None:
    print(line, flush=True)


@contextmanager
def timed(figures: dict[str, Any], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    figures[name] = round(time.perf_counter() - started, 2)


# --- databases ----------------------------------------------------------------------------------


@contextmanager
def bench_database(prefix: str, keep: bool) -> Iterator[str]:
    """A new PostgreSQL database on ADMIN_URL's server; dropped afterwards unless kept. Yields its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            say(f"kept database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq(url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def copy_rows(url: str, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY rows into a table in one transaction; returns how many."""
    count = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with (
        psycopg.connect(libpq(url)) as connection,
        connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def vacuum_analyze(url: str) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


# --- the register -------------------------------------------------------------------------------

FIRST_NAMES = ("Олена", "Іван", "Марія", "Петро", "Оксана", "Андрій", "Наталія", "Сергій", "Тетяна", "Віктор")
STREETS = (
    "Шевченка",
    "Незалежності",
    "Реміснича",
    "П’ятницька",
    "Гетьмана Полуботка",
    "Київська",
    "Козацька",
)


@dataclass
class Sender:
    sender_id: str
    channel: str
    subscriber: bool
    # what the channel sends with each message: Viber's user profile; nothing from the web chat
    metadata: dict[str, Any] = field(default_factory=dict)


def viber_profile(name: str) -> dict[str, Any]:
    return {"name": name, "language": "uk", "country": "UA", "api_version": 10}


@dataclass
class Register:
    senders: list[Sender]
    figures: dict[str, int]


def account_lines(folder: Path) -> list[str]:
    """bench/import_accounts.py's two-meter accounts, then one-meter accounts numbered after them."""
    path = folder / "accounts.csv"
    generate_csv(path, 2 * TWO_METER_ACCOUNTS)
    lines = path.read_text(encoding="utf-8").splitlines()
    for number in range(ONE_METER_ACCOUNTS):
        account = 10000 + TWO_METER_ACCOUNTS + number
        kind = "heat" if number % 5 == 0 else "hot_water"
        address = (
            f"м. Чернігів, вул. {STREETS[number % len(STREETS)]}, {number // 60 + 1}, кв. {number % 60 + 1}"
        )
        value = f"{(account * 53) % 900 + 10}.{number % 100:02d}"
        lines.append(f'{account},"{address}",{200000 + number},{kind},{value},{BILLING_PERIOD}')
    return lines


def build_register(url: str, now: dt.datetime, rng: random.Random, figures: dict[str, Any]) -> Register:
    """Accounts and meters through billing's importer; subscribers, enrolments and readings by COPY."""
    engine = db.make_engine(url)
    try:
        with engine.begin() as connection:
            schema.upgrade("head", connection)
        with tempfile.TemporaryDirectory(prefix="otke-bench-") as folder, timed(figures, "import_accounts_s"):
            lines = account_lines(Path(folder))
            with db.transaction() as session:
                report = import_accounts(session, lines)
            if report.errors:
                sys.exit(f"the generated accounts did not import: {report}")
        with engine.connect() as connection:
            meters = connection.execute(
                select(Meter.id, Account.number).join(Account).order_by(Account.number, Meter.number)
            ).all()
            seeded = dict(
                connection.execute(
                    text("SELECT meter_id, value FROM readings WHERE channel = 'import'")
                ).all()
            )
        with timed(figures, "register_copy_s"):
            senders, counts = _subscribers(url, now, rng, meters, seeded)
    finally:
        engine.dispose()
    counts |= {"accounts": ONE_METER_ACCOUNTS + TWO_METER_ACCOUNTS, "meters": len(meters)}
    return Register(senders, counts)


def _subscribers(
    url: str,
    now: dt.datetime,
    rng: random.Random,
    meters: list[Any],
    seeded: dict[int, Decimal],
) -> tuple[list[Sender], dict[str, int]]:
    rows, senders = [], []
    for number in range(SUBSCRIBERS):
        channel = "viber" if rng.random() < 0.78 else "socketio"
        user_id = (
            "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=22))
            + "=="
            if channel == "viber"
            else f"{rng.getrandbits(128):032x}"
        )
        created = now - dt.timedelta(days=rng.uniform(5, 400))
        name = f"{FIRST_NAMES[number % len(FIRST_NAMES)]} {number}" if channel == "viber" else None
        rows.append((channel, user_id, name, "uk", rng.random() > 0.04, created))
        profile = viber_profile(name) if name else {}
        senders.append(Sender(f"{channel}:{user_id}", channel, True, profile))
    copy_rows(
        url,
        "subscribers",
        ("channel", "channel_user_id", "display_name", "language", "subscribed", "created_at"),
        rows,
    )
    with psycopg.connect(libpq(url)) as connection:
        ids = [row[0] for row in connection.execute("SELECT id FROM subscribers ORDER BY id")]

    by_account: dict[str, list[int]] = {}
    for meter_id, account in meters:
        by_account.setdefault(account, []).append(meter_id)
    accounts = list(by_account)
    rng.shuffle(accounts)
    enrolments: dict[tuple[int, int], dt.datetime] = {}
    owner: dict[int, tuple[int, str, dt.datetime]] = {}  # meter -> the subscriber who sends its readings
    for subscriber, row in zip(ids, rows, strict=True):
        wanted = rng.choices((0, 1, 2), weights=(6, 80, 14))[0]
        if not wanted or not accounts:
            continue
        # one in twenty is a second person on an account already registered (family, other channel)
        account = rng.choice(list(by_account)) if rng.random() < 0.05 else accounts.pop()
        for meter_id in by_account[account][:wanted]:
            enrolled = row[5] + dt.timedelta(minutes=rng.uniform(1, 60 * 24 * 20))
            enrolments[(subscriber, meter_id)] = min(enrolled, now - dt.timedelta(hours=1))
            owner.setdefault(meter_id, (subscriber, row[0], enrolments[(subscriber, meter_id)]))
    copy_rows(
        url,
        "subscriber_meters",
        ("subscriber_id", "meter_id", "enrolled_at"),
        ((subscriber, meter_id, at) for (subscriber, meter_id), at in enrolments.items()),
    )

    current = period_of(now)
    previous = previous_period(current)
    readings, message = [], 1_000_000_000_000_000
    counts = {"previous": 0, "current": 0, "superseded": 0}
    for meter_id, (subscriber, channel, enrolled) in owner.items():
        value = seeded.get(meter_id, Decimal("100.00"))
        for period, share, days in ((previous, 0.86, None), (current, 0.46, now)):
            if rng.random() > share:
                continue
            value += Decimal(rng.randint(50, 2500)) / 100
            when = _submitted(rng, period, days)
            if when < enrolled:
                continue
            if rng.random() < 0.04:  # sent twice: the first one superseded
                message += 1
                readings.append(
                    (
                        meter_id,
                        period,
                        value - 1,
                        when - dt.timedelta(minutes=3),
                        channel,
                        subscriber,
                        str(message),
                        "superseded",
                    )
                )
                counts["superseded"] += 1
            message += 1
            readings.append((meter_id, period, value, when, channel, subscriber, str(message), "accepted"))
            counts["previous" if period == previous else "current"] += 1
    copy_rows(
        url,
        "readings",
        ("meter_id", "period", "value", "submitted_at", "channel", "subscriber_id", "message_id", "status"),
        readings,
    )
    unregistered = [
        Sender(
            f"viber:{rng.getrandbits(120):030x}"
            if channel == "viber"
            else f"socketio:{rng.getrandbits(128):032x}",
            channel,
            False,
            viber_profile(rng.choice(FIRST_NAMES)) if channel == "viber" else {},
        )
        for channel in rng.choices(("viber", "socketio"), weights=(75, 25), k=SUBSCRIBERS * 3 // 2)
    ]
    counts |= {
        "subscribers": len(ids),
        "enrolments": len(enrolments),
        "registered_meters": len(owner),
        "readings_previous_period": counts.pop("previous"),
        "readings_current_period": counts.pop("current"),
        "readings_superseded": counts.pop("superseded"),
        "readings_imported": len(seeded),
    }
    return senders + unregistered, counts


def _submitted(rng: random.Random, period: str, until: dt.datetime | None) -> dt.datetime:
    """Mostly in the window (from the 25th), some earlier in the month; never after ``until``."""
    year, month = (int(part) for part in period.split("-"))
    first = 25 if rng.random() < 0.88 else 1
    start = dt.datetime(year, month, first, 7, tzinfo=KYIV)
    end = until or dt.datetime(year, month, 28, 22, tzinfo=KYIV)
    return start + (end - start) * rng.random()


# --- conversations --------------------------------------------------------------------------------

GREETINGS = ("Привіт", "Добрий день", "Доброго дня!", "Вітаю", "добрий вечір")
UNSURE = (
    "а коли дадуть гарячу воду", "чому такий великий рахунок за опалення", "не можу знайти номер лічильника",
    "як оплатити через приват24", "лічильник не крутиться", "скільки коштує гігакалорія",
    "коли буде перерахунок", "у мене немає квитанції", "де подивитися борг", "хочу змінити власника рахунку",
    "опалення не гріє", "батареї холодні", "передайте майстру", "коли повірка лічильника",
    "треба замінити лічильник", "куди дзвонити якщо прорвало трубу", "а можна показання за минулий місяць",
    "я вже передавав показання", "чому не приймає показання", "ви бот чи людина", "з'єднайте з оператором",
    "як відключитися від опалення", "скільки я винен", "де ваш офіс", "графік роботи абонвідділу",
    "не приходить квитанція", "у квитанції помилка", "лічильник зламався", "пломба зірвана", "субсидія",
    "хочу розірвати договір", "тариф на гарячу воду", "чи є знижка пенсіонерам", "а шо робити", "ало",
    "нічого не зрозумів", "не той лічильник", "видаліть мій номер", "чому вода ледь тепла", "коли опалювальний сезон",
)  # fmt: skip
PREFIXES = ("", "", "добрий день, ", "підкажіть, ", "скажіть будь ласка ", "Доброго дня! ")
SUFFIXES = ("", "", "?", "??", " будь ласка", ", вул. Шевченка {n} кв {m}", " рахунок {account}", "!")
INTENTS = ("greet", "goodbye", "thank", "affirm", "deny", "cancel", "help", "contacts", "out_of_scope",
           "inform_number", "register_meter", "submit_reading", "my_meters", "reading_history", "remove_meter")  # fmt: skip
REFUSED_READINGS = {
    "utter_reading_not_a_number": "сто двадцять",
    "utter_reading_too_many_decimals": "123.456",
    "utter_reading_too_many_digits": "12345.6",
    "utter_reading_below_previous": "{low}",
    "utter_reading_negative": "-{value}",
    "utter_reading_empty": " ",
}
REFUSED_ACCOUNTS = {
    "utter_account_not_digits": "о/р {account}а",
    "utter_account_wrong_length": "{short}",
    "utter_account_unknown": "9{short}",
}
REFUSED_METERS = {
    "utter_meter_number_invalid": "лічильник",
    "utter_meter_not_on_account": "{meter}",
    "utter_registration_failed": "{meter}",
}


class Responses:
    """domain.yml's responses: the text (placeholders filled) and buttons a bot event carries."""

    def __init__(self) -> None:
        domain = YAML(typ="safe").load((ROOT / "domain.yml").read_text(encoding="utf-8"))
        self.responses: dict[str, list[dict[str, Any]]] = domain["responses"]
        for name in REFUSAL_REASONS:
            if name not in self.responses:
                sys.exit(f"{name} (REFUSAL_REASONS) is not a response in domain.yml")

    def event(self, name: str, values: dict[str, str]) -> dict[str, Any]:
        if name not in self.responses:
            sys.exit(f"the bench says {name}, which domain.yml does not have")
        variant = self.responses[name][0]
        words = re.sub(r"\{(\w+)\}", lambda match: values.get(match.group(1), "1"), variant.get("text", ""))
        buttons = variant.get("buttons")
        return bot(words, name, **({"buttons": buttons} if buttons else {}))


class Talk:
    """One conversation's events with their moments, in the order Rasa logs them."""

    def __init__(
        self, rng: random.Random, responses: Responses, sender: Sender, start: float, *, opens: bool = True
    ) -> None:
        self.rng, self.responses, self.channel, self.moment = rng, responses, sender.channel, start
        self.metadata = sender.metadata
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.spoken = not opens
        if opens:
            for event in session_start(self.metadata):
                # Rasa sets the metadata slot only when the channel sent metadata
                if self.metadata or event["event"] != "slot":
                    self.add(event, 0.005)

    def add(self, event: dict[str, Any], gap: float) -> None:
        self.moment += gap
        self.events.append((self.moment, event))

    def says(
        self,
        words: str,
        intent: str,
        confidence: float | None = None,
        *,
        entities: Iterable[tuple[str, str]] = (),
        second: float | None = None,
    ) -> None:
        rng = self.rng
        confidence = rng.uniform(0.9, 0.999) if confidence is None else confidence
        others = rng.sample([name for name in INTENTS if name != intent], 6)
        ranking = [{"name": intent, "confidence": confidence}]
        rest = 1.0 - confidence
        if second is not None:
            ranking.append({"name": others.pop(), "confidence": second})
            rest -= second
        for name in others:
            share = rest * rng.uniform(0.3, 0.7)
            ranking.append({"name": name, "confidence": share})
            rest -= share
        found = [
            {
                "entity": name,
                "value": value,
                "start": 0,
                "end": len(value),
                "extractor": "RegexEntityExtractor",
            }
            for name, value in entities
        ]
        # the first message opened the session; the next ones took the subscriber a while to type
        gap = min(600.0, rng.lognormvariate(2.3, 0.7)) if self.spoken else 0.01
        self.spoken = True
        self.add(
            user(words, intent, confidence, entities=found, ranking=ranking, channel=self.channel,
                 message_id=f"{rng.getrandbits(64):016x}", metadata=self.metadata),
            gap,
        )  # fmt: skip
        self.add({"event": "user_featurization", "use_text_for_featurization": False}, 0.01)

    def does(self, name: str) -> None:
        self.add(action(name), self.rng.uniform(0.01, 0.3))

    def utters(self, response: str, *, by: str | None = None, **values: str) -> None:
        """A response; ``by`` a custom action that sent it (no action event of its own), else the utter action."""
        if by is None:
            self.does(response)
        self.add(self.responses.event(response, values), 0.01)

    def sets(self, name: str, value: Any) -> None:
        self.add(slot(name, value), 0.005)

    def form(self, name: str | None) -> None:
        self.add(loop(name), 0.005)

    def listens(self) -> None:
        self.does("action_listen")

    def pressed(self, payload: str, words: str) -> tuple[str, float]:
        """A menu button in Viber or the web chat (its payload), or the same words typed."""
        return (payload, 1.0) if self.rng.random() < 0.7 else (words, self.rng.uniform(0.85, 0.99))

    # --- what subscribers do ---

    def welcome(self) -> None:
        self.says("/conversation_started", "conversation_started", 1.0)
        self.utters("utter_welcome")
        self.listens()

    def greet(self) -> None:
        words, confidence = self.pressed("/greet", self.rng.choice(GREETINGS))
        self.says(words, "greet", confidence)
        self.does("action_remember_subscriber")
        self.utters("utter_greet")
        self.listens()

    def thanks(self) -> None:
        self.says(self.rng.choice(("Дякую", "дякую!", "Спасибі")), "thank")
        self.utters("utter_you_are_welcome")
        self.listens()
        if self.rng.random() < 0.5:
            self.says("До побачення", "goodbye")
            self.does("action_deactivate_loop")
            self.form(None)
            self.utters("utter_goodbye")
            self.listens()

    def start_form(self, intent: str, payload: str, words: str, starter: str, form: str) -> None:
        said, confidence = self.pressed(payload, words)
        self.says(said, intent, confidence)
        self.does("action_deactivate_loop")
        self.form(None)
        self.does(starter)
        if form == "reading_form":
            self.sets("reading_start", "ask")
        else:
            self.sets("registration_blocked", False)
        self.does(form)
        self.form(form)

    def reading(self, *, leave: bool = False, refuse: bool | None = None) -> None:
        rng = self.rng
        self.start_form(
            "submit_reading", "/submit_reading", "Передати показання", "action_start_reading", "reading_form"
        )
        self.sets("requested_slot", "meter_id")
        self.does("action_ask_meter_id")
        self.utters("utter_ask_meter_id", by="action_ask_meter_id")
        self.listens()
        meter = str(rng.randint(1, 20_000))
        self.says(
            f'/submit_reading{{"meter_id":"{meter}"}}', "submit_reading", 1.0, entities=[("meter_id", meter)]
        )
        self.does("reading_form")
        self.sets("meter_id", meter)
        self.sets("requested_slot", "reading_value")
        self.does("action_ask_reading_value")
        self.utters("utter_meter_summary", by="action_ask_reading_value")
        self.utters("utter_ask_reading_value", by="action_ask_reading_value")
        self.listens()
        if leave:
            self.leaves()
            return
        value = f"{rng.uniform(10, 990):.2f}"
        if rng.random() < 0.18 if refuse is None else refuse:
            reason = rng.choice(list(REFUSED_READINGS))
            words = REFUSED_READINGS[reason].format(value=value, low=f"{float(value) / 3:.2f}")
            self.says(words, "inform_number", rng.uniform(0.7, 0.99))
            self.does("reading_form")
            self.utters(reason, by="reading_form", value=words, previous=value)
            self.sets("reading_value", None)
            self.does("action_ask_reading_value")
            self.utters("utter_ask_reading_value", by="action_ask_reading_value")
            self.listens()
        typed = value.replace(".", ",") if rng.random() < 0.4 else value
        self.says(typed, "inform_number", entities=[("reading_value", typed)])
        self.does("reading_form")
        self.sets("reading_value", value)
        self.sets("requested_slot", None)
        self.form(None)
        self.does("action_submit_reading")
        self.utters("utter_reading_accepted", by="action_submit_reading", value=value)
        self.sets("meter_id", None)
        self.sets("reading_value", None)
        self.listens()

    def registration(self, *, leave: bool = False) -> None:
        rng = self.rng
        self.start_form(
            "register_meter",
            "/register_meter",
            "Додати лічильник",
            "action_start_registration",
            "registration_form",
        )
        self.sets("requested_slot", "account_number")
        self.utters("utter_ask_account_number", by="registration_form")
        self.listens()
        account, meter = str(rng.randint(10000, 24999)), str(rng.randint(100000, 209999))
        if rng.random() < 0.3:
            reason = rng.choice(list(REFUSED_ACCOUNTS))
            words = REFUSED_ACCOUNTS[reason].format(account=account, short=account[:4])
            self.says(words, "inform_number", rng.uniform(0.6, 0.99), entities=[("account_number", words)])
            self.does("registration_form")
            self.utters(reason, by="registration_form", account_number=words)
            self.sets("account_number", None)
            self.utters("utter_ask_account_number", by="registration_form")
            self.listens()
        if leave:
            self.leaves()
            return
        self.says(account, "inform_number", entities=[("account_number", account)])
        self.does("registration_form")
        self.sets("account_number", account)
        self.sets("requested_slot", "meter_number")
        self.utters("utter_ask_meter_number", by="registration_form")
        self.listens()
        if rng.random() < 0.15:
            reason = rng.choice(list(REFUSED_METERS))
            words = REFUSED_METERS[reason].format(meter=str(int(meter) + 7))
            self.says(words, "inform_number", rng.uniform(0.6, 0.99))
            self.does("registration_form")
            self.utters(reason, by="registration_form", meter_number=words, account_number=account)
            self.sets("meter_number", None)
            self.utters("utter_ask_meter_number", by="registration_form")
            self.listens()
        self.says(
            f"№{meter}" if rng.random() < 0.2 else meter, "inform_number", entities=[("meter_number", meter)]
        )
        self.does("registration_form")
        self.sets("meter_number", meter)
        self.sets("requested_slot", None)
        self.form(None)
        self.does("action_register_meter")
        self.utters("utter_registered", by="action_register_meter")
        self.utters("utter_add_another_meter", by="action_register_meter")
        self.listens()

    def leaves(self) -> None:
        """Away from the form: a question it cannot take, or no answer at all (the form stays open)."""
        if self.rng.random() < 0.5:
            self.unsure("fallback")
            self.does("action_deactivate_loop")
            self.form(None)

    def info(self) -> None:
        choice = self.rng.choice(("my_meters", "reading_history", "contacts", "help"))
        said, confidence = self.pressed(
            f"/{choice}",
            {
                "my_meters": "Мої лічильники",
                "reading_history": "Історія показань",
                "contacts": "Контакти",
                "help": "Допомога",
            }[choice],
        )
        self.says(said, choice, confidence)
        if choice == "my_meters":
            self.does("action_my_meters")
            self.utters("utter_my_meters", by="action_my_meters")
            self.utters("utter_my_meter_line", by="action_my_meters")
        elif choice == "reading_history":
            self.does("action_reading_history")
            self.utters("utter_history_header", by="action_reading_history")
            for _ in range(self.rng.randint(1, 3)):
                self.utters("utter_previous_reading_line", by="action_reading_history")
        else:
            self.utters(f"utter_{choice}")
        self.listens()

    def unsure(self, why: str) -> None:
        """A typed message the model was unsure of: below the fallback threshold, out of scope, or a near-tie."""
        rng = self.rng
        words = rng.choice(UNSURE)
        if rng.random() < 0.25:
            words = f"{words}. {rng.choice(UNSURE)}"
        words = (
            rng.choice(PREFIXES)
            + words
            + rng.choice(SUFFIXES).format(
                n=rng.randint(1, 120), m=rng.randint(1, 200), account=rng.randint(10000, 24999)
            )
        )
        words = words[0].upper() + words[1:] if rng.random() < 0.5 else words
        if why == "fallback":
            self.says(words, "nlu_fallback", 0.4, second=rng.uniform(0.15, 0.39))
            self.utters("utter_default")
        elif why == "out_of_scope":
            self.says(words, "out_of_scope", rng.uniform(0.62, 0.97))
            self.utters("utter_out_of_scope")
        else:  # two intents within the ambiguity margin, Rasa answers the first
            intent = rng.choice(("contacts", "help", "reading_history", "my_meters"))
            confidence = rng.uniform(0.42, 0.58)
            self.says(words, intent, confidence, second=confidence - rng.uniform(0.01, 0.09))
            self.utters("utter_contacts" if intent == "contacts" else "utter_help")
        self.listens()

    def failure(self) -> None:
        self.start_form(
            "submit_reading", "/submit_reading", "Передати показання", "action_start_reading", "reading_form"
        )
        self.add(
            self.responses.event(
                self.rng.choice(("utter_service_unavailable", "utter_service_interrupted")), {}
            ),
            10.0,
        )
        self.form(None)
        self.listens()

    def photo(self) -> None:
        self.says("/non_text_message", "non_text_message", 1.0)
        self.utters("utter_only_text")
        self.listens()

    def window_closed(self) -> None:
        said, confidence = self.pressed("/submit_reading", "Передати показання")
        self.says(said, "submit_reading", confidence)
        self.does("action_deactivate_loop")
        self.form(None)
        self.does("action_start_reading")
        self.sets("reading_start", "window_closed")
        self.utters("utter_reading_window_closed")
        self.listens()


# What a conversation is, weights per 100 for a subscriber with meters and for someone without: most
# sessions are short (the chat opened, a greeting, a menu button); a reading takes about 38 events.
KINDS = {
    "welcome": (32, 36),
    "greet": (26, 26),
    "info": (14, 12),
    "fallback": (7, 8),
    "out_of_scope": (5, 6),
    "margin": (3, 3),
    "photo": (3, 3),
    "failure": (1, 1),
    "window_closed": (1.5, 0),
    "reading": (4, 0),
    "registration": (1, 4),
    "unfinished": (1.5, 2),
    "long": (0.1, 0),
}


def script(talk: Talk, kind: str, day_of_month: int) -> None:
    """The conversation's turns after the session start."""
    rng = talk.rng
    if talk.channel != "viber" and kind in ("welcome", "photo"):
        kind = "greet"  # the web chat has no such events: the page greets
    if kind == "welcome":
        talk.welcome()
    elif kind == "greet":
        talk.greet()
        if rng.random() < 0.15:
            talk.thanks()
    elif kind == "reading":
        if day_of_month < 25 and rng.random() < 0.2:
            talk.window_closed()
        talk.reading()
        if rng.random() < 0.2:
            talk.thanks()
    elif kind == "registration":
        talk.registration()
    elif kind == "info":
        talk.info()
    elif kind in ("fallback", "out_of_scope", "margin"):
        talk.unsure(kind)
        if rng.random() < 0.3:
            talk.info()
    elif kind == "unfinished":
        (talk.reading if rng.random() < 0.5 else talk.registration)(leave=True)
    elif kind == "failure":
        talk.failure()
    elif kind == "photo":
        talk.photo()
    elif kind == "window_closed":
        talk.window_closed()
    elif kind == "long":
        talk.greet()
        for _ in range(rng.randint(3, 6)):
            talk.reading(refuse=rng.random() < 0.5)
        talk.info()
        talk.unsure("margin")
        talk.thanks()


@dataclass(order=True)
class Plan:
    start: float
    sender: int = field(compare=False)


def plans(rng: random.Random, senders: int, conversations: int, now: dt.datetime) -> list[Plan]:
    """Each sender's sessions on different days (07:00-22:00 Kyiv) within DAYS days before ``now``."""
    counts = [1] * senders
    weights = [rng.paretovariate(1.3) for _ in range(senders)]
    for chosen in rng.choices(range(senders), weights=weights, k=conversations - senders):
        counts[chosen] += 1
    overflow = sum(max(0, count - DAYS) for count in counts)
    counts = [min(count, DAYS) for count in counts]
    for chosen in rng.choices(range(senders), k=overflow * 2):
        if overflow and counts[chosen] < DAYS:
            counts[chosen] += 1
            overflow -= 1
    today = now.astimezone(KYIV)
    midnight = today.replace(hour=0, minute=0, second=0, microsecond=0)
    found = []
    for sender, count in enumerate(counts):
        for days_back in rng.sample(range(DAYS), count):
            latest = 11.5 if days_back == 0 else 22.0  # today: before the clock's noon
            hours = rng.uniform(7.0, latest)
            moment = (midnight - dt.timedelta(days=days_back)) + dt.timedelta(hours=hours)
            found.append(Plan(moment.timestamp(), sender))
    found.sort()
    return found


def event_rows(
    rng: random.Random, responses: Responses, senders: list[Sender], conversations: list[Plan]
) -> Iterator[tuple[Any, ...]]:
    """Every conversation's events as rows of Rasa's events table, all senders interleaved by time."""
    waiting: list[tuple[float, int, str, dict[str, Any]]] = []
    order = 0
    for plan in conversations:
        while waiting and waiting[0][0] <= plan.start:
            yield _row(*heapq.heappop(waiting))
        sender = senders[plan.sender]
        talk = Talk(rng, responses, sender, plan.start)
        kinds = list(KINDS)
        weights = [KINDS[kind][0 if sender.subscriber else 1] for kind in kinds]
        day = dt.datetime.fromtimestamp(plan.start, KYIV).day
        script(talk, rng.choices(kinds, weights=weights)[0], day)
        for moment, event in talk.events:
            order += 1
            heapq.heappush(waiting, (moment, order, sender.sender_id, event))
    while waiting:
        yield _row(*heapq.heappop(waiting))


def _row(moment: float, _order: int, sender_id: str, event: dict[str, Any]) -> tuple[Any, ...]:
    data = {**event, "timestamp": moment}
    kind = data["event"]
    intent = ((data.get("parse_data") or {}).get("intent") or {}).get("name") if kind == "user" else None
    return (
        sender_id,
        kind,
        moment,
        intent,
        data.get("name") if kind == "action" else None,
        json.dumps(data, ensure_ascii=False),
    )


EVENT_COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


def create_events_table(url: str) -> None:
    """Rasa's events table and the index on sender_id it creates with it."""
    engine = db.make_engine(url)
    tracker.events.create(engine)
    engine.dispose()


def append_conversations(
    url: str, rng: random.Random, responses: Responses, senders: list[Sender], events: int, after: float
) -> int:
    """New sessions of random senders starting after ``after``, about ``events`` events in all."""
    written = 0
    while written < events:
        chosen = rng.sample(range(len(senders)), min(len(senders), max(1, (events - written) // 10)))
        batch = [Plan(after + 60 * number, sender) for number, sender in enumerate(chosen)]
        rows = list(event_rows(rng, responses, senders, batch))[: events - written]
        written += copy_rows(url, "events", EVENT_COLUMNS, rows)
        after = batch[-1].start + 3600
    return written


def continue_conversations(url: str, rng: random.Random, responses: Responses, senders: int) -> int:
    """The latest conversations of a few senders go on: no new session, a question a minute later."""
    with psycopg.connect(libpq(url)) as connection:
        latest = connection.execute(
            "SELECT sender_id, max(timestamp) FROM events GROUP BY sender_id ORDER BY max(timestamp) DESC LIMIT %s",
            (senders,),
        ).fetchall()
    rows = []
    for sender_id, moment in latest:
        sender = Sender(sender_id, sender_id.split(":", 1)[0], False)
        talk = Talk(rng, responses, sender, moment + 60, opens=False)
        talk.unsure(rng.choice(("fallback", "out_of_scope", "margin")))
        rows += [_row(when, 0, sender_id, event) for when, event in talk.events]
    return copy_rows(url, "events", EVENT_COLUMNS, sorted(rows, key=lambda row: row[2]))


# --- the index ----------------------------------------------------------------------------------


def label_some(register_url: str, rng: random.Random, now: dt.datetime) -> dict[str, int]:
    """What designers did: some inbox groups labelled, some dismissed; an audit log of two months."""
    engine = db.make_engine(register_url)
    with engine.begin() as connection:
        groups = connection.scalars(
            select(InboxMessage.normalised).where(InboxMessage.status == InboxStatus.OPEN).distinct()
        ).all()
        chosen = rng.sample(list(groups), min(len(groups), 250))
        labelled, dismissed = chosen[:150], chosen[150:]
        for normalised in labelled:
            intent = rng.choice(("contacts", "help", "out_of_scope", "reading_history"))
            label = json.dumps({"intent": intent, "text": normalised.replace("#", "1")}, ensure_ascii=False)
            connection.execute(
                text("UPDATE console_inbox SET status = 'labelled', label = :label, labelled_by = 'bench.designer' "
                     "WHERE status = 'open' AND normalised = :normalised"),
                {"label": label, "normalised": normalised},
            )  # fmt: skip
        connection.execute(
            text("UPDATE console_inbox SET status = 'dismissed', labelled_by = 'bench.designer' "
                 "WHERE status = 'open' AND normalised = ANY(:groups)"),
            {"groups": list(dismissed)},
        )  # fmt: skip
    engine.dispose()
    actions = ("reveal", "labelled", "dismissed", "download")
    audit = [
        (
            now - dt.timedelta(days=rng.uniform(0, DAYS)),
            rng.choice(("olena.operator", "bench.designer", "ivan.admin")),
            (kind := rng.choice(actions)),
            f"conversation {rng.randint(1, 100_000)}" if kind == "reveal" else "inbox: …",
            "перевірка скарги абонента" if kind == "reveal" else "",
        )
        for _ in range(3_000)
    ]
    copy_rows(register_url, "staff_audit_log", ("at", "user_name", "action", "target", "detail"), audit)
    return {
        "inbox_groups_labelled": len(labelled),
        "inbox_groups_dismissed": len(dismissed),
        "audit_entries": len(audit),
    }


def index_counts(register_url: str) -> dict[str, int]:
    engine = db.make_engine(register_url)
    with engine.connect() as connection:
        counts = {
            table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("console_conversations", "console_refusals", "console_inbox")
        }
        counts["inbox_groups_open"] = int(
            connection.scalar(
                text("SELECT count(DISTINCT normalised) FROM console_inbox WHERE status = 'open'")
            )
            or 0
        )
        for flag in ("fallback", "refused", "unfinished", "failure", "low_confidence"):
            counts[f"conversations_{flag}"] = int(
                connection.scalar(text(f"SELECT count(*) FROM console_conversations WHERE {flag}")) or 0
            )
        counts["conversations_socketio"] = int(
            connection.scalar(text("SELECT count(*) FROM console_conversations WHERE channel = 'socketio'"))
            or 0
        )
    engine.dispose()
    return counts


def database_mb(url: str) -> float:
    with psycopg.connect(libpq(url)) as connection:
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return round((size[0] if size else 0) / 1e6, 1)


# --- the server and the pages -------------------------------------------------------------------


@contextmanager
def console_server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`otke console serve --workers 2` on a free port, until it answers /healthz."""
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / "console-serve.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [str(OTKE), "console", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the console did not start; see {LOGS / 'console-serve.log'}")
            time.sleep(0.2)
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=120, follow_redirects=False)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if token is None:
        sys.exit("no csrf_token on /login")
    answer = client.post("/login", data={"name": STAFF, "password": PASSWORD, "csrf_token": token.group(1)})
    if answer.status_code != 302:
        sys.exit(f"sign-in refused ({answer.status_code})")
    return client


def time_page(client: httpx.Client, name: str, path: str, repeats: int, warm_ups: int = 3) -> dict[str, Any]:
    timings, size = [], 0
    for number in range(warm_ups + repeats):
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            sys.exit(f"{path}: HTTP {answer.status_code}\n{answer.text[:500]}")
        size = len(answer.content)
        if number >= warm_ups:
            timings.append(elapsed)
    row = {
        "page": name,
        "path": path,
        "bytes": size,
        "p50_ms": round(percentile(timings, 0.5), 1),
        "p90_ms": round(percentile(timings, 0.9), 1),
        "max_ms": round(max(timings), 1),
        "requests": len(timings),
    }
    say(
        f"  {name:<34} p50 {row['p50_ms']:7.1f}  p90 {row['p90_ms']:7.1f}  max {row['max_ms']:7.1f} ms  {size:>9,} B"
    )
    return row


def pages_to_time(register_url: str, now: dt.datetime) -> list[tuple[str, str]]:
    period = period_of(now)
    with db.transaction() as session:
        missing_pages = dashboard.missing_readings(session, period).pages
        conversations = session.scalar(select(func.count()).select_from(Conversation)) or 0
        longest = session.scalar(
            select(Conversation.id).order_by(Conversation.user_messages.desc(), Conversation.id).limit(1)
        )
        open_groups = (
            session.scalar(
                select(func.count(func.distinct(InboxMessage.normalised))).where(
                    InboxMessage.status == InboxStatus.OPEN
                )
            )
            or 0
        )
    list_pages = max(1, -(-conversations // 50))
    inbox_pages = max(1, -(-open_groups // 50))
    local = now.astimezone(KYIV).date()
    week = (local - dt.timedelta(days=30), local - dt.timedelta(days=24))
    dates = f"from={week[0]}&to={week[1]}"
    pages = [
        ("period", "/period/"),
        (f"period, missing page {missing_pages} (last)", f"/period/?page={missing_pages}"),
        ("period missing.csv", "/period/missing.csv"),
        ("period export.csv", "/period/export.csv"),
        ("conversations", "/conversations/"),
        (f"conversations page {min(1000, list_pages)}", f"/conversations/?page={min(1000, list_pages)}"),
        (
            f"conversations page {min(2000, list_pages)} (last)",
            f"/conversations/?page={min(2000, list_pages)}",
        ),
        *(
            (f"conversations problem={flag}", f"/conversations/?problem={flag}")
            for flag in ("fallback", "refused", "unfinished", "failure", "low_confidence")
        ),
        ("conversations channel=socketio", "/conversations/?channel=socketio"),
        ("conversations a week", f"/conversations/?{dates}"),
        ("conversations viber+refused+week", f"/conversations/?channel=viber&problem=refused&{dates}"),
        ("conversations socketio+unfinished", "/conversations/?channel=socketio&problem=unfinished"),
        ("transcript (longest)", f"/conversations/{longest}"),
        ("transcript story.yml", f"/conversations/{longest}/story.yml"),
        ("inbox", "/inbox/"),
        (f"inbox page {inbox_pages} (last)", f"/inbox/?page={inbox_pages}"),
        ("inbox labelled.yml", "/inbox/labelled.yml"),
        ("audit", "/audit/"),
    ]
    paths = {path: name for name, path in reversed(pages)}  # a small run's deep page may be its last
    return [(name, path) for name, path in pages if paths[path] == name]


def index_check_ms(repeats: int = 30) -> dict[str, float]:
    """What each Conversations or Inbox request spends looking for new events when there are none."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        index.index_events(batch=NEW_EVENTS, max_batches=1)
        timings.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(timings, 0.5), 1), "max_ms": round(max(timings), 1)}


def latest_moment(url: str) -> float:
    with psycopg.connect(libpq(url)) as connection:
        row = connection.execute("SELECT max(timestamp) FROM events").fetchone()
    return float(row[0]) if row and row[0] else time.time()


def after_new_events(
    client: httpx.Client, trackers_url: str, rng: random.Random, responses: Responses, senders: list[Sender]
) -> dict[str, Any]:
    """The Conversations page right after NEW_EVENTS events arrived, five times: the request indexes
    them itself, unless a worker's background indexer is at it (then it shows what is indexed)."""
    timings = []
    for _ in range(5):
        append_conversations(
            trackers_url, rng, responses, senders, NEW_EVENTS, latest_moment(trackers_url) + 60
        )
        started = time.perf_counter()
        answer = client.get("/conversations/")
        timings.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            sys.exit(f"/conversations/ after new events: HTTP {answer.status_code}")
    say(f"  {'conversations, 2,000 new events':<34} " + "  ".join(f"{ms:.0f}" for ms in timings) + " ms")
    return {
        "page": f"conversations, right after {NEW_EVENTS:,} new events",
        "path": "/conversations/",
        "timings_ms": [round(ms, 1) for ms in timings],
        "p50_ms": round(percentile(timings, 0.5), 1),
        "max_ms": round(max(timings), 1),
    }


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    machine_busy: int  # jiffies, all cores
    steal: int  # the hypervisor ran another guest on our cores
    console: int  # the console's processes
    bench: int  # this process: the HTTP client


def _process_jiffies(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def cpu_snapshot(server: int) -> CpuSnapshot:
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user to steal, but idle and iowait
    console = sum(_process_jiffies(pid) for pid in (server, *children(server)))
    return CpuSnapshot(time.monotonic(), busy, fields[7], console, _process_jiffies(os.getpid()))


def cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """Cores busy on average: the machine, the console, this client; the rest is PostgreSQL and
    whatever else the machine was running (other work shares it)."""
    ticks = (after.at - before.at) * os.sysconf("SC_CLK_TCK")
    machine, console, bench = (
        (after.machine_busy - before.machine_busy) / ticks,
        (after.console - before.console) / ticks,
        (after.bench - before.bench) / ticks,
    )
    return {
        "machine_busy_cores": round(machine, 2),
        "stolen_cores": round((after.steal - before.steal) / ticks, 2),
        "console_cores": round(console, 2),
        "client_cores": round(bench, 2),
        "postgresql_and_other_cores": round(machine - console - bench, 2),
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    with psycopg.connect(libpq(ADMIN_URL)) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": version[0] if version else "?",
        "load_average_1_5_15_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def default_now() -> dt.datetime:
    """Noon in Kyiv on the 28th of the latest month whose 28th noon has passed."""
    today = dt.datetime.now(KYIV)
    year, month = today.year, today.month
    if (today.day, today.hour) < (28, 12):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return dt.datetime(year, month, 28, 12, tzinfo=KYIV)


def markdown(result: dict[str, Any]) -> str:
    data, setup, indexer, cpu = result["data"], result["setup"], result["indexer"], result["cpu_during_pages"]
    lines = [
        "# The staff console at scale",
        "",
        f"{data['conversations']:,} conversations ({data['events']:,} tracker events, {data['senders']:,} senders, "
        f"{DAYS} days), {data['register']['meters']:,} meters on {data['register']['accounts']:,} accounts, "
        f"{data['register']['subscribers']:,} subscribers; clock {result['now']} (period {result['period']}). "
        f"{result['date']}, {result['machine']['cores']} cores, PostgreSQL {result['machine']['postgresql']}, "
        f"Python {result['machine']['python']}; load average {result['machine']['load_average_1_5_15_at_start']} "
        f"at the start, {result['load_average_1_5_15_during_pages']} after the pages; during the pages the "
        f"machine was busy {cpu['machine_busy_cores']} cores on average, of which the console "
        f"{cpu['console_cores']} and this client {cpu['client_cores']} (the rest: PostgreSQL and other work; "
        f"stolen by the host: {cpu['stolen_cores']}). "
        f"Target p90 < {TARGET_MS:.0f} ms: {'met' if result['within_target'] else 'MISSED: ' + ', '.join(result['missed'])}.",
        "",
        f"`otke console serve --workers 2`, one signed-in admin, requests one after another: 3 warm-ups, then {result['repeats']}.",
        "",
        "| page | p50 ms | p90 ms | max ms | bytes |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row['page']} (`{row['path']}`) | {row['p50_ms']:.1f} | {row['p90_ms']:.1f} | {row['max_ms']:.1f} | {row['bytes']:,} |"
        for row in result["pages"]
    ]
    fresh = result["after_new_events"]
    lines += [
        f"| {fresh['page']} (outside the target) | {fresh['p50_ms']:.1f} | | {fresh['max_ms']:.1f} | |",
        "",
        "| step | figure |",
        "|---|---|",
        f"| register: billing import of {data['register']['meters']:,} meters | {setup['import_accounts_s']:.1f} s |",
        f"| register: subscribers, enrolments, readings (COPY) | {setup['register_copy_s']:.1f} s |",
        f"| conversations generated and written (COPY) | {setup['conversations_s']:.1f} s, {setup['events_per_s']:,} events/s |",
        f"| VACUUM ANALYZE both databases | {setup['vacuum_analyze_s']:.1f} s |",
        f"| index catching up from nothing | {indexer['catch_up_s']:.1f} s, {indexer['catch_up_events_per_s']:,} events/s |",
        f"| index, incremental ({indexer['incremental_events']} new events) | {indexer['incremental_s'] * 1000:.0f} ms |",
        f"| index check with nothing new (each Conversations/Inbox request) | p50 {indexer['check_when_nothing_new']['p50_ms']:.1f} ms, max {indexer['check_when_nothing_new']['max_ms']:.1f} ms |",
        f"| console workers' peak RSS | {', '.join(f'{mb:.0f} MB' for mb in result['memory']['workers_peak_rss_mb'])} (gunicorn master {result['memory']['master_peak_rss_mb']:.0f} MB) |",
        f"| databases | register {data['register_db_mb']:,} MB, tracker store {data['tracker_db_mb']:,} MB |",
        "",
        "Index: " + ", ".join(f"{name} {count:,}" for name, count in data["index"].items()) + ".",
        "",
        "Register: " + ", ".join(f"{name} {count:,}" for name, count in data["register"].items()) + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--conversations", type=int, default=100_000, help="conversations to generate; default 100000"
    )
    parser.add_argument(
        "--repeats", type=int, default=30, help="timed requests per page after 3 warm-ups; default 30"
    )
    parser.add_argument(
        "--now", default="", help="the clock (ISO 8601 with offset); default: noon on the latest 28th"
    )
    parser.add_argument("--seed", type=int, default=2026, help="the generator's seed; default 2026")
    parser.add_argument(
        "--keep", action="store_true", help="leave the two databases (their names are printed)"
    )
    parser.add_argument(
        "--name", default="console", help="results file name under bench/results/; default console"
    )
    args = parser.parse_args()
    if args.conversations < 100:
        parser.error("--conversations: at least 100")
    now = clock.parse_moment(args.now, "--now") if args.now else default_now()
    rng = random.Random(args.seed)
    setup: dict[str, Any] = {}
    indexer: dict[str, Any] = {}
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "now": now.isoformat(),
        "period": period_of(now),
        "repeats": args.repeats,
        "target_p90_ms": TARGET_MS,
    }
    with ExitStack() as stack:
        register_url = stack.enter_context(bench_database("bench_console_register", args.keep))
        trackers_url = stack.enter_context(bench_database("bench_console_trackers", args.keep))
        os.environ.pop("OTKE_PROFILE", None)
        os.environ |= {"DATABASE_URL": register_url, "TRACKER_DB_URL": trackers_url}
        db.reset()
        tracker.reset()
        stack.callback(db.reset)
        stack.callback(tracker.reset)
        clock.set_source(clock.fixed(now))
        stack.callback(clock.set_source, None)

        say(f"register: {TWO_METER_ACCOUNTS + ONE_METER_ACCOUNTS:,} accounts, {SUBSCRIBERS:,} subscribers")
        register = build_register(register_url, now, rng, setup)
        pool = register.senders
        senders = rng.sample(pool, min(len(pool), max(1, args.conversations // CONVERSATIONS_PER_SENDER)))
        say(f"conversations: {args.conversations:,} of {len(senders):,} senders over {DAYS} days (COPY)")
        create_events_table(trackers_url)
        responses = Responses()
        with timed(setup, "conversations_s"):
            talks = plans(rng, len(senders), args.conversations, now)
            events = copy_rows(
                trackers_url, "events", EVENT_COLUMNS, event_rows(rng, responses, senders, talks)
            )
        setup["events_per_s"] = round(events / setup["conversations_s"])
        say(f"  {events:,} events in {setup['conversations_s']:.1f} s ({setup['events_per_s']:,}/s)")
        with timed(setup, "vacuum_analyze_s"):
            vacuum_analyze(trackers_url)
            vacuum_analyze(register_url)

        say("index: catching up from nothing")
        started = time.perf_counter()
        read = index.index_events()
        indexer["catch_up_s"] = round(time.perf_counter() - started, 2)
        indexer["catch_up_events"] = read
        indexer["catch_up_events_per_s"] = round(read / indexer["catch_up_s"])
        say(f"  {read:,} events in {indexer['catch_up_s']:.1f} s ({indexer['catch_up_events_per_s']:,}/s)")
        designers = label_some(register_url, rng, now)
        vacuum_analyze(register_url)
        appended = continue_conversations(trackers_url, rng, responses, 10)
        appended += append_conversations(
            trackers_url, rng, responses, senders, 300, latest_moment(trackers_url) + 60
        )
        started = time.perf_counter()
        indexer["incremental_events"] = index.index_events()
        indexer["incremental_s"] = round(time.perf_counter() - started, 3)
        indexer["incremental_events_per_s"] = round(indexer["incremental_events"] / indexer["incremental_s"])
        say(
            f"  incremental: {indexer['incremental_events']} events in {indexer['incremental_s'] * 1000:.0f} ms"
        )
        indexer["check_when_nothing_new"] = index_check_ms()

        pages = pages_to_time(register_url, now)
        result["data"] = {
            "conversations": args.conversations,
            "senders": len(senders),
            "events": events,
            "events_per_conversation": round(events / args.conversations, 1),
            "register": register.figures,
            "index": index_counts(register_url) | designers,
        }
        env = {
            **os.environ,
            "CONSOLE_SECRET_KEY": secrets.token_urlsafe(48),
            clock.ENVIRONMENT_VARIABLE: now.isoformat(),
        }
        subprocess.run(
            [str(OTKE), "console", "add-user", STAFF, "--role", "admin", "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        say("pages: otke console serve --workers 2")
        with console_server(env) as (url, server), closing(signed_in(url)) as client:
            before = cpu_snapshot(server.pid)
            result["pages"] = [time_page(client, name, path, args.repeats) for name, path in pages]
            result["cpu_during_pages"] = cpu_used(before, cpu_snapshot(server.pid))
            result["load_average_1_5_15_during_pages"] = [round(value, 2) for value in os.getloadavg()]
            result["after_new_events"] = after_new_events(client, trackers_url, rng, responses, senders)
            workers = children(server.pid)
            worker_rss = [round(peak_rss_mb(pid), 1) for pid in workers]
            result["memory"] = {
                "workers_peak_rss_mb": worker_rss,
                "master_peak_rss_mb": round(peak_rss_mb(server.pid) - sum(worker_rss), 1),
            }
        result["data"]["register_db_mb"] = database_mb(register_url)
        result["data"]["tracker_db_mb"] = database_mb(trackers_url)
    result["setup"] = setup
    result["indexer"] = indexer
    result["missed"] = [row["page"] for row in result["pages"] if row["p90_ms"] >= TARGET_MS]
    result["within_target"] = not result["missed"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / args.name
    out.with_suffix(".json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    say(markdown(result))
    say(f"written: {out}.json, .md")
    return 0 if result["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
