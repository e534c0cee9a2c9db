"""Two Rasa instances in the production profile (deploy/*.production.yml): one PostgreSQL tracker
store, the atomic Redis lock store, one action server; Viber callbacks go to either instance."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.orm import Session

from actions.operators.demo import seed_demo
from actions.register import db
from actions.register.models import Reading, Subscriber
from custom_channels import viber_api
from tests.support.database import ADMIN_URL, fresh_database, fresh_schema
from tests.support.fake_viber import FakeViber, start_fake_viber
from tests.support.paths import ROOT
from tests.support.servers import (
    action_server_command,
    free_port,
    production_env,
    rasa_command,
    server_env,
    start_process,
    stop_process,
    wait_until_up,
)
from tests.support.viber import message, viber_user

TOKEN = "scaleout-viber-token"


@dataclass
class Cluster:
    rasa_urls: list[str]
    viber_api: FakeViber
    engine: Any
    tracker_url: str

    def callback(self, instance: int, body: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(body, ensure_ascii=False).encode()
        return httpx.post(
            f"{self.rasa_urls[instance]}/webhooks/viber/webhook",
            content=raw,
            headers={"X-Viber-Content-Signature": viber_api.signature(raw, TOKEN)},
            timeout=60,
        )

    def say(self, instance: int, user: dict[str, Any], words: str) -> list[str]:
        before = len(self.viber_api.sent_to(user["id"]))
        assert self.callback(instance, message(user, words)).status_code == 200
        return self.viber_api.texts_to(user["id"])[before:]

    def user_events(self, sender: str) -> list[str]:
        """The user messages the shared tracker store holds for a conversation, in order."""
        engine = create_engine(self.tracker_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                    {"s": sender},
                ).scalars()
                return [json.loads(row)["text"] for row in rows]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def tracker_database() -> Iterator[str]:
    with fresh_database("trackers") as name:
        yield name


@pytest.fixture(scope="module")
def cluster(model_path: Any, tracker_database: str) -> Iterator[Cluster]:
    fake = start_fake_viber()
    admin = make_url(ADMIN_URL)
    with fresh_schema() as database_url:
        engine = db.make_engine(database_url)
        with engine.begin() as connection, Session(bind=connection) as session:
            seed_demo(session)
        action_port = free_port()
        env = server_env(
            database_url,
            **production_env(
                action_url=f"http://127.0.0.1:{action_port}/webhook",
                tracker_database=tracker_database,
                redis_db="13",
            ),
            VIBER_AUTH_TOKEN=TOKEN,
            VIBER_API_URL=fake.url,
        )
        processes = []
        try:
            actions, actions_log = start_process("scaleout-actions", action_server_command(action_port), env)
            processes.append(actions)
            ports = [free_port(), free_port()]
            production = rasa_command(
                model_path,
                ROOT / "deploy/endpoints.production.yml",
                ROOT / "deploy/credentials.production.yml",
            )
            started = []
            for index, port in enumerate(ports):
                rasa, log = start_process(f"scaleout-rasa-{index}", [*production, "--port", str(port)], env)
                processes.append(rasa)
                started.append((port, rasa, log))
            wait_until_up(f"http://127.0.0.1:{action_port}/health", actions, actions_log)
            for port, rasa, log in started:
                wait_until_up(f"http://127.0.0.1:{port}/webhooks/viber/", rasa, log)
            tracker_url = admin.set(
                database=tracker_database, drivername="postgresql+psycopg"
            ).render_as_string(hide_password=False)
            yield Cluster([f"http://127.0.0.1:{port}" for port in ports], fake, engine, tracker_url)
        finally:
            for process in reversed(processes):
                stop_process(process)
            engine.dispose()
            fake.stop()


def test_the_production_profile_has_no_rest_channel_and_no_http_api(cluster: Cluster) -> None:
    for url in cluster.rasa_urls:
        assert (
            httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": "x", "message": "hi"}).status_code
            == 404
        )
        assert httpx.get(f"{url}/conversations/x/tracker").status_code in (403, 404)


def test_turns_alternating_between_instances_complete_both_flows(cluster: Cluster) -> None:
    user = viber_user()
    cluster.say(0, user, "Додати лічильник")
    cluster.say(1, user, "12345")
    assert "Тепер Ви зареєстровані!" in cluster.say(0, user, "222222")
    asked = cluster.say(1, user, "Передати показання")
    assert "в форматі ХХХ.ХХ" in asked[-1]
    assert cluster.say(0, user, "130.55")[0] == "Прийнято 130.55 до обробки. Дякуємо"
    with cluster.engine.connect() as connection:
        values = connection.scalars(
            select(Reading.value)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Subscriber.channel_user_id == user["id"])
        ).all()
    assert [str(v) for v in values] == ["130.55"]
    assert cluster.user_events(f"viber:{user['id']}") == [
        "Додати лічильник",
        "12345",
        "222222",
        "Передати показання",
        "130.55",
    ]


def test_two_messages_at_the_same_moment_on_two_instances_are_both_processed_once(cluster: Cluster) -> None:
    for _ in range(5):
        user = viber_user()
        cluster.say(0, user, "Привіт")
        gate = threading.Barrier(2)
        answers: list[int] = []

        def send(
            instance: int,
            words: str,
            user: dict[str, Any] = user,
            gate: threading.Barrier = gate,
            answers: list[int] = answers,
        ) -> None:
            body = message(user, words)
            gate.wait()
            answers.append(cluster.callback(instance, body).status_code)

        threads = [
            threading.Thread(target=send, args=(0, "Контакти")),
            threading.Thread(target=send, args=(1, "дякую")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [200, 200]
        events = cluster.user_events(f"viber:{user['id']}")
        assert events[0] == "Привіт"
        assert sorted(events[1:]) == sorted(["Контакти", "дякую"])  # both, once each
        texts = cluster.viber_api.texts_to(user["id"])
        assert sum("0 800-50-50-51" in t for t in texts) == 1
        assert sum(t.startswith("Будь ласка!") for t in texts) == 1


def test_a_callback_redelivered_to_the_other_instance_is_processed_once(cluster: Cluster) -> None:
    user = viber_user()
    cluster.say(0, user, "Привіт")
    body = message(user, "Контакти")
    assert cluster.callback(0, body).status_code == 200
    assert cluster.callback(1, body).status_code == 200
    time.sleep(0.2)
    assert cluster.user_events(f"viber:{user['id']}") == ["Привіт", "Контакти"]
    assert sum("0 800-50-50-51" in t for t in cluster.viber_api.texts_to(user["id"])) == 1
