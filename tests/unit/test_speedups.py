"""The Rasa server still validates every action server response, only without re-checking the
constant schema each time (custom_components/speedups.py). Runs in the Rasa environment."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

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
