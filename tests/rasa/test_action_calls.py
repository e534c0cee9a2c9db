"""What a call to the action server carries (custom_components/patches/action_calls.py): the
domain without its responses, and the events of the current turn only. These are the two
contracts action code lives with (actions/dialogue/conversation.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from local_webhook import local_webhook
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker

from custom_components.patches.replacing import rasas_own


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(
        text, {"name": intent, "confidence": 1.0}, [], {"text": text}, input_channel="viber", message_id=text
    )


TURNS: list[Event] = [
    ActionExecuted("action_listen"),
    user("Привіт", "greet"),
    ActionExecuted("action_remember_subscriber"),
    SlotSet("subscriber_name", "Олена"),
    ActionExecuted("utter_greet"),
    ActionExecuted("action_listen"),
    user("Передати показання", "submit_reading"),
    ActionExecuted("action_start_reading"),
    SlotSet("meter_id", "7"),
    ActionExecuted("reading_form"),
    ActiveLoop("reading_form"),
    SlotSet("requested_slot", "reading_value"),
    ActionExecuted("action_listen"),
    user("123.45", "inform"),
    SlotSet("reading_value", "123.45"),
]


def in_the_form(domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("viber:abc", TURNS, slots=domain.slots)


def sent_by_a_real_call(domain: Domain, tracker: DialogueStateTracker) -> dict[str, Any]:
    """The JSON RemoteAction.run (patched as the server runs it) posts to an action server."""
    received: list[dict[str, Any]] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"events": [], "responses": []})

    async def main() -> None:
        async with local_webhook(webhook) as url:
            action = RemoteAction("validate_reading_form", EndpointConfig(url))
            nlg = TemplatedNaturalLanguageGenerator(domain.responses)
            await action.run(CollectingOutputChannel(), nlg, tracker, domain)

    asyncio.run(main())
    (call,) = received
    return call


def test_action_calls_carry_the_domain_without_its_responses(domain: Domain) -> None:
    call = sent_by_a_real_call(domain, in_the_form(domain))
    assert sorted(call) == ["domain", "next_action", "sender_id", "tracker", "version"]
    assert "responses" not in call["domain"]
    assert {"slots", "forms", "intents", "entities", "actions"} <= set(call["domain"])
    assert sorted(call["domain"]["forms"]) == ["reading_form", "registration_form", "removal_form"]
    whole = domain.as_dict()
    assert {key: value for key, value in whole.items() if key != "responses"} == call["domain"]
    assert "responses" in whole  # Rasa's own Domain object is untouched


def test_action_calls_carry_the_current_turn_only(domain: Domain) -> None:
    tracker = in_the_form(domain)
    call = sent_by_a_real_call(domain, tracker)
    sent = [
        f"{event['event']}:{event.get('text') or event.get('name')}" for event in call["tracker"]["events"]
    ]
    # from the latest user message on: the slot candidates a form validates follow it
    assert sent == ["user:123.45", "slot:reading_value"]
    whole = tracker.current_state(EventVerbosity.ALL)
    assert {key: value for key, value in call["tracker"].items() if key != "events"} == {
        key: value for key, value in whole.items() if key != "events"
    }  # slots, latest message, active loop, channel...: as Rasa sends them


def test_without_a_user_message_every_event_goes(domain: Domain) -> None:
    tracker = DialogueStateTracker.from_events(
        "viber:abc", [ActionExecuted("action_listen"), SlotSet("meter_id", "7")], slots=domain.slots
    )
    call = RemoteAction("x", EndpointConfig("http://x"))._action_call_format(tracker, domain)
    assert call["tracker"]["events"] == tracker.current_state(EventVerbosity.ALL)["events"]


def test_rasa_sends_the_whole_conversation_and_every_response(domain: Domain) -> None:
    """Rasa's own call, for contrast: what the patch removes."""
    tracker = in_the_form(domain)
    call = rasas_own(RemoteAction, "_action_call_format")(
        RemoteAction("x", EndpointConfig("http://x")), tracker, domain
    )
    assert len(call["tracker"]["events"]) == len(TURNS)
    assert "responses" in call["domain"]


def test_what_rasa_sdk_reads_of_the_tracker_is_alike(domain: Domain) -> None:
    """rasa-sdk's Tracker as this environment has it (3.6.2; the action server's 3.21 is checked on
    the action server's side) reads the same of the current turn as of the whole conversation."""
    tracker = in_the_form(domain)
    call = RemoteAction("x", EndpointConfig("http://x"))._action_call_format(tracker, domain)
    trimmed = Tracker.from_dict(call["tracker"])
    whole = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))

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
