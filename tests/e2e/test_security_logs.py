"""The servers' logs carry no secrets and no full personal data.

After conversations through Viber (opening the chat, registration with a demo account, a reading,
the lists, a contact card, forged payloads that carry an address, a refused signature, a failed
send) and through REST and the web chat, the Rasa server's and the action server's logs (at the
level production runs them: INFO) must contain neither the Viber token, nor any
X-Viber-Content-Signature value, nor a demo account's address (in full or its street and house),
nor a subscriber's name, avatar or phone number, nor an account number.

The servers are the session's configuration (same commands, credentials.yml, environment,
database and fake Viber API), started once more for this module, so their log files hold this
module's conversations only: two runs of the session fixture at the same moment write into the
same tests/output/rasa-server.log.

What may be logged: Viber user ids (pseudonymous; they name the conversation), message tokens,
meter ids, Viber status codes and their meaning.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.operators.demo import DEMO_METERS
from custom_channels import viber_api
from tests.support.chats import WebChat
from tests.support.paths import ROOT
from tests.support.servers import (
    VIBER_TOKEN,
    Servers,
    WebchatPage,
    action_server_command,
    free_port,
    rasa_command,
    start_process,
    stop_process,
    wait_until_up,
)
from tests.support.viber import message, token

NAME = "Олена Петренко-Кравчук"
AVATAR = "https://media-direct.cdn.viber.com/download_photo?dlid=security-avatar-7f3a"
PHONE = "+380671234567"
OTHER_NAME = "Іван Сидоренко"


@dataclasses.dataclass
class Logged:
    servers: Servers
    rasa_log: Path
    action_log: Path


@pytest.fixture(scope="module")
def logged(
    servers: Servers, model_path: Path, webchat_page: WebchatPage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Logged]:
    env = servers.env | {"LOG_LEVEL": "INFO"}  # what production runs (scripts/serve.sh sets no level)
    action_port, rasa_port = free_port(), free_port()
    endpoints = tmp_path_factory.mktemp("security-logs") / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    action, action_log = start_process("security-logs-action-server", action_server_command(action_port), env)
    command = rasa_command(model_path, endpoints, ROOT / "credentials.yml", "--cors", webchat_page.origin)
    rasa, rasa_log = start_process("security-logs-rasa-server", [*command, "--port", str(rasa_port)], env)
    try:
        wait_until_up(f"http://127.0.0.1:{action_port}/health", action, action_log)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", rasa, rasa_log)
        own = dataclasses.replace(
            servers, rasa_url=f"http://127.0.0.1:{rasa_port}", action_url=f"http://127.0.0.1:{action_port}"
        )
        yield Logged(own, rasa_log, action_log)
    finally:
        stop_process(rasa)
        stop_process(action)


class SignedViber:
    """Callbacks signed with the token; remembers every signature it sent."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers
        self.signatures: list[str] = []

    def post(self, callback: dict[str, Any], key: str = VIBER_TOKEN) -> int:
        body = json.dumps(callback, ensure_ascii=False).encode()
        signature = viber_api.signature(body, key)
        self.signatures.append(signature)
        return self.servers.viber_raw(body, signature=signature).status_code

    def say(self, user: dict[str, Any], text: str) -> list[str]:
        before = len(self.servers.viber_api.sent_to(user["id"]))
        assert self.post(message(user, text)) == 200
        return self.servers.viber_api.texts_to(user["id"])[before:]


