"""A custom action whose call fails answers with the apology, ends the active form and listens
(custom_components/action_fallback.py), for every way the action server can fail. Runs Rasa's own
RemoteAction and FormAction in the Rasa environment against local sockets that fail on purpose."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import asyncio, json, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if sys.argv[1] == "patched":
    import custom_components  # noqa: F401
import rasa.core.actions.action as action_module
import rasa.utils.endpoints as endpoints_module
from rasa.core.actions.action import RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, FollowupAction, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

# Rasa waits 5 minutes for an action server; a second shows the same path.
action_module.DEFAULT_REQUEST_TIMEOUT = endpoints_module.DEFAULT_REQUEST_TIMEOUT = 1

def http_server(status, body):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/webhook"

def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/webhook"

silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
servers = {
    "refused": closed_port(),
    "timeout": f"http://127.0.0.1:{silent.getsockname()[1]}/webhook",
    "http 500": http_server(500, '{"error": "boom"}'),
    "not an action server answer": http_server(200, '{"events": "nonsense"}'),
    "rejected (400)": http_server(400, '{"action_name": "validate_registration_form", "error": "no"}'),
}

domain = Domain.load("domain.yml")
nlg = TemplatedNaturalLanguageGenerator(domain.responses)

def user(text, intent):
    return [ActionExecuted("action_listen"), UserUttered(text, intent={"name": intent, "confidence": 1.0})]

def tracker(events):
    return DialogueStateTracker.from_events("probe", events, slots=domain.slots)

in_registration = tracker(
    user("Додати лічильник", "register_meter")
    + [ActionExecuted("action_start_registration"), ActionExecuted("registration_form"),
       ActiveLoop("registration_form"), SlotSet("requested_slot", "account_number")]
    + user("12345", "inform_number") + [SlotSet("account_number", "12345")]
)
starting_reading = tracker(
    user("Передати показання", "submit_reading")
    + [ActionExecuted("action_start_reading"), SlotSet("meter_id", "7"), SlotSet("meters_registered", True)]
)

def described(events):
    out = []
    for e in events:
        if isinstance(e, BotUttered):
            buttons = [b["title"] for b in e.data.get("buttons") or []]
            saved = "nothing saved" if "нічого не збережено" in e.text else "check the history"
            out.append(f"say {e.text[:24]} | {saved} | {len(buttons)} buttons")
        elif isinstance(e, ActiveLoop):
            out.append(f"loop {e.name}")
        elif isinstance(e, SlotSet):
            out.append(f"slot {e.key}={e.value}")
        elif isinstance(e, FollowupAction):
            out.append(f"next {e.action_name}")
        else:
            out.append(type(e).__name__)
    return out

async def attempt(action, state):
    output = CollectingOutputChannel()
    try:
        return described(await action.run(output, nlg, state.copy(), domain))
    except Exception as error:
        return f"raised {type(error).__name__}"

async def main():
    results = {}
    for name, url in servers.items():
        endpoint = EndpointConfig(url)
        results[name] = {
            "plain action": await attempt(RemoteAction("action_my_meters", endpoint), starting_reading),
            "form validation": await attempt(FormAction("registration_form", endpoint), in_registration),
            "form activation": await attempt(FormAction("reading_form", endpoint), starting_reading),
        }
    print(json.dumps(results, ensure_ascii=False))

asyncio.run(main())
"""

# No connection: nothing can have been saved. Any later failure: the action may have saved.
NOTHING_SAVED = "say Вибачте, сервіс тимчасов | nothing saved | 5 buttons"
CHECK_HISTORY = "say Вибачте, сервіс тимчасов | check the history | 5 buttons"


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


def probe(mode: str) -> dict[str, dict[str, object]]:
    done = subprocess.run(
        [str(ROOT / ".venv-rasa/bin/python"), "-c", PROBE, mode],
        cwd=ROOT,
        env=os.environ
        | {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )
    result: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def patched() -> dict[str, dict[str, object]]:
    return probe("patched")


@pytest.mark.parametrize(
    ("failure", "apology"),
    [
        ("refused", NOTHING_SAVED),
        ("timeout", CHECK_HISTORY),
        ("http 500", CHECK_HISTORY),
        ("not an action server answer", CHECK_HISTORY),
    ],
)
def test_a_failed_call_apologises_ends_the_form_and_listens(
    patched: dict[str, dict[str, object]], failure: str, apology: str
) -> None:
    assert patched[failure] == {
        "plain action": plain(apology),
        "form validation": form_ended(apology),
        "form activation": activation_ended(apology),
    }


def test_an_action_that_refuses_to_run_keeps_rasas_handling(patched: dict[str, dict[str, object]]) -> None:
    # A 400 is ActionExecutionRejection: the policies may predict something else.
    assert patched["rejected (400)"]["plain action"] == "raised ActionExecutionRejection"


def test_without_the_fallback_rasa_loses_the_answer() -> None:
    """What Rasa 3.6 does on its own: the call raises and the processor drops the action's events."""
    assert probe("stock")["refused"] == {
        "plain action": "raised RasaException",
        "form validation": "raised RasaException",
        "form activation": "raised RasaException",
    }
