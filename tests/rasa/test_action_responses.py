"""Action server responses are still validated, with Rasa's errors, without re-checking the
constant schema on every call (custom_components/patches/action_responses.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core import events as e
from rasa.shared.utils.schemas.events import EVENT_SCHEMA

from custom_components.patches.action_responses import ActionResponseSchema
from custom_components.patches.replacing import rasas_own

GOOD = {
    "events": [{"event": "slot", "name": "a", "value": 1, "timestamp": None}] * 5,
    "responses": [{"text": "x"}],
}
BAD: dict[str, dict[str, Any]] = {
    "events not a list": {"events": "x"},
    "unknown event": {"events": [{"event": "nonsense"}]},
    "responses not a list": {"responses": {"text": "x"}},
    "slot without a value": {"events": [{"event": "slot", "name": "s"}]},
    "second event broken": {"events": [{"event": "action", "name": "a"}, {"event": "user", "text": 3}]},
}


def rasas_validation(action: RemoteAction, result: Any) -> bool:
    """Rasa 3.6.21's own RemoteAction._validate_action_result."""
    validate = rasas_own(RemoteAction, "_validate_action_result")
    assert validate.__module__ == "rasa.core.actions.action"
    return bool(validate(action, result))


def error_of(validate: Any, result: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as error:
        validate(result)
    return str(error.value.message)


@pytest.fixture
def schema_checks() -> Iterator[list[int]]:
    """Counts the checks of the action response schema itself."""
    schema_class = validator_for(RemoteAction.action_response_format_spec())
    checks: list[int] = []
    original = schema_class.__dict__["check_schema"]

    def counting(cls: Any, schema: Any, *args: Any, **kwargs: Any) -> None:
        checks.append(1)
        original.__func__(cls, schema, *args, **kwargs)

    schema_class.check_schema = classmethod(counting)
    try:
        yield checks
    finally:
        schema_class.check_schema = original


def test_responses_are_validated_without_checking_the_schema_each_time(schema_checks: list[int]) -> None:
    action = RemoteAction("action_x", None)
    for _ in range(10):
        assert action._validate_action_result(GOOD) is True
    assert schema_checks == []
    # Rasa's own checks the constant schema on every call: the cost this patch removes
    for _ in range(10):
        rasas_validation(action, GOOD)
    assert len(schema_checks) == 10


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_response_gets_rasas_own_error(name: str) -> None:
    action = RemoteAction("action_x", None)
    ours = error_of(action._validate_action_result, BAD[name])
    assert ours == error_of(lambda result: rasas_validation(action, result), BAD[name])
    assert "Failed to validate Action server response from API" in ours


def every_kind_of_event() -> list[dict[str, Any]]:
    return [
        event.as_dict()
        for event in [
            e.UserUttered("x", {"name": "greet", "confidence": 1.0}, [], {"text": "x"}),
            e.ActionExecuted("a"),
            e.SlotSet("s", 1),
            e.SlotSet("s", None),
            e.EntitiesAdded([]),
            e.BotUttered("hi", {"buttons": []}),
            e.ActiveLoop("f"),
            e.ActiveLoop(None),
            e.AllSlotsReset(),
            e.Restarted(),
            e.FollowupAction("a"),
            e.SessionStarted(),
            e.ActionReverted(),
            e.UserUtteranceReverted(),
            e.ConversationPaused(),
            e.ConversationResumed(),
            e.StoryExported(),
            e.LoopInterrupted(True),
            e.ActionExecutionRejected("a"),
            e.ReminderCancelled(),
            e.AgentUttered("x"),
            e.ReminderScheduled("i", dt.datetime.now()),
        ]
    ]


BAD_EVENTS: list[Any] = [
    {},
    {"event": 1},
    {"event": None},
    {"event": ["slot"]},
    {"event": "nonsense"},
    {"event": "slot"},
    {"event": "slot", "name": 1, "value": 1},
    {"event": "slot", "name": "s"},
    {"event": "slot", "name": "s", "value": 1, "timestamp": "now"},
    {"event": "slot", "name": "s", "value": 1, "metadata": []},
    {"event": "entities", "entities": "x"},
    {"event": "user", "text": 3},
    {"event": "action", "name": 5},
    "slot",
    5,
    None,
    [],
]


def test_event_by_event_validation_agrees_with_the_whole_schema() -> None:
    good = every_kind_of_event()
    responses: list[Any] = [
        {},
        {"events": []},
        {"responses": []},
        {"events": "x"},
        {"responses": {}},
        {"responses": ["x"]},
        [],
        "x",
        None,
        {"events": None},
        {"events": [], "responses": [{"text": "x"}]},
    ]
    responses += [{"events": [event]} for event in good + BAD_EVENTS]
    responses += [{"events": list(pair)} for pair in itertools.product(good[:6] + BAD_EVENTS[:6], repeat=2)]
    schema = ActionResponseSchema()
    assert [r for r in responses if schema.is_valid(r) != schema.whole.is_valid(r)] == []
    valid = sum(schema.whole.is_valid(r) for r in responses)
    assert len(responses) > 150 and 30 < valid < len(responses)  # both kinds, many of each
    covered = {event["event"] for event in good}
    every_type = {branch["properties"]["event"]["const"] for branch in EVENT_SCHEMA["oneOf"]}
    assert every_type - covered <= {"form", "form_validation", "user_featurization", "export"}
