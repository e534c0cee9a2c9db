"""The Rasa server still validates every action server response, only without re-checking the
constant schema each time (custom_components/speedups.py). Runs in the Rasa environment."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from rasa_sdk import Tracker

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
import custom_components
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
action = RemoteAction("action_x", None)
good = {"events": [{"event": "slot", "name": "a", "value": 1, "timestamp": None}] * 5, "responses": [{"text": "x"}]}
results = {"patched": RemoteAction._validate_action_result.__module__, "good": action._validate_action_result(good)}
for name, bad in {"events not a list": {"events": "x"}, "unknown event": {"events": [{"event": "nonsense"}]},
                  "responses not a list": {"responses": {"text": "x"}}}.items():
    try:
        action._validate_action_result(bad)
        results[name] = "accepted"
    except ValidationError as error:
        results[name] = "refused: " + ("Failed to validate Action server response" in error.message and "with Rasa's message" or "")
from jsonschema.validators import validator_for
schema_class = validator_for(RemoteAction.action_response_format_spec())
checks = []
original = schema_class.check_schema
schema_class.check_schema = classmethod(lambda cls, schema, *a, **k: checks.append(1) or original(schema))
for _ in range(10):
    action._validate_action_result(good)
results["schema_checks_in_10_validations"] = len(checks)
print(json.dumps(results))
"""