def converse(servers: Servers, webchat_page: WebchatPage, probe: str) -> SignedViber:
    viber = SignedViber(servers)
    user = {
        "id": f"{uuid.uuid4().hex[:22]}==",
        "name": NAME,
        "avatar": AVATAR,
        "country": "UA",
        "language": "uk",
        "api_version": 10,
    }
    now = int(time.time() * 1000)
    opened = {"event": "conversation_started", "timestamp": now, "message_token": token(), "type": "open"}
    assert viber.post(opened | {"user": user, "subscribed": False}) == 200
    assert (
        viber.post({"event": "subscribed", "timestamp": now, "message_token": token(), "user": user}) == 200
    )

    account, address, meter, *_ = DEMO_METERS[-1]  # 34567, вул. Реміснича, 7, кв. 1, 555555
    viber.say(user, "Привіт")
    viber.say(user, "Додати лічильник")
    viber.say(user, f"о/р {account}, {address}")
    assert "Тепер Ви зареєстровані!" in viber.say(user, meter)
    viber.say(user, "Передати показання")
    assert viber.say(user, "222.22")[0] == "Прийнято 222.22 до обробки. Дякуємо"
    viber.say(user, "Мої лічильники")
    viber.say(user, "Історія показань")
    # personal data typed or carried where the assistant does not expect it
    contact = message(user, "")
    contact["message"] = {"type": "contact", "contact": {"name": OTHER_NAME, "phone_number": PHONE}}
    assert viber.post(contact) == 200
    viber.say(user, f"мій телефон {PHONE}, {OTHER_NAME}")
    viber.say(user, f'/inform{{"address": "{address}", "name": "{NAME}", "phone": "{PHONE}"}}')
    viber.say(user, f'/greet{{"address": "{address}"')  # not even JSON
    # a refused signature (keyed with another token), a send Viber refuses, a failed delivery
    assert viber.post(message(user, "Контакти"), key="not-the-token") == 403
    servers.viber_api.statuses[user["id"]] = 6
    try:
        viber.say(user, "Контакти")
    finally:
        servers.viber_api.statuses.pop(user["id"])
    # a failed delivery is logged (WARNING) with Viber's description: proof that this log is this run's
    failed = {"event": "failed", "timestamp": now, "message_token": token(), "user_id": user["id"]}
    assert viber.post(failed | {"desc": f"failure: {probe}"}) == 200

    # the other channels, with a name and a phone in the metadata
    sender = f"logs-{uuid.uuid4().hex[:8]}"
    servers.say(sender, "Привіт", name=NAME, phone=PHONE, avatar=AVATAR)
    servers.say(sender, "Додати лічильник")
    servers.say(sender, f"{account} {address}")
    chat = WebChat(servers.rasa_url, webchat_page.origin, uuid.uuid4().hex)
    try:
        chat.say("Додати лічильник")
        chat.say(account)
        chat.say(f"{meter} {NAME} {PHONE}")
    finally:
        chat.close()
    return viber


def forbidden(viber: SignedViber) -> dict[str, str]:
    """What must not be in a log, by what it is."""
    items = {"the Viber token": VIBER_TOKEN}
    items |= {f"signature {s[:8]}…": s for s in viber.signatures}
    for account, address, *_ in DEMO_METERS:
        street_and_house = ", ".join(address.split(", ")[1:3])  # "вул. Реміснича, 7"
        items |= {f"address of {account}": address, f"street of {account}": street_and_house}
    items |= {"a subscriber's name": NAME, "a name in a contact card": OTHER_NAME}
    items |= {"an avatar": AVATAR, "a phone number": PHONE, "a phone number's digits": PHONE[4:]}
    return items


def account_numbers_in(log: str) -> set[str]:
    """Demo account numbers standing alone (not inside a port, a time or a longer number)."""
    numbers = {account for account, *_ in DEMO_METERS}
    return {n for n in numbers if re.search(rf"(?<![\d:.]){n}(?!\d)", log)}


def test_logs_carry_no_token_signature_or_personal_data(logged: Logged, webchat_page: WebchatPage) -> None:
    servers = logged.servers
    probe = f"security-log-probe-{uuid.uuid4().hex[:8]}"
    viber = converse(servers, webchat_page, probe)

    rasa_log = logged.rasa_log.read_text(encoding="utf-8", errors="replace")
    action_log = logged.action_log.read_text(encoding="utf-8", errors="replace")
    # the logs are these servers' and record what happened
    assert f"Starting Rasa server on http://0.0.0.0:{servers.rasa_url.rsplit(':', 1)[1]}" in rasa_log
    assert f"up and running on http://0.0.0.0:{servers.action_url.rsplit(':', 1)[1]}" in action_log
    assert probe in rasa_log
    assert "status 6 (receiver not subscribed)" in rasa_log  # the failed send is logged, without data

    for name, log in (("rasa-server.log", rasa_log), ("action-server.log", action_log)):
        leaked = [what for what, value in forbidden(viber).items() if value in log]
        assert leaked == [], f"{name} contains {', '.join(leaked)}"
        assert account_numbers_in(log) == set(), f"{name} contains account numbers"
