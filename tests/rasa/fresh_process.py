"""What a new Rasa process does with our patches, from its start. The tests run this in a new
interpreter (an installed patch stays installed for the life of a process):

    PYTHONPATH=. .venv-rasa/bin/python tests/rasa/fresh_process.py SCENARIO [MODEL]

It prints one JSON line: what was not Rasa's own after each step, and how things ended.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import patch_targets


def create_the_component() -> str:
    """What Rasa does with config.yml's first pipeline entry when it builds the graph."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from custom_components.patches import RasaPatches

    with tempfile.TemporaryDirectory() as storage:
        try:
            RasaPatches.create(
                {}, LocalModelStorage(Path(storage)), Resource("patches"), ExecutionContext(GraphSchema({}))
            )
        except SystemExit as stop:
            return f"stopped: {stop.code}"
    return "created"


def imports_then_model(model: str) -> dict[str, Any]:
    import custom_components
    import custom_components.lock_store
    import custom_components.patches
    import custom_components.ukrainian_tokenizer

    outcome: dict[str, Any] = {"after imports": patch_targets.not_rasas_own()}
    from rasa.core.agent import Agent

    Agent.load(model)
    outcome["after loading the model"] = patch_targets.not_rasas_own()
    held = patch_targets.current()
    outcome["component created again"] = create_the_component()
    outcome["unchanged by the second"] = held == patch_targets.current()
    outcome["install() says"] = custom_components.patches.install()
    return outcome


def other_rasa_version() -> dict[str, Any]:
    import rasa

    rasa.__version__ = "3.7.0"
    return {"component": create_the_component(), "replaced": patch_targets.not_rasas_own()}


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "imports-then-model": imports_then_model,
    "other-rasa-version": other_rasa_version,
}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](*sys.argv[2:]), ensure_ascii=False))
