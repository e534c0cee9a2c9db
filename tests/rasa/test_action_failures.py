"""A custom action whose call fails answers with the apology, ends the active form and listens
(custom_components/patches/action_failures.py), for every way the action server can fail. Rasa's
own RemoteAction and FormAction against local servers that fail on purpose."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import rasa.core.actions.action
from rasa.core.actions.action import RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from custom_components.patches.replacing import rasas_own

# No connection: nothing can have been saved. Any later failure: the action may have saved.
NOTHING_SAVED = "say Вибачте, сервіс тимчасов | nothing saved | 5 buttons"
CHECK_HISTORY = "say Вибачте, сервіс тимчасов | check the history | 5 buttons"


def answering(status: int, body: str) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/webhook"


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/webhook"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    answers = {
        "http 500": answering(500, '{"error": "boom"}'),
        "not an action server answer": answering(200, '{"events": "nonsense"}'),
        "rejected (400)": answering(400, '{"action_name": "validate_registration_form", "error": "no"}'),
    }
    yield {
        "refused": closed_port(),
        "timeout": f"http://127.0.0.1:{silent.getsockname()[1]}/webhook",
        **{name: url for name, (_, url) in answers.items()},
    }
    silent.close()
    for server, _ in answers.values():
        server.shutdown()


@pytest.fixture(autouse=True)
def one_second_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa waits 5 minutes for an action server; a second shows the same path."""
    monkeypatch.setattr(rasa.core.actions.action, "DEFAULT_REQUEST_TIMEOUT", 1)


def user(text: str, intent: str) -> list[Event]:
    return [ActionExecuted("action_listen"), UserUttered(text, intent={"name": intent, "confidence": 1.0})]


def in_registration(domain: Domain) -> DialogueStateTracker:
    events = [
        *user("Додати лічильник", "register_meter"),
        ActionExecuted("action_start_registration"),
        ActionExecuted("registration_form"),
        ActiveLoop("registration_form"),
        SlotSet("requested_slot", "account_number"),
        *user("12345", "inform_number"),
        SlotSet("account_number", "12345"),
    ]
    return DialogueStateTracker.from_events("probe", events, slots=domain.slots)


def starting_reading(domain: Domain) -> DialogueStateTracker:
    events = [
        *user("Передати показання", "submit_reading"),
        ActionExecuted("action_start_reading"),
        SlotSet("meter_id", "7"),
        SlotSet("reading_start", "ask"),
    ]
    return DialogueStateTracker.from_events("probe", events, slots=domain.slots)


def described(events: list[Event]) -> list[str]:
    out = []
    for event in events:
        if isinstance(event, BotUttered):
            buttons = [button["title"] for button in event.data.get("buttons") or []]
            saved = "nothing saved" if "нічого не збережено" in (event.text or "") else "check the history"
            out.append(f"say {(event.text or '')[:24]} | {saved} | {len(buttons)} buttons")
        elif isinstance(event, ActiveLoop):
            out.append(f"loop {event.name}")
        elif isinstance(event, SlotSet):
            out.append(f"slot {event.key}={event.value}")
        elif isinstance(event, FollowupAction):
            out.append(f"next {event.action_name}")
        else:
            out.append(type(event).__name__)
    return out


def outcomes(domain: Domain, url: str) -> dict[str, Any]:
    """What a plain action, a form's validation and a form's activation come to against ``url``."""
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    endpoint = EndpointConfig(url)
    runs = {
        "plain action": (RemoteAction("action_my_meters", endpoint), starting_reading(domain)),
        "form validation": (FormAction("registration_form", endpoint), in_registration(domain)),
        "form activation": (FormAction("reading_form", endpoint), starting_reading(domain)),
    }

    async def attempt(action: RemoteAction, tracker: DialogueStateTracker) -> Any:
        try:
            return described(await action.run(CollectingOutputChannel(), nlg, tracker, domain))
        except Exception as error:
            return f"raised {type(error).__name__}"

    async def main() -> dict[str, Any]:
        return {name: await attempt(action, tracker) for name, (action, tracker) in runs.items()}

    return asyncio.run(main())


def plain(apology: str) -> list[str]:
    return [apology, "next action_listen"]


def form_ended(apology: str) -> list[str]:
    return [
        apology,
        "loop None",
        "slot requested_slot=None",
        "slot account_number=None",
        "slot meter_number=None",
        "next action_listen",
        # Rasa's own end of a form whose validation asked for nothing more
        "slot requested_slot=None",
        "loop None",
    ]


def activation_ended(apology: str) -> list[str]:
    return [
        "loop reading_form",
        apology,
        "loop None",
        "slot requested_slot=None",
        "slot meter_id=None",
        "slot reading_value=None",
        "slot reading_confirmed=None",
        "next action_listen",
        "loop None",  # Rasa's own deactivation, as after any finished form
    ]


@pytest.mark.parametrize(
    ("failure", "apology"),
    [
        ("refused", NOTHING_SAVED),
        ("timeout", CHECK_HISTORY),
        ("http 500", CHECK_HISTORY),
        ("not an action server answer", CHECK_HISTORY),
    ],
    ids=["refused", "timeout", "http 500", "not an action server answer"],
)
def test_a_failed_call_apologises_ends_the_form_and_listens(
    domain: Domain, servers: dict[str, str], failure: str, apology: str
) -> None:
    assert outcomes(domain, servers[failure]) == {
        "plain action": plain(apology),
        "form validation": form_ended(apology),
        "form activation": activation_ended(apology),
    }


def test_an_action_that_refuses_to_run_keeps_rasas_handling(domain: Domain, servers: dict[str, str]) -> None:
    # A 400 is ActionExecutionRejection: the policies may predict something else.
    assert outcomes(domain, servers["rejected (400)"])["plain action"] == "raised ActionExecutionRejection"


@pytest.mark.parametrize(
    ("failure", "apology"),
    [("refused", "utter_service_unavailable"), ("http 500", "utter_service_interrupted")],
    ids=["refused", "http 500"],
)
def test_the_log_names_the_apology_that_was_sent(
    domain: Domain, servers: dict[str, str], caplog: pytest.LogCaptureFixture, failure: str, apology: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="custom_components.patches.action_failures"):
        outcomes(domain, servers[failure])
    logged = [record.getMessage() for record in caplog.records if record.name.endswith("action_failures")]
    assert len(logged) == 3
    assert all(f"; answered with {apology}" in line for line in logged), logged
    assert logged[1].endswith(" and ended registration_form")


def test_without_the_fallback_rasa_loses_the_answer(
    domain: Domain, servers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What Rasa 3.6 does on its own: the call raises and the processor drops the action's events."""
    monkeypatch.setattr(RemoteAction, "run", rasas_own(RemoteAction, "run"))
    assert outcomes(domain, servers["refused"]) == {
        "plain action": "raised RasaException",
        "form validation": "raised RasaException",
        "form activation": "raised RasaException",
    }