def test_action_responses_are_validated_once_the_schema_is_checked() -> None:
    done = subprocess.run(
        [str(ROOT / ".venv-rasa/bin/python"), "-c", PROBE],
        cwd=ROOT,
        env=os.environ
        | {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results == {
        "schema_checks_in_10_validations": 0,  # Rasa's own checks the constant schema every time
        "patched": "custom_components.speedups",
        "good": True,
        "events not a list": "refused: with Rasa's message",
        "unknown event": "refused: with Rasa's message",
        "responses not a list": "refused: with Rasa's message",
    }


def _probe(code: str, *args: str, timeout: float = 120) -> dict[str, object]:
    """Run code in the Rasa environment (with args as sys.argv[1:]); its last line, as JSON."""
    done = subprocess.run(
        [str(ROOT / ".venv-rasa/bin/python"), "-c", code, *args],
        cwd=ROOT,
        env=os.environ
        | {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _model() -> str:
    """The trained model for this data (scripts/train.sh trains it only if it is missing)."""
    trained = subprocess.run(
        [str(ROOT / "scripts" / "train.sh")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return trained.stdout.strip().splitlines()[-1]


EVENT_PROBE = """
import json
import custom_components
from rasa.shared.core.events import Event, deserialise_events
from rasa.shared.utils.common import all_subclasses
first = {}
for cls in all_subclasses(Event):  # Rasa's own walk: the first class with the name wins
    first.setdefault(cls.type_name, cls)
unknown = ""
try:
    Event.resolve_by_type("nonsense")
except ValueError as error:
    unknown = str(error)
events = deserialise_events([{"event": "slot", "name": "a", "value": 1}, {"event": "user", "text": "x", "parse_data": {"intent": {"name": "greet"}}}])
print(json.dumps({
    "patched": Event.resolve_by_type.__module__,
    "same classes": sorted(n for n, c in first.items() if Event.resolve_by_type(n) is c),
    "all names": sorted(first),
    "unknown": unknown,
    "topic": repr(Event.resolve_by_type("topic")),
    "default": Event.resolve_by_type("nonsense", first["slot"]).__name__,
    "deserialised": [type(e).__name__ for e in events],
}))
"""


def test_event_classes_are_found_as_rasa_finds_them() -> None:
    results = _probe(EVENT_PROBE)
    assert results["patched"] == "custom_components.speedups"
    assert results["same classes"] == results["all names"]
    assert len(results["all names"]) > 20  # type: ignore[arg-type]
    assert results["unknown"] == "Unknown event name 'nonsense'."
    assert results["topic"] == "None"
    assert results["default"] == "SlotSet"
    assert results["deserialised"] == ["SlotSet", "UserUttered"]


SESSION_PROBE = """
import asyncio, json
import custom_components
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

connections, served = [], []

async def handle(request):
    peer = request.transport.get_extra_info("peername")
    if peer not in connections:
        connections.append(peer)
    body = await request.json()
    if body.get("drop"):
        # the server closes this kept-alive connection without answering, once
        body_drop = request.app["dropped"]
        if not body_drop:
            request.app["dropped"] = True
            request.transport.close()
            return web.Response()
    if body.get("fail"):
        return web.json_response({"error": "x"}, status=500)
    served.append(body["n"])
    return web.json_response({"n": body["n"], "token": request.query.get("token")})

async def main():
    app = web.Application()
    app["dropped"] = False
    app.router.add_post("/webhook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="t0k")
    answers = [await endpoint.request(json={"n": n}) for n in range(5)]
    reused = len(connections)
    dropped_then = await endpoint.request(json={"n": 5, "drop": True})
    try:
        await endpoint.request(json={"n": 6, "fail": True})
        failed = "no error"
    except ClientResponseError as error:
        failed = error.status
    await runner.cleanup()
    print(json.dumps({"answers": answers, "connections for 5 calls": reused,
                      "after a dropped connection": dropped_then, "error status": failed,
                      "patched": EndpointConfig.request.__module__}))

asyncio.run(main())
"""


def test_action_server_calls_share_a_kept_alive_connection() -> None:
    results = _probe(SESSION_PROBE)
    assert results["patched"] == "custom_components.speedups"
    assert results["answers"] == [{"n": n, "token": "t0k"} for n in range(5)]
    assert results["connections for 5 calls"] == 1  # Rasa's own opens one per call
    assert results["after a dropped connection"] == {"n": 5, "token": "t0k"}  # sent once more
    assert results["error status"] == 500


CALL_PROBE = """
import json
import custom_components
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
domain = Domain.load("domain.yml")
tracker = DialogueStateTracker.from_events("viber:abc", [], slots=domain.slots)
call = RemoteAction("validate_reading_form", EndpointConfig("http://x"))._action_call_format(tracker, domain)
results = {"keys": sorted(call), "domain": sorted(call["domain"]),
           "forms": sorted(call["domain"]["forms"]), "domain still whole": "responses" in domain.as_dict()}

from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
def user(text, intent):
    return UserUttered(text, {"name": intent, "confidence": 1.0}, [], {"text": text}, input_channel="viber", message_id=text)
turns = [ActionExecuted("action_listen"), user("Привіт", "greet"), ActionExecuted("action_remember_subscriber"),
         SlotSet("subscriber_name", "Олена"), ActionExecuted("utter_greet"), ActionExecuted("action_listen"),
         user("Передати показання", "submit_reading"), ActionExecuted("action_start_reading"),
         SlotSet("meter_id", "7"), ActionExecuted("reading_form"), ActiveLoop("reading_form"),
         SlotSet("requested_slot", "reading_value"), ActionExecuted("action_listen"), user("123.45", "inform"),
         SlotSet("reading_value", "123.45")]
tracker = DialogueStateTracker.from_events("viber:abc", turns, slots=domain.slots)
call = RemoteAction("validate_reading_form", EndpointConfig("http://x"))._action_call_format(tracker, domain)
whole = tracker.current_state(EventVerbosity.ALL)
results["events sent"] = [e["event"] + ":" + str(e.get("text") or e.get("name")) for e in call["tracker"]["events"]]
results["rest as Rasa sends it"] = {k: v for k, v in call["tracker"].items() if k != "events"} == {
    k: v for k, v in whole.items() if k != "events"}
no_user = DialogueStateTracker.from_events("viber:abc", turns[:1] + [SlotSet("meter_id", "7")], slots=domain.slots)
sent = RemoteAction("x", EndpointConfig("http://x"))._action_call_format(no_user, domain)["tracker"]["events"]
results["without a user message"] = sent == no_user.current_state(EventVerbosity.ALL)["events"]
results["trimmed"], results["whole"] = call["tracker"], whole
print(json.dumps(results, ensure_ascii=False))
"""


def test_action_calls_carry_the_domain_without_its_responses() -> None:
    results = _probe(CALL_PROBE)
    assert results["keys"] == ["domain", "next_action", "sender_id", "tracker", "version"]
    assert "responses" not in results["domain"]  # type: ignore[operator]
    assert {"slots", "forms", "intents", "entities", "actions"} <= set(results["domain"])  # type: ignore[arg-type]
    assert results["forms"] == ["reading_form", "registration_form", "removal_form"]
    assert results["domain still whole"] is True  # Rasa's own Domain object is untouched


def test_action_calls_carry_the_current_turn_and_what_rasa_sdk_reads() -> None:
    results = _probe(CALL_PROBE)
    # from the latest user message on: the slot candidates a form validates follow it
    assert results["events sent"] == ["user:123.45", "slot:reading_value"]
    assert results["rest as Rasa sends it"] is True  # slots, latest message, loop, channel...
    assert results["without a user message"] is True
    # what the action server's rasa-sdk makes of it: what our actions and its forms read is alike
    trimmed, whole = (Tracker.from_dict(results[key]) for key in ("trimmed", "whole"))  # type: ignore[arg-type]

    def reads(tracker: Tracker) -> tuple[object, ...]:
        return (
            tracker.slots_to_validate(),
            tracker.get_latest_input_channel(),
            tracker.latest_message,
            tracker.slots,
            tracker.active_loop,
            tracker.get_intent_of_latest_message(),
            tracker.latest_action_name,
        )

    assert reads(trimmed) == reads(whole)
    assert trimmed.slots_to_validate() == {"reading_value": "123.45"}


EQUIVALENCE_PROBE = """
import itertools, json
import custom_components
from custom_components import speedups
from rasa.shared.core import events as E
from rasa.shared.utils.schemas.events import EVENT_SCHEMA

good = [e.as_dict() for e in [
    E.UserUttered("x", {"name": "greet", "confidence": 1.0}, [], {"text": "x"}), E.ActionExecuted("a"),
    E.SlotSet("s", 1), E.SlotSet("s", None), E.EntitiesAdded([]), E.BotUttered("hi", {"buttons": []}),
    E.ActiveLoop("f"), E.ActiveLoop(None), E.AllSlotsReset(), E.Restarted(), E.FollowupAction("a"),
    E.SessionStarted(), E.ActionReverted(), E.UserUtteranceReverted(), E.ConversationPaused(),
    E.ConversationResumed(), E.StoryExported(), E.LoopInterrupted(True), E.ActionExecutionRejected("a"),
    E.ReminderCancelled(), E.AgentUttered("x"), E.ReminderScheduled("i", __import__("datetime").datetime.now()),
]]
bad_events = [
    {}, {"event": 1}, {"event": None}, {"event": ["slot"]}, {"event": "nonsense"}, {"event": "slot"},
    {"event": "slot", "name": 1, "value": 1}, {"event": "slot", "name": "s"},
    {"event": "slot", "name": "s", "value": 1, "timestamp": "now"},
    {"event": "slot", "name": "s", "value": 1, "metadata": []}, {"event": "entities", "entities": "x"},
    {"event": "user", "text": 3}, {"event": "action", "name": 5}, "slot", 5, None, [],
]
responses = [{}, {"events": []}, {"responses": []}, {"events": "x"}, {"responses": {}}, {"responses": ["x"]},
             [], "x", None, {"events": None}, {"events": [], "responses": [{"text": "x"}]}]
responses += [{"events": [e]} for e in good + bad_events]
responses += [{"events": list(pair)} for pair in itertools.product(good[:6] + bad_events[:6], repeat=2)]
mismatch = [r for r in responses if speedups._is_valid(r) != speedups._VALIDATOR.is_valid(r)]
print(json.dumps({"checked": len(responses), "mismatch": mismatch,
                  "types covered": sorted({e["event"] for e in good}),
                  "schema types": sorted(b["properties"]["event"]["const"] for b in EVENT_SCHEMA["oneOf"]),
                  "valid ones": sum(speedups._VALIDATOR.is_valid(r) for r in responses)}))
"""


def test_event_by_event_validation_agrees_with_the_whole_schema() -> None:
    results = _probe(EQUIVALENCE_PROBE)
    assert results["mismatch"] == []
    assert results["checked"] > 150  # type: ignore[operator]
    assert 30 < results["valid ones"] < results["checked"]  # type: ignore[operator]
    missing = set(results["schema types"]) - set(results["types covered"])  # type: ignore[arg-type]
    assert missing <= {"form", "form_validation", "user_featurization", "export"}


TIMEOUT_PROBE = """
import asyncio, json, socket
import custom_components
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.utils.endpoints import EndpointConfig
silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
url = f"http://127.0.0.1:{silent.getsockname()[1]}/webhook"

async def main():
    try:
        await EndpointConfig(url, timeout=0.5).request(json={}, timeout=DEFAULT_REQUEST_TIMEOUT)
        return "answered"
    except asyncio.TimeoutError:
        return "gave up"

print(json.dumps({"outcome": asyncio.run(main()), "rasa's wait": DEFAULT_REQUEST_TIMEOUT}))
"""


def test_an_endpoints_timeout_bounds_each_call() -> None:
    # Without the endpoint's timeout the call would wait Rasa's five minutes, past the probe's limit.
    assert _probe(TIMEOUT_PROBE) == {"outcome": "gave up", "rasa's wait": 300}


GONE_PROBE = """
import asyncio, json, socket, threading
import aiohttp
import custom_components
from rasa.utils.endpoints import EndpointConfig

listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]

def serve_once_then_die():
    connection, _ = listener.accept()
    received = b""
    while b"\\r\\n\\r\\n" not in received:  # the whole call arrives (the server may act on it)...
        received += connection.recv(65536)
    head, _, body = received.partition(b"\\r\\n\\r\\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\\r\\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += connection.recv(65536)
    listener.close()  # ...and the server dies before answering: a FIN, not a reset of unread data
    connection.close()

threading.Thread(target=serve_once_then_die, daemon=True).start()

async def main():
    try:
        await EndpointConfig(f"http://127.0.0.1:{port}/webhook").request(json={"n": 1})
        return {"outcome": "answered"}
    except aiohttp.ClientError as error:
        return {"outcome": type(error).__name__, "cause": type(error.__cause__).__name__}

print(json.dumps(asyncio.run(main())))
"""


def test_a_call_whose_server_died_mid_call_is_not_reported_as_never_reached() -> None:
    # The retry on a fresh connection is refused; its error is chained to the first disconnect, so
    # the apology does not say nothing was saved (custom_components/action_fallback.py).
    assert _probe(GONE_PROBE) == {"outcome": "ClientConnectorError", "cause": "ServerDisconnectedError"}


RULES_PROBE = """
import json, random, sys, tarfile
import custom_components
from custom_components import speedups
from rasa.core.policies.rule_policy import RulePolicy

with tarfile.open(sys.argv[1]) as model:
    member = next(m for m in model.getmembers() if m.name.endswith("train_RulePolicy0/rule_policy.json"))
    lookups = json.load(model.extractfile(member))["lookup"]
policy = RulePolicy.__new__(RulePolicy)  # only the matching, which needs no trained state
rules = [json.loads(key) for key in lookups["rules"]]
random.seed(7)
checked = differ = found = 0
for _ in range(400):
    # histories of real rule states (so rules match) of every length, some shuffled
    history = [state for rule in random.choices(rules, k=random.randint(1, 12)) for state in rule]
    if random.random() < 0.3:
        random.shuffle(history)
    for name in ("rules", "rules_for_loop_unhappy_path"):
        ours = RulePolicy._get_possible_keys(policy, lookups[name], history)
        rasas = speedups._get_possible_keys(policy, lookups[name], history)
        checked += 1
        differ += ours != rasas
        found += bool(rasas)
print(json.dumps({"checked": checked, "differ": differ, "found": found,
                  "patched": RulePolicy._get_possible_keys.__module__,
                  "longest": speedups._longest_rule(policy, lookups["rules"])}))
"""


def test_rules_are_matched_as_rasa_matches_them() -> None:
    results = _probe(RULES_PROBE, _model(), timeout=300)
    assert results["patched"] == "custom_components.speedups"
    assert results["checked"] == 800 and results["differ"] == 0
    assert results["found"] > 100  # the histories do match rules, so the comparison means something
    assert 1 < results["longest"] < 10


GRAPH_PROBE = """
import json, logging, sys
from rasa.utils.log_utils import configure_structlog
configure_structlog(logging.INFO)
import custom_components
from custom_components import speedups
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.loading import load_data

agent = Agent.load(sys.argv[1])
runner, meta, domain = agent.processor.graph_runner, agent.processor.model_metadata, agent.domain
texts = [m.get(TEXT) for m in load_data("tests/nlu/test_nlu.yml").intent_examples]
texts += ["", " ", '/submit_reading{"meter_id": 42}', "ʼ" * 500, "1e3", "123.45", "Привіт!!!"]

def both(inputs, target):
    outcomes = []
    for run in (speedups._run_graph, speedups._dask_run):
        try:
            outcomes.append(run(runner, inputs(), [target]))
        except Exception as error:
            outcomes.append(type(error).__name__ + ": " + str(error))
    return outcomes

parses = differ = predictions = refused = 0
for text in texts:
    ours, dasks = both(lambda: {PLACEHOLDER_MESSAGE: [UserMessage(text, message_id="probe")], PLACEHOLDER_TRACKER: None}, meta.nlu_target)
    if isinstance(ours, str) or isinstance(dasks, str):  # the same error, or a difference
        differ += ours != dasks
        refused += 1
        continue
    (ours_message,), (dask_message,) = ours[meta.nlu_target], dasks[meta.nlu_target]
    parses += 1
    differ += ours.keys() != dasks.keys() or ours_message.as_dict() != dask_message.as_dict()
    parse = ours_message.as_dict()
    def tracker():
        return DialogueStateTracker.from_events("probe", [ActionExecuted("action_listen"),
            UserUttered(text, parse.get("intent"), parse.get("entities", []), parse)], slots=domain.slots)
    ours, dasks = both(lambda: {PLACEHOLDER_TRACKER: tracker()}, meta.core_target)
    a, b = ours[meta.core_target], dasks[meta.core_target]
    predictions += 1
    differ += (a.probabilities, a.policy_name, a.events, a.hide_rule_turn) != (b.probabilities, b.policy_name, b.events, b.hide_rule_turn)

errors = {}
name = meta.nlu_target
node = runner._instantiated_nodes[name]
def broken(*args):
    raise RuntimeError("a node failed")
runner._instantiated_nodes[name] = broken
for label, run in (("ours", speedups._run_graph), ("dask", speedups._dask_run)):
    try:
        run(runner, {PLACEHOLDER_MESSAGE: [UserMessage("x", message_id="probe")], PLACEHOLDER_TRACKER: None}, [name])
        errors[label] = "none"
    except GraphRunError as error:
        errors[label] = type(error.__cause__).__name__
runner._instantiated_nodes[name] = node
clash = {}
for label, run in (("ours", speedups._run_graph), ("dask", speedups._dask_run)):
    try:
        run(runner, {PLACEHOLDER_MESSAGE: name, PLACEHOLDER_TRACKER: None}, [name])
    except GraphRunError as error:
        clash[label] = "refused"
print(json.dumps({"parses": parses, "predictions": predictions, "differ": differ, "errors": errors, "refused": refused,
                  "clash": clash, "patched": DaskGraphRunner.run.__module__}))
"""


def test_the_model_graph_runs_as_dask_runs_it() -> None:
    results = _probe(GRAPH_PROBE, _model(), timeout=300)
    assert results["patched"] == "custom_components.speedups"
    assert results["parses"] > 200 and results["predictions"] == results["parses"]
    assert results["differ"] == 0  # the same intents, rankings, entities and next actions
    assert results["errors"] == {"ours": "RuntimeError", "dask": "RuntimeError"}
    assert results["clash"] == {"ours": "refused", "dask": "refused"}


DEBUG_COPY_PROBE = """
import json, logging
import custom_components
import rasa.core.processor, rasa.core.policies.rule_policy, rasa.core.actions.forms
from rasa.utils.log_utils import configure_structlog
states = [{"user": {"intent": "greet"}}, {"prev_action": {"action_name": "utter_greet"}}]
results = {}
for level in ("INFO", "DEBUG"):
    configure_structlog(getattr(logging, level))
    copies = [module.copy.deepcopy(states) for module in
              (rasa.core.processor, rasa.core.policies.rule_policy, rasa.core.actions.forms)]
    results[level] = {"same object": [c is states for c in copies], "equal": [c == states for c in copies]}
print(json.dumps(results))
"""


def test_debug_values_are_copied_only_when_debug_messages_are_logged() -> None:
    results = _probe(DEBUG_COPY_PROBE)
    assert results["INFO"] == {"same object": [True] * 3, "equal": [True] * 3}
    assert results["DEBUG"] == {"same object": [False] * 3, "equal": [True] * 3}
