"""Servers that the fault and scale-out tests kill, restart and cut off from the database.

A `Stack` is one Rasa server, one action server whose database link runs through a `TcpProxy`
(so a test can take the register away from the action server alone), and a fake Viber API. Tests
drive it as Viber does (signed callbacks) and read the replies from the fake Viber API. Two
profiles: ``production`` (deploy/*.production.yml: PostgreSQL tracker store, atomic Redis lock
store) and ``embedded`` (the default endpoints.yml: in-memory tracker and lock stores).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.orm import Session

from actions.operators.demo import seed_demo
from actions.register import db
from actions.register.models import Meter, Reading, Subscriber, subscriber_meters
from custom_channels import viber_api
from tests.support.database import ADMIN_URL, fresh_database, fresh_schema
from tests.support.fake_viber import FakeViber, start_fake_viber
from tests.support.paths import OUTPUT, ROOT
from tests.support.servers import (
    REDIS_URL,
    VIBER_TOKEN,
    action_server_command,
    free_port,
    production_env,
    rasa_command,
    server_env,
    wait_until_up,
)
from tests.support.tcp_proxy import TcpProxy
from tests.support.viber import message, texts

Profile = Literal["production", "embedded"]
MENU = ["Передати показання", "Додати лічильник", "Мої лічильники", "Історія показань", "Контакти"]
APOLOGY = "Вибачте, сервіс тимчасово недоступний, нічого не збережено."


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll until ``condition()`` is truthy and return it; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Stack:
    name: str
    profile: Profile
    rasa_command: list[str]
    rasa_env: dict[str, str]
    actions_env: dict[str, str]
    rasa_port: int
    action_port: int
    engine: Engine
    proxy: TcpProxy
    viber_api: FakeViber
    tracker_url: str | None
    rasa: subprocess.Popen[bytes] | None = None
    actions: subprocess.Popen[bytes] | None = None
    rasa_log: Path | None = None
    starts: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    # --- processes -------------------------------------------------------------------------

    def _log_name(self, what: str) -> str:
        self.starts[what] = self.starts.get(what, 0) + 1
        return f"{self.name}-{what}-{self.starts[what]}"

    def start_rasa(self) -> None:
        """Start the Rasa server (a fresh log each time); it answers Viber on return."""
        assert self.rasa is None, "the Rasa server is running"
        self.rasa, self.rasa_log = _spawn(
            self._log_name("rasa"), [*self.rasa_command, "--port", str(self.rasa_port)], self.rasa_env
        )
        wait_until_up(f"{self.url}/webhooks/viber/", self.rasa, self.rasa_log)

    def kill_rasa(self) -> None:
        """SIGKILL: no shutdown handlers, nothing flushed, as when the machine loses power."""
        assert self.rasa is not None, "the Rasa server is not running"
        _kill(self.rasa)
        self.rasa = None

    def start_actions(self) -> None:
        assert self.actions is None, "the action server is running"
        self.actions, log = _spawn(
            self._log_name("actions"), action_server_command(self.action_port), self.actions_env
        )
        wait_until_up(f"http://127.0.0.1:{self.action_port}/health", self.actions, log)

    def kill_actions(self) -> None:
        assert self.actions is not None, "the action server is not running"
        _kill(self.actions)
        self.actions = None

    def ensure_running(self) -> None:
        """Both servers up and the database link open (a test that failed half-way may leave them down)."""
        self.proxy.restore()
        if self.actions is None:
            self.start_actions()
        if self.rasa is None:
            self.start_rasa()

    def stop(self) -> None:
        for process in (self.rasa, self.actions):
            if process is not None:
                _stop(process)
        self.rasa = self.actions = None

    # --- talking as Viber ------------------------------------------------------------------

    def callback(self, body: dict[str, Any], timeout: float = 60) -> httpx.Response:
        raw = json.dumps(body, ensure_ascii=False).encode()
        return httpx.post(
            f"{self.url}/webhooks/viber/webhook",
            content=raw,
            headers={
                "Content-Type": "application/json",
                "X-Viber-Content-Signature": viber_api.signature(raw, VIBER_TOKEN),
            },
            timeout=timeout,
        )

    def send(self, user: dict[str, Any], words: str) -> list[dict[str, Any]]:
        """The user writes ``words``; the Viber messages the assistant sent back for it."""
        before = len(self.viber_api.sent_to(user["id"]))
        answer = self.callback(message(user, words))
        assert answer.status_code == 200, answer.text
        return self.viber_api.sent_to(user["id"])[before:]

    def say(self, user: dict[str, Any], words: str) -> list[str]:
        return texts(self.send(user, words))

    def register(self, user: dict[str, Any], account: str, meter: str) -> None:
        self.say(user, "Додати лічильник")
        self.say(user, account)
        assert "Тепер Ви зареєстровані!" in self.say(user, meter)

    # --- what the register and the tracker store hold ----------------------------------------

    def readings(self, user: dict[str, Any]) -> list[str]:
        """Every reading of the user's (accepted or superseded), oldest first."""
        with self.engine.connect() as connection:
            values = connection.scalars(
                select(Reading.value)
                .join(Subscriber, Subscriber.id == Reading.subscriber_id)
                .where(Subscriber.channel_user_id == user["id"])
                .order_by(Reading.id)
            ).all()
        return [str(value) for value in values]

    def meters(self, user: dict[str, Any]) -> list[str]:
        """The numbers of the meters the user registered."""
        with self.engine.connect() as connection:
            numbers = connection.scalars(
                select(Meter.number)
                .join(subscriber_meters, subscriber_meters.c.meter_id == Meter.id)
                .join(Subscriber, Subscriber.id == subscriber_meters.c.subscriber_id)
                .where(Subscriber.channel_user_id == user["id"])
                .order_by(Meter.number)
            ).all()
        return list(numbers)

    def tracker_events(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """The conversation's events as the shared tracker store holds them (production profile)."""
        assert self.tracker_url is not None, "the embedded profile keeps conversations in memory"
        engine = create_engine(self.tracker_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                    {"s": f"viber:{user['id']}"},
                ).scalars()
                return [json.loads(row) for row in rows]
        finally:
            engine.dispose()

    def active_loop(self, user: dict[str, Any]) -> str | None:
        loops = [e.get("name") for e in self.tracker_events(user) if e.get("event") == "active_loop"]
        return loops[-1] if loops else None

    def rasa_log_text(self) -> str:
        assert self.rasa_log is not None
        return self.rasa_log.read_text(encoding="utf-8", errors="replace")


def keyboard(sent: list[dict[str, Any]]) -> list[str]:
    """The button titles of the last keyboard sent."""
    boards = [body["keyboard"] for body in sent if "keyboard" in body]
    return [button["Text"] for button in boards[-1]["Buttons"]] if boards else []


def _spawn(name: str, command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    """Like the end-to-end tests' _start, in a process group of its own: the action server's
    Sanic forks worker processes, and a kill must take them too."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, log


def _signal_group(process: subprocess.Popen[bytes], signal_number: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the server and every process it started."""
    _signal_group(process, signal.SIGKILL)
    process.wait(timeout=30)


def _stop(process: subprocess.Popen[bytes]) -> None:
    _signal_group(process, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    _kill(process)


def _link_through(proxy: TcpProxy, database_url: str) -> str:
    """The database URL with the proxy in place of the PostgreSQL server."""
    return make_url(database_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@contextmanager
def running_stack(name: str, model: Path, profile: Profile, tmp: Path) -> Iterator[Stack]:
    """A Stack with both servers running on a fresh demo register (and tracker database)."""
    fake = start_fake_viber()
    admin = make_url(ADMIN_URL)
    with fresh_schema() as database_url, _tracker_database(profile) as tracker_database:
        engine = db.make_engine(database_url)
        with engine.begin() as connection, Session(bind=connection) as session:
            seed_demo(session)
        proxy = TcpProxy(admin.host or "127.0.0.1", admin.port or 5432)
        rasa_port, action_port = free_port(), free_port()
        common = {
            "VIBER_AUTH_TOKEN": VIBER_TOKEN,
            "VIBER_API_URL": fake.url,
            "REDIS_URL": REDIS_URL,
            "WEBCHAT_ORIGINS": "http://127.0.0.1:9",
            "PYTHONUNBUFFERED": "1",  # the logs are read while the servers run
        }
        tracker_url = None
        if profile == "production":
            common |= production_env(
                action_url=f"http://127.0.0.1:{action_port}/webhook",
                tracker_database=tracker_database,
                redis_db=REDIS_URL.rsplit("/", 1)[-1],
            )
            command = rasa_command(
                model, ROOT / "deploy/endpoints.production.yml", ROOT / "deploy/credentials.production.yml"
            )
            tracker_url = admin.set(
                database=tracker_database, drivername="postgresql+psycopg"
            ).render_as_string(hide_password=False)
        else:
            # endpoints.yml as shipped, on this stack's action port: no tracker or lock store configured
            endpoints = tmp / "endpoints.yml"
            endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
            command = rasa_command(model, endpoints, ROOT / "credentials.yml")
        stack = Stack(
            name=name,
            profile=profile,
            rasa_command=command,
            rasa_env=server_env(database_url, **common),
            actions_env=server_env(_link_through(proxy, database_url), **common),
            rasa_port=rasa_port,
            action_port=action_port,
            engine=engine,
            proxy=proxy,
            viber_api=fake,
            tracker_url=tracker_url,
        )
        try:
            stack.start_actions()
            stack.start_rasa()
            yield stack
        finally:
            stack.stop()
            proxy.close()
            engine.dispose()
            fake.stop()


@contextmanager
def _tracker_database(profile: Profile) -> Iterator[str]:
    if profile == "production":
        with fresh_database("faults_trackers") as name:
            yield name
    else:
        yield ""
