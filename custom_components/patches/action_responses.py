"""Action server responses validated against a schema checked once (docs/performance.md)."""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.utils.schemas.events import EVENT_SCHEMA

from custom_components.patches.replacing import replace


class ActionResponseSchema:
    """Rasa's action response schema, itself checked once.

    A response is checked event by event against the one branch of the events' 23-way "oneOf"
    that its "event" names: every branch fixes "event" to a different constant, so an event is
    valid under the "oneOf" exactly when it is valid under its own branch.
    """

    def __init__(self) -> None:
        schema: dict[str, Any] = RemoteAction.action_response_format_spec()
        validator_class = validator_for(schema)
        validator_class.check_schema(schema)
        self.whole = validator_class(schema)
        shell = {**schema, "properties": {**schema["properties"], "events": {"type": "array"}}}
        self._shell = validator_for(shell)(shell)
        self._event_types = _validators_by_event_type()

    def is_valid(self, result: Any) -> bool:
        if not self._shell.is_valid(result):
            return False
        for event in result.get("events") or ():
            kind = event.get("event") if isinstance(event, dict) else None
            validator = self._event_types.get(kind) if isinstance(kind, str) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True

    def validate(self, result: Any) -> bool:
        """Rasa's RemoteAction._validate_action_result: True, or Rasa's own ValidationError."""
        if self.is_valid(result):
            return True
        error = best_match(self.whole.iter_errors(result))  # the error jsonschema.validate raises
        if error is None:
            return True
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error


def _validators_by_event_type() -> dict[str, Any]:
    """The event schema with only the branch of its "oneOf" for each event type, by type."""
    base = {key: value for key, value in EVENT_SCHEMA.items() if key != "oneOf"}
    validators: dict[str, Any] = {}
    for branch in EVENT_SCHEMA["oneOf"]:
        kind = branch.get("properties", {}).get("event", {}).get("const")
        if not isinstance(kind, str) or kind in validators:
            return {}  # a schema this reasoning does not fit: every response takes the whole schema
        schema = {**base, "allOf": [branch]}
        validators[kind] = validator_for(schema)(schema)
    return validators


def validate_action_responses_once() -> None:
    """RemoteAction._validate_action_result without re-checking the constant schema each call."""
    schema = ActionResponseSchema()

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        return schema.validate(result)

    replace(RemoteAction, "_validate_action_result", _validate_action_result)
