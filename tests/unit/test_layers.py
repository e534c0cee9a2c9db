"""The action server loads only what it serves: the dialogue and the register beneath it.

The import contracts themselves ([tool.importlinter] in pyproject.toml) are checked by
`lint-imports` in `make test`; this checks what the running action server actually imports.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import ROOT

LOADED = """
import json, sys
from rasa_sdk.executor import ActionExecutor
executor = ActionExecutor()
executor.register_package(sys.argv[1])
print(json.dumps({"actions": sorted(executor.actions), "modules": sorted(sys.modules)}))
"""


def served(package: str) -> dict[str, list[str]]:
    """What `python -m rasa_sdk --actions PACKAGE` registers and imports, from a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED, package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_action_server_loads_the_dialogue_and_the_register_only() -> None:
    loaded = served("actions.dialogue")
    ours = {
        name
        for name in loaded["modules"]
        if name.split(".")[0] in {"actions", "custom_channels", "custom_components"}
    }
    assert {"actions.dialogue.readings", "actions.register.reading", "actions.texts"} <= ours
    assert {name for name in ours if not name.startswith(("actions.dialogue", "actions.register"))} == {
        "actions",
        "actions.texts",
    }
    # The operators' tools and what only they need stay out of the action server.
    assert not {"alembic", "httpx", "actions.register.schema"} & set(loaded["modules"])
    assert "action_submit_reading" in loaded["actions"]


def test_the_whole_package_would_load_the_operator_tools_too() -> None:
    """The check above can fail: serving `actions` (as before the layers) imports the CLI and billing."""
    loaded = served("actions")
    assert {"actions.operators.cli", "actions.operators.billing", "httpx"} <= set(loaded["modules"])
