"""Measured costs of the Rasa 3.6 server that we remove without changing its behaviour.

Imported by ``custom_components/__init__.py``, so every Rasa process that loads our model has it.

- Rasa validates every action server response with ``jsonschema.validate``, which first checks
  the (constant) schema itself, on every call: a third of the Rasa server's CPU under load
  (py-spy, bench/conversations.py at 15 turns/s). The schema is checked once here; every
  response is still validated against it, with the same error message.
"""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_SCHEMA = RemoteAction.action_response_format_spec()
_VALIDATOR = validator_for(_SCHEMA)(_SCHEMA)
validator_for(_SCHEMA).check_schema(_SCHEMA)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    try:
        _VALIDATOR.validate(result)
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise
    return True


RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
