"""Soak: minutes of Viber conversations at moderate load, with one restart of each server midway.

Starts, in the production profile (deploy/endpoints.production.yml, deploy/credentials.production.yml):
one Rasa server (PostgreSQL tracker store in a throw-away database, AtomicRedisLockStore and the Viber
de-duplication memory on Redis db 11), one action server on a fresh register schema (account 10000+i
with hot-water meter 500000+i per simulated subscriber, as bench/conversations.py seeds it), a fake
Viber API, and simulated subscribers that behave like Viber and like people: signed callbacks; a
callback that fails (refused, reset, timeout, 5xx) is sent again with the same message_token with
back-off; a subscriber whose turn got no expected reply looks again a little later, then starts that
flow over from the menu. Each greets, registers its meter and sends one or two readings
(bench/conversations.py's scripts), new subscribers arriving at a steady rate (open loop).

Midway, spaced out: SIGKILL the Rasa server and start it again; SIGKILL the action server and start it
again; cut the action server's connections to PostgreSQL for --outage seconds (tests/faults/tcp_proxy.py
between it and the database; the machine's PostgreSQL itself is shared and is not restarted). Each kill
waits (up to --arm-timeout s) for the worst moment it can catch: the action server has committed a
reading and its answer, the acknowledgement, is on its way to Rasa. For that the action server sits
behind a small forwarder (ACTION_ENDPOINT_URL points at it, as it would at a load balancer).

Afterwards it compares what subscribers were told with the register: each (subscriber, meter)'s last
"Прийнято X до обробки. Дякуємо" recorded by the fake Viber API (a later reading for the same meter and
period replaces the earlier one, and the bot says so) against the accepted readings, as multisets; and
every acknowledgement against a stored row of its own (any status). Rows nobody was told about (since
superseded) are counted and shown. Results: bench/results/soak.json and soak.md; server logs in
bench/results/logs/soak-*.log. Exit status 1 when the check fails, 2 when the run could not be made.

    .venv/bin/python bench/soak.py                           # 300 s at 5 turns/s
    .venv/bin/python bench/soak.py --duration 120 --results /tmp/soak
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.register.models import Meter, Reading, Subscriber  # noqa: E402
from bench.conversations import TOKEN, callback, conversation, percentile, say, seed_accounts  # noqa: E402
from custom_channels import viber_api  # noqa: E402
from tests.support.database import ADMIN_URL, fresh_database, fresh_schema  # noqa: E402
from tests.support.fake_viber import FakeViber, start_fake_viber  # noqa: E402
from tests.support.servers import action_server_command, free_port, production_env, rasa_command, server_env  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

LOGS = ROOT / "bench" / "results" / "logs"
REDIS_DB = "11"
TURNS_PER_SUBSCRIBER = 7  # on average: greeting, 3 to register, 2 per reading (one or two)
MENU = ("Привіт", "Додати лічильник", "Передати показання")
ACKNOWLEDGEMENT = re.compile(r"Прийнято ([0-9]+\.[0-9]{2}) до обробки\. Дякуємо")
START_TIMEOUT = 300
FIRST_FAULT = 0.2  # share of the duration


# --- servers ------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return LOGS / f"soak-{self.name}.log"

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab" if self.starts else "wb") as sink:
            sink.write(f"=== start {self.starts + 1} at {time.strftime('%H:%M:%S')}\n".encode())
            sink.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes any worker with it
            )
        self.starts += 1

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()

    async def wait_up(self) -> float:
        """Seconds until the health URL answers 200; fails if the process exits first."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() - started < START_TIMEOUT:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log}")
                try:
                    if (await client.get(self.health_url)).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not come up in {START_TIMEOUT} s; see {self.log}")

    def error_lines(self) -> list[str]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        found = [line for line in lines if " ERROR " in line]
        # The action server logs bare messages: an error is the line before a traceback.
        found += [
            lines[i - 1]
            for i, line in enumerate(lines)
            if line.startswith("Traceback") and i and lines[i - 1].strip() and " ERROR " not in lines[i - 1]
        ]
        return found


