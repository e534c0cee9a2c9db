"""The real servers as the tests start them: the action server, the Rasa server on the trained
model, and the web chat page, each a subprocess with its log in tests/output/."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from actions.operators.billing import import_accounts
from actions.operators.demo import seed_demo
from actions.register import clock, db
from actions.register.period import period_of, previous_period
from custom_channels import viber_api
from tests.support.database import ADMIN_URL, fresh_schema
from tests.support.fake_viber import FakeViber
from tests.support.otke import HEADER
from tests.support.paths import OUTPUT, ROOT

START_TIMEOUT = 300
VIBER_TOKEN = "test-viber-token-4f1c9e"
# Database 15, so the tests' de-duplication keys never meet a real deployment's.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return (
        os.environ
        | extra
        | {
            "DATABASE_URL": database_url,
            "RASA_TELEMETRY_ENABLED": "false",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )


@dataclass
class Servers:
    rasa_url: str
    action_url: str
    database_url: str
    engine: Engine
    viber_api: FakeViber
    rasa_command: list[str]
    env: dict[str, str]

    def start_another_rasa(self, port: int, name: str) -> subprocess.Popen[bytes]:
        """One more Rasa server on the same model, action server and database (it is up on return)."""
        process, log = start_process(name, [*self.rasa_command, "--port", str(port)], self.env)
        wait_until_up(f"http://127.0.0.1:{port}/webhooks/rest/", process, log)
        return process

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        stop_process(process)

    def add_meter(self, account: str, address: str, meter: str, kind: str, last_reading: str) -> None:
        """A meter of a test's own in this stack's register, read last in the period before the clock's."""
        row = f'{account},"{address}",{meter},{kind},{last_reading},{previous_period(period_of(clock.now()))}'
        with self.engine.begin() as connection, Session(bind=connection) as session:
            report = import_accounts(session, [HEADER, row])
        assert not report.errors, report.errors

    def say(self, sender: str, text: str, **metadata: Any) -> list[dict[str, Any]]:
        """One turn through the REST channel; the bot's messages come back."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=30)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages

    def viber_raw(
        self, body: bytes, signature: str | bytes | None = "sign", **headers: str | bytes
    ) -> httpx.Response:
        """A callback as Viber sends it: the raw body, signed with the token unless told otherwise."""
        if signature == "sign":
            signature = viber_api.signature(body, VIBER_TOKEN)
        if signature is not None:
            headers["X-Viber-Content-Signature"] = signature
        return httpx.post(
            f"{self.rasa_url}/webhooks/viber/webhook",
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=30,
        )

    def viber(self, callback: dict[str, Any]) -> httpx.Response:
        return self.viber_raw(json.dumps(callback, ensure_ascii=False).encode())


def trained_model() -> Path:
    """The trained model for the current config, domain and data (trained only if missing)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "train.sh")], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"training failed:\n{done.stderr[-4000:]}", pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])


def production_env(
    *, action_url: str, tracker_database: str, redis_db: str, server_url: str = ADMIN_URL
) -> dict[str, str]:
    """What the production profile (deploy/*.production.yml) needs besides DATABASE_URL and the
    Viber token: the shared tracker store (a database on the tests' PostgreSQL server), the atomic
    lock store and the Viber de-duplication memory on one Redis database, the web chat's origin.
    ``server_url`` is the PostgreSQL server that holds ``tracker_database``."""
    admin = make_url(server_url)
    return {
        "OTKE_PROFILE": "production",
        "ACTION_ENDPOINT_URL": action_url,
        "TRACKER_DB_HOST": admin.host or "127.0.0.1",
        "TRACKER_DB_PORT": str(admin.port or 5432),
        "TRACKER_DB_NAME": tracker_database,
        "TRACKER_DB_USER": admin.username or "postgres",
        "TRACKER_DB_PASSWORD": admin.password or "",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "REDIS_LOCK_DB": redis_db,
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "WEBCHAT_ORIGINS": "http://127.0.0.1:9",
    }


def action_server_command(port: int) -> list[str]:
    return [
        str(ROOT / ".venv/bin/python"),
        "-m",
        "rasa_sdk",
        "--actions",
        "actions.dialogue",
        "--port",
        str(port),
    ]


def rasa_command(model: Path, endpoints: Path, credentials: Path, *extra: str) -> list[str]:
    """`rasa run` for a model and profile; the port (``--port N``) goes last, per instance."""
    return [
        str(ROOT / ".venv-rasa/bin/rasa"),
        "run",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(credentials),
        *extra,
    ]


def start_process(name: str, command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    return process, log


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{log.name}: exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer in {START_TIMEOUT} s; see {log}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class WebchatPage:
    url: str
    origin: str


@contextmanager
def serving_webchat() -> Iterator[WebchatPage]:
    """webchat/public served on 127.0.0.1, as `make run` serves it."""
    public = ROOT / "webchat" / "public"
    if not (public / "vendor" / "socket.io.min.js").exists():
        pytest.fail("webchat/public/vendor/socket.io.min.js is missing: run scripts/setup.sh (needs npm)")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(public))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    yield WebchatPage(f"{origin}/", origin)
    server.shutdown()
    server.server_close()


@contextmanager
def running_servers(
    model: Path,
    fake_viber: FakeViber,
    webchat: WebchatPage,
    tmp: Path,
    *,
    name: str = "",
    **extra_env: str,
) -> Iterator[Servers]:
    """The action server on a fresh PostgreSQL schema with the demo register, and the Rasa server
    with the trained model, talking over HTTP; both stopped on exit. ``name`` prefixes their logs;
    ``extra_env`` goes to both servers (e.g. OTKE_RASA_PATCHES="off")."""
    with fresh_schema() as database_url:
        engine = db.make_engine(database_url)
        with engine.begin() as connection, Session(bind=connection) as session:
            seed_demo(session)
        action_port, rasa_port = free_port(), free_port()
        endpoints = tmp / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
        env = server_env(
            database_url,
            VIBER_AUTH_TOKEN=VIBER_TOKEN,
            VIBER_API_URL=fake_viber.url,
            REDIS_URL=REDIS_URL,
            WEBCHAT_ORIGINS=webchat.origin,
            **extra_env,
        )
        prefix = f"{name}-" if name else ""
        action, action_log = start_process(f"{prefix}action-server", action_server_command(action_port), env)
        command = rasa_command(model, endpoints, ROOT / "credentials.yml", "--cors", webchat.origin)
        rasa, rasa_log = start_process(f"{prefix}rasa-server", [*command, "--port", str(rasa_port)], env)
        try:
            wait_until_up(f"http://127.0.0.1:{action_port}/health", action, action_log)
            wait_until_up(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", rasa, rasa_log)
            yield Servers(
                f"http://127.0.0.1:{rasa_port}",
                f"http://127.0.0.1:{action_port}",
                database_url,
                engine,
                fake_viber,
                command,
                env,
            )
        finally:
            stop_process(rasa)
            stop_process(action)
            engine.dispose()