class ActionGate:
    """Rasa's action endpoint, forwarding to the action server as a load balancer would.

    A fault armed with arm() fires on the next answer of action_submit_reading that acknowledges a
    reading, before the answer is passed on: the reading is committed, the acknowledgement not yet
    sent. That answer is then dropped (the connection closed), as if the server died writing it.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._fault: Callable[[], None] | None = None
        self.caught: dict[str, Any] | None = None
        self.fired = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _forward(self, body: bytes) -> None:
                try:
                    answer = httpx.request(
                        self.command,
                        gate.upstream + self.path,
                        content=body,
                        headers={"Content-Type": "application/json"},
                        timeout=120,
                    )
                except httpx.HTTPError:
                    self._reply(502, b'{"error": "action server unreachable"}')
                    return
                if answer.status_code == 200 and gate._fire_on(body, answer.text):
                    self.close_connection = True
                    return
                self._reply(answer.status_code, answer.content)

            def _reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="action-gate", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def arm(self, fault: Callable[[], None]) -> None:
        with self._lock:
            self._fault, self.caught = fault, None
            self.fired.clear()

    def disarm(self) -> bool:
        """True if the fault was still armed (it has not fired and now will not)."""
        with self._lock:
            armed, self._fault = self._fault is not None, None
            return armed

    def _fire_on(self, request: bytes, answer: str) -> bool:
        if self._fault is None:
            return False
        try:
            call, answered = json.loads(request), json.loads(answer)
        except ValueError:
            return False
        texts = [str(r.get("text")) for r in answered.get("responses") or [] if isinstance(r, dict)]
        acknowledged = next((m for t in texts if (m := ACKNOWLEDGEMENT.fullmatch(t))), None)
        if call.get("next_action") != "action_submit_reading" or acknowledged is None:
            return False
        with self._lock:
            fault, self._fault = self._fault, None
        if fault is None:
            return False
        tracker = call.get("tracker") or {}
        self.caught = {
            "sender": tracker.get("sender_id"),
            "reading": acknowledged.group(1),
            "message_id": (tracker.get("latest_message") or {}).get("message_id"),
        }
        fault()
        self.fired.set()
        return True

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the subscribers ----------------------------------------------------------------------------


def flows(turns: list[str]) -> list[list[str]]:
    """A conversation script cut where a menu item starts a flow: what a person starts over."""
    cut: list[list[str]] = []
    for words in turns:
        if words in MENU or not cut:
            cut.append([words])
        else:
            cut[-1].append(words)
    return cut


def expected_replies(flow: list[str]) -> list[tuple[str, ...]]:
    """For each turn of a flow, texts (any one of them) in the replies that show it went through."""
    if flow[0] == "Додати лічильник":
        return [
            ("особового рахунку",),
            ("приладу обліку",),
            ("Тепер Ви зареєстровані!", "уже зареєстровано у Вас"),
        ]
    if flow[0] == "Передати показання":
        return [("Введіть показання в форматі ХХХ.ХХ",), (f"Прийнято {flow[1]} до обробки. Дякуємо",)]
    return [("",)] * len(flow)  # the greeting: any answer


@dataclass
class Tally:
    subscribers: int = 0
    completed: int = 0
    gave_up: int = 0
    unfinished: int = 0
    readings_intended: int = 0
    messages: int = 0  # callbacks, each counted once however often it was sent
    retries: int = 0  # the same callback sent again
    undelivered: int = 0  # callbacks given up after every retry
    failures: Counter[str] = field(default_factory=Counter)
    turns_answered: int = 0
    turns_answered_late: int = 0  # the expected reply came only after the delivery call returned
    turns_unanswered: int = 0
    flow_restarts: int = 0
    silent_after_200: int = 0  # callbacks answered 200 that never got a single reply
    silent_after_redelivery: int = 0  # of them, sent more than once
    latencies_ms: list[float] = field(default_factory=list)
    undisturbed_ms: list[float] = field(default_factory=list)  # turns done before the first fault
    unanswered_samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Restart:
    kind: str
    at_s: float
    moment: str
    back_in_s: float
    caught: dict[str, Any] | None = None


@dataclass
class Load:
    url: str
    fake: FakeViber
    args: argparse.Namespace
    tally: Tally = field(default_factory=Tally)
    meters: dict[str, str] = field(default_factory=dict)  # Viber user id -> the meter it registers
    client: httpx.AsyncClient | None = None
    started: float = 0.0
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)  # by message_token

    async def deliver(self, raw: bytes, outcomes: list[str]) -> bool:
        """Send a callback as Viber does: again, same body and token, with back-off, until a 200."""
        assert self.client is not None
        headers = {"X-Viber-Content-Signature": viber_api.signature(raw, TOKEN)}
        for attempt in range(self.args.retries + 1):
            if attempt:
                self.tally.retries += 1
                await asyncio.sleep(self.args.backoff * 2 ** (attempt - 1))
            try:
                answer = await self.client.post(
                    f"{self.url}/webhooks/viber/webhook", content=raw, headers=headers
                )
            except httpx.ConnectError:
                outcomes.append("connection refused")
            except httpx.TimeoutException:
                outcomes.append("timeout")
            except httpx.TransportError as error:
                outcomes.append(f"connection reset ({type(error).__name__})")
            else:
                outcomes.append(f"HTTP {answer.status_code}")
                if answer.status_code == 200:
                    return True
                if answer.status_code < 500:
                    self.tally.failures[outcomes[-1]] += 1
                    return False
            self.tally.failures[outcomes[-1]] += 1
        self.tally.undelivered += 1
        return False

    def answered(self, user_id: str, seen: int, expect: tuple[str, ...]) -> bool:
        replies = self.fake.texts_to(user_id)[seen:]
        return any(part in reply for reply in replies for part in expect)

    async def turn(self, user: dict[str, Any], words: str, expect: tuple[str, ...]) -> bool:
        raw = callback(user, words)
        seen = len(self.fake.sent_to(user["id"]))
        self.tally.messages += 1
        sent = time.monotonic()
        record: dict[str, Any] = {"user": user["id"], "words": words, "deliveries": [], "answered": False}
        self.callbacks[str(json.loads(raw)["message_token"])] = record
        delivered = await self.deliver(raw, record["deliveries"])
        if delivered:
            self.tally.latencies_ms.append((time.monotonic() - sent) * 1000)
            if time.monotonic() - self.started < FIRST_FAULT * self.args.duration:
                self.tally.undisturbed_ms.append(self.tally.latencies_ms[-1])
        if self.answered(user["id"], seen, expect):
            self.tally.turns_answered += 1
            record["answered"] = True
            return True
        await asyncio.sleep(self.args.patience)  # a person looks again a little later
        if self.answered(user["id"], seen, expect):
            self.tally.turns_answered += 1
            self.tally.turns_answered_late += 1
            record["answered"] = "late"
            return True
        self.tally.turns_unanswered += 1
        replies = self.fake.texts_to(user["id"])[seen:]
        record["replies"] = [reply[:90] for reply in replies]
        if delivered and not replies:
            # Rasa said 200 and nothing ever came: the message was dropped.
            self.tally.silent_after_200 += 1
            self.tally.silent_after_redelivery += len(record["deliveries"]) > 1
        if len(self.tally.unanswered_samples) < 30:
            self.tally.unanswered_samples.append(
                {"at_s": round(time.monotonic() - self.started, 1), "delivered": delivered} | record
            )
        return False

    async def subscriber(self, index: int) -> None:
        user = {"id": f"soak-{index}-{secrets.token_hex(4)}", "name": "Абонент", "language": "uk"}
        turns = conversation(index, 1 + index % 2)
        self.meters[user["id"]] = turns[3]
        self.tally.subscribers += 1
        self.tally.readings_intended += turns.count("Передати показання")
        for flow in flows(turns):
            for attempt in range(self.args.flow_attempts):
                if attempt:
                    self.tally.flow_restarts += 1
                if await self.play(user, flow):
                    break
            else:
                self.tally.gave_up += 1
                return
        self.tally.completed += 1

    async def play(self, user: dict[str, Any], flow: list[str]) -> bool:
        for words, expect in zip(flow, expected_replies(flow), strict=True):
            if not await self.turn(user, words, expect):
                return False
        return True

    async def offer(self, started: float) -> None:
        """New subscribers at a steady rate for the duration, then wait for them to finish."""
        self.started = started
        gap = TURNS_PER_SUBSCRIBER / self.args.rate
        tasks = []
        index = 0
        async with httpx.AsyncClient(
            timeout=self.args.webhook_timeout, limits=httpx.Limits(max_connections=1000)
        ) as self.client:
            while time.monotonic() - started < self.args.duration:
                tasks.append(asyncio.create_task(self.subscriber(index)))
                index += 1
                await asyncio.sleep(gap)
            say(f"  {index} subscribers started; waiting up to {self.args.drain:.0f} s for them to finish")
            done, pending = await asyncio.wait(tasks, timeout=self.args.drain)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                task.result()
            self.tally.unfinished = len(pending)


# --- faults -------------------------------------------------------------------------------------


@dataclass
class Faults:
    rasa: Server
    actions: Server
    gate: ActionGate
    proxy: TcpProxy
    args: argparse.Namespace
    done: list[Restart] = field(default_factory=list)

    async def run(self, started: float) -> None:
        plan: list[tuple[float, Callable[[float], Any]]] = [
            (FIRST_FAULT, lambda at: self.restart(self.rasa, at)),
            (0.45, lambda at: self.restart(self.actions, at)),
            (0.7, self.outage),
        ]
        for share, fault in plan:
            await asyncio.sleep(max(0.0, started + share * self.args.duration - time.monotonic()))
            await fault(time.monotonic() - started)

    async def restart(self, server: Server, at: float) -> None:
        say(f"  {at:5.0f} s: waiting for a reading in flight to SIGKILL the {server.name} server")
        self.gate.arm(server.kill)
        await asyncio.to_thread(self.gate.fired.wait, self.args.arm_timeout)
        if self.gate.disarm():
            server.kill()
            moment = f"no reading in flight within {self.args.arm_timeout:.0f} s: any moment"
        else:
            moment = "a reading committed, its acknowledgement on the way to Rasa"
        killed = time.monotonic()
        assert server.process is not None
        await asyncio.to_thread(server.process.wait)
        server.start()
        await server.wait_up()
        back = time.monotonic() - killed
        self.done.append(Restart(server.name, at, moment, back, self.gate.caught))
        say(f"  {server.name} killed ({moment}); answering again after {back:.1f} s")

    async def outage(self, at: float) -> None:
        say(f"  {at:5.0f} s: the action server's database connections cut for {self.args.outage:.0f} s")
        self.proxy.cut()
        await asyncio.sleep(self.args.outage)
        self.proxy.restore()
        self.done.append(Restart("database", at, "connections cut, then let through again", self.args.outage))


# --- the register against what subscribers were told --------------------------------------------


Key = tuple[str, str, str]  # Viber user id, meter number, reading value


def compare(database_url: str, fake: FakeViber, meters: dict[str, str]) -> dict[str, Any]:
    acknowledgements: list[Key] = []
    with fake.lock:
        calls = list(fake.calls)
    for call in calls:
        receiver = str(call.body.get("receiver"))
        found = ACKNOWLEDGEMENT.fullmatch(str(call.body.get("text", "")))
        if call.endpoint == "send_message" and found and receiver in meters:
            acknowledgements.append((receiver, meters[receiver], found.group(1)))
    in_force = {(user, meter): value for user, meter, value in acknowledgements}  # the last one wins
    told = Counter((user, meter, value) for (user, meter), value in in_force.items())

    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Subscriber.channel_user_id, Meter.number, Reading.value, Reading.status, Reading.period)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .join(Meter, Meter.id == Reading.meter_id)
            .where(Reading.channel == "viber")
            .order_by(Reading.id)
        ).all()
    engine.dispose()

    def key(row: Any) -> Key:
        return (row.channel_user_id, row.number, f"{Decimal(row.value):.2f}")

    accepted = Counter(key(row) for row in rows if str(row.status) == "accepted")
    stored = Counter(key(row) for row in rows)
    per_meter_period = Counter((row.number, row.period) for row in rows if str(row.status) == "accepted")
    result = {
        "acknowledged_messages": len(acknowledgements),
        "acknowledged_in_force": sum(told.values()),
        "stored_accepted": sum(accepted.values()),
        "stored_rows": len(rows),
        "acknowledged_not_stored": sorted((told - accepted).elements()),
        "stored_not_acknowledged": sorted((accepted - told).elements()),
        "acknowledgements_without_a_row": sorted((Counter(acknowledgements) - stored).elements()),
        "rows_never_acknowledged": sorted((stored - Counter(acknowledgements)).elements()),
        "meters_with_two_accepted": sum(1 for count in per_meter_period.values() if count > 1),
    }
    result["passed"] = (
        told == accepted
        and not result["acknowledgements_without_a_row"]
        and result["meters_with_two_accepted"] == 0
    )
    return result


def trace(database_url: str, trackers_url: str, fake: FakeViber, sender: str | None) -> dict[str, Any]:
    """What became of the subscriber a kill caught mid-reading: its rows, acknowledgements, tracker."""
    if not sender:
        return {}
    user = sender.removeprefix("viber:")
    engine = create_engine(trackers_url)
    with engine.connect() as connection:
        said = connection.scalars(
            text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
            {"s": sender},
        ).all()
    engine.dispose()
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Reading.value, Reading.status, Reading.message_id)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Subscriber.channel_user_id == user)
            .order_by(Reading.id)
        ).all()
    engine.dispose()
    return {
        "rows": [f"{Decimal(r.value):.2f} {r.status} (message {r.message_id})" for r in rows],
        "acknowledged": [t for t in fake.texts_to(user) if ACKNOWLEDGEMENT.fullmatch(t)],
        "tracker_user_messages": [json.loads(data)["text"] for data in said],
        "tracker_message_ids": [str(json.loads(data).get("message_id")) for data in said],
    }


# --- the run ------------------------------------------------------------------------------------


def quiet_when_the_caller_died(server: ThreadingHTTPServer) -> None:
    """A killed Rasa server leaves the fake Viber API writing to a closed socket: not news."""
    report = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    server.handle_error = handle_error  # type: ignore[method-assign]


def model() -> str:
    done = subprocess.run(
        [str(ROOT / "scripts" / "train.sh")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


async def soak(args: argparse.Namespace, stack: ExitStack) -> dict[str, Any]:
    setting_up = time.monotonic()
    model_path = Path(model())
    subscribers = int(args.duration * args.rate / TURNS_PER_SUBSCRIBER) + 50
    trackers = stack.enter_context(fresh_database("soak_trackers"))
    register_url = stack.enter_context(fresh_schema(migrate=False))
    seed_accounts(register_url, subscribers)
    admin = make_url(ADMIN_URL)
    trackers_url = admin.set(database=trackers).render_as_string(hide_password=False)
    proxy = stack.enter_context(TcpProxy(admin.host or "127.0.0.1", admin.port or 5432))
    through_proxy = make_url(register_url).set(port=proxy.port).render_as_string(hide_password=False)
    fake = start_fake_viber()
    stack.callback(fake.stop)
    quiet_when_the_caller_died(fake.server)
    action_port, rasa_port = free_port(), free_port()
    gate = ActionGate(f"http://127.0.0.1:{action_port}")
    stack.callback(gate.stop)
    env = server_env(
        through_proxy,
        **production_env(action_url=f"{gate.url}/webhook", tracker_database=trackers, redis_db=REDIS_DB),
        VIBER_AUTH_TOKEN=TOKEN,
        VIBER_API_URL=fake.url,
    )
    production = rasa_command(
        model_path, ROOT / "deploy/endpoints.production.yml", ROOT / "deploy/credentials.production.yml"
    )
    actions = Server(
        "actions", action_server_command(action_port), env, f"http://127.0.0.1:{action_port}/health"
    )
    rasa = Server(
        "rasa", [*production, "--port", str(rasa_port)], env, f"http://127.0.0.1:{rasa_port}/webhooks/viber/"
    )
    for server in (actions, rasa):
        server.start()
        stack.callback(server.stop)
    await actions.wait_up()
    await rasa.wait_up()
    setup = time.monotonic() - setting_up
    say(f"soak: {args.duration:.0f} s at {args.rate:g} turns/s offered; servers up after {setup:.0f} s")

    load = Load(f"http://127.0.0.1:{rasa_port}", fake, args)
    faults = Faults(rasa, actions, gate, proxy, args)
    started = time.monotonic()
    await asyncio.gather(load.offer(started), faults.run(started))
    elapsed = time.monotonic() - started
    machine_load = os.getloadavg()[2]  # the 15-minute load average: other work on the machine
    errors = {server.name: server.error_lines() for server in (rasa, actions)}
    for server in (rasa, actions):
        server.stop()
    check = compare(register_url, fake, load.meters)
    tally = load.tally
    return {
        "duration_s": args.duration,
        "elapsed_s": round(elapsed, 1),
        "setup_s": round(setup, 1),
        "machine_load_15min": round(machine_load, 1),
        "cores": os.cpu_count(),
        "offered_turns_per_s": args.rate,
        "subscribers": {
            "started": tally.subscribers,
            "completed": tally.completed,
            "gave_up": tally.gave_up,
            "unfinished": tally.unfinished,
        },
        "messages_sent": tally.messages,
        "retries": tally.retries,
        "undelivered": tally.undelivered,
        "delivery_failures": dict(tally.failures),
        "turns_answered": tally.turns_answered,
        "turns_answered_late": tally.turns_answered_late,
        "turns_unanswered": tally.turns_unanswered,
        "flow_restarts": tally.flow_restarts,
        "silent_after_200": tally.silent_after_200,
        "silent_after_redelivery": tally.silent_after_redelivery,
        "webhook_p50_ms": round(percentile(tally.latencies_ms, 0.5), 1),
        "webhook_p99_ms": round(percentile(tally.latencies_ms, 0.99), 1),
        "webhook_before_faults_p50_ms": round(percentile(tally.undisturbed_ms, 0.5), 1),
        "webhook_before_faults_p99_ms": round(percentile(tally.undisturbed_ms, 0.99), 1),
        "restarts_done": len(faults.done),
        "restarts": [
            asdict(done)
            | {
                "trace": trace(register_url, trackers_url, fake, (done.caught or {}).get("sender")),
                "caught_callback": load.callbacks.get(str((done.caught or {}).get("message_id"))),
            }
            for done in faults.done
        ],
        "readings_intended": tally.readings_intended,
        "unanswered_turns_sample": tally.unanswered_samples,
        "register": check,
        "server_errors": {name: len(lines) for name, lines in errors.items()},
        "server_error_samples": {
            name: Counter(
                re.sub(r"[0-9]+", "N", line.split(" - ", 1)[-1])[:120] for line in lines
            ).most_common(8)
            for name, lines in errors.items()
        },
        "passed": check["passed"] and len(faults.done) == 3,
    }


def markdown(result: dict[str, Any]) -> str:
    reg = result["register"]
    subs = result["subscribers"]
    failures = ", ".join(f"{kind} {count}" for kind, count in result["delivery_failures"].items()) or "none"
    lines = [
        "# Soak: Viber conversations with a restart of each server",
        "",
        "| figure | value |",
        "|---|---|",
        f"| duration, offered load | {result['duration_s']:.0f} s of arrivals ({result['elapsed_s']:.0f} s in all), {result['offered_turns_per_s']:g} turns/s |",
        f"| machine | {result['cores']} cores, 15-minute load average {result['machine_load_15min']} at the end |",
        f"| subscribers started / completed / gave up / unfinished | {subs['started']} / {subs['completed']} / {subs['gave_up']} / {subs['unfinished']} |",
        f"| messages sent / retries (same token) / undelivered | {result['messages_sent']} / {result['retries']} / {result['undelivered']} |",
        f"| failed deliveries | {failures} |",
        f"| turns answered (of them late) / unanswered | {result['turns_answered']} ({result['turns_answered_late']}) / {result['turns_unanswered']} |",
        f"| flows started over from the menu | {result['flow_restarts']} |",
        f"| callbacks answered 200 that never got a reply (of them sent more than once) | {result['silent_after_200']} ({result['silent_after_redelivery']}) |",
        f"| webhook p50 / p99 (retries included), before the first fault | {result['webhook_p50_ms']} / {result['webhook_p99_ms']} ms, {result['webhook_before_faults_p50_ms']} / {result['webhook_before_faults_p99_ms']} ms |",
        f"| restarts done | {result['restarts_done']} of 3 |",
        f"| readings acknowledged (in force) / stored accepted | {reg['acknowledged_in_force']} / {reg['stored_accepted']} |",
        f"| acknowledged but not stored / stored but not acknowledged | {len(reg['acknowledged_not_stored'])} / {len(reg['stored_not_acknowledged'])} |",
        f"| acknowledgement messages / stored rows (any status) / rows never acknowledged | {reg['acknowledged_messages']} / {reg['stored_rows']} / {len(reg['rows_never_acknowledged'])} |",
        f"| server ERROR log lines (rasa / actions) | {result['server_errors']['rasa']} / {result['server_errors']['actions']} |",
        f"| check | {'passed' if result['passed'] else 'FAILED'} |",
        "",
        "| fault | at | moment | answering again after |",
        "|---|---:|---|---:|",
    ]
    for done in result["restarts"]:
        lines.append(
            f"| {done['kind']} | {done['at_s']:.0f} s | {done['moment']} | {done['back_in_s']:.1f} s |"
        )
    caught = [done for done in result["restarts"] if done["caught"]]
    if caught:
        lines += [
            "",
            "What became of the reading each kill caught (committed, acknowledgement not yet sent):",
            "",
            "| kill | reading | that callback sent: outcomes | replies to it | turn in the tracker store | the subscriber's rows afterwards |",
            "|---|---:|---|---|---|---|",
        ]
        for done in caught:
            sent = done["caught_callback"] or {}
            outcomes = ", ".join(f"{k} x{n}" for k, n in Counter(sent.get("deliveries", [])).items())
            if sent.get("answered"):
                replies = "the acknowledgement"
            else:
                replies = " / ".join(f"«{reply[:40]}…»" for reply in sent.get("replies", [])) or "none"
            kept = str(done["caught"]["message_id"]) in done["trace"].get("tracker_message_ids", [])
            lines.append(
                f"| {done['kind']} | {done['caught']['reading']} | {outcomes or '?'} | {replies} | "
                f"{'kept' if kept else 'lost'} | {'; '.join(done['trace'].get('rows', []))} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=300, help="seconds of arriving subscribers")
    parser.add_argument("--rate", type=float, default=5, help="offered turns per second")
    parser.add_argument("--outage", type=float, default=10, help="seconds the database connections stay cut")
    parser.add_argument("--retries", type=int, default=6, help="times a failed callback is sent again")
    parser.add_argument("--backoff", type=float, default=1, help="first retry delay, doubled each time")
    parser.add_argument("--webhook-timeout", type=float, default=30, help="seconds to wait for a callback")
    parser.add_argument("--patience", type=float, default=5, help="seconds a person waits for a late reply")
    parser.add_argument("--flow-attempts", type=int, default=6, help="times a person tries one flow")
    parser.add_argument("--arm-timeout", type=float, default=15, help="seconds a kill waits for a reading")
    parser.add_argument("--drain", type=float, default=180, help="seconds to wait for subscribers at the end")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results", help="results folder")
    parser.add_argument("--name", default="soak", help="results file name")
    args = parser.parse_args()
    try:
        with ExitStack() as stack:
            result = asyncio.run(soak(args, stack))
    except Exception as error:
        say(f"soak: the run could not be made: {error!r}")
        return 2
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / args.name
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    say(markdown(result))
    say(f"written: {out}.json, .md; server logs in {LOGS}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
