"""How the patches get into a Rasa process: only through install(), which the first component of
config.yml calls; once; on Rasa 3.6.21 only; not at all with OTKE_RASA_PATCHES=off."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import patch_targets
import pytest
import rasa
import yaml
from rasa.core.agent import load_agent

from custom_components import patches
from custom_components.patches.replacing import replaced

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ALL_PATCHES = [
    "validate_action_responses_once",
    "send_current_turn_without_responses",
    "find_event_classes_in_a_table",
    "keep_action_server_connections_alive",
    "match_rules_on_recent_states",
    "run_the_graph_without_dask",
    "copy_debug_values_only_when_logged",
    "apologise_when_an_action_fails",
]
REFUSAL = (
    "custom_components.patches were written for Rasa 3.6.21 but this is Rasa 3.7.0: re-check each "
    "patch against the new version's source (docs/performance.md) or start with OTKE_RASA_PATCHES=off"
)


def in_a_new_process(*args: str, **env: str) -> dict[str, Any]:
    """tests/rasa/fresh_process.py in a new interpreter; its JSON."""
    done = subprocess.run(
        [sys.executable, str(HERE / "fresh_process.py"), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_config_names_the_installing_component_first() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    assert config["pipeline"][0] == {"name": "custom_components.patches.RasaPatches"}


def test_a_new_process_gets_the_patches_from_loading_the_model_not_from_imports(model: Path) -> None:
    outcome = in_a_new_process("imports-then-model", str(model))
    assert outcome["after imports"] == []  # the tokenizer, the lock store, the patches themselves
    assert outcome["after loading the model"] == patch_targets.TARGETS
    assert outcome["component created again"] == "created"
    assert outcome["unchanged by the second"] is True  # installed once
    assert outcome["install() says"] == ALL_PATCHES


def test_another_rasa_version_is_refused_before_anything_is_replaced() -> None:
    outcome = in_a_new_process("other-rasa-version")
    assert outcome == {"component": f"stopped: {REFUSAL}", "replaced": []}


def test_switched_off_nothing_is_replaced_whatever_the_version() -> None:
    outcome = in_a_new_process("other-rasa-version", OTKE_RASA_PATCHES="off")
    assert outcome == {"component": "created", "replaced": []}


def test_this_session_has_every_patch_once(installed: list[str]) -> None:
    assert installed == ALL_PATCHES
    assert patch_targets.not_rasas_own() == patch_targets.TARGETS
    assert sorted(replaced()) == patch_targets.TARGETS  # each replaced once


def test_installing_again_changes_nothing() -> None:
    held = patch_targets.current()
    assert patches.install() == ALL_PATCHES
    assert patch_targets.current() == held
    assert sorted(replaced()) == patch_targets.TARGETS


def test_another_rasa_version_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(patches.RasaPatchesRefused) as refusal:
        patches.install()
    assert str(refusal.value) == REFUSAL


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no", " off"])
def test_a_switch_that_is_neither_on_nor_off_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("OTKE_RASA_PATCHES", value)
    with pytest.raises(patches.RasaPatchesRefused) as refusal:
        patches.install()
    assert str(refusal.value) == f"OTKE_RASA_PATCHES must be 'on' or 'off' (unset means on), not {value!r}"


@pytest.mark.parametrize("value", ["on", ""])
def test_on_and_unset_mean_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("OTKE_RASA_PATCHES", value)
    assert patches.install() == ALL_PATCHES


def test_a_server_on_another_rasa_version_does_not_start(
    monkeypatch: pytest.MonkeyPatch, model: Path
) -> None:
    """`rasa run` loads the model through load_agent, which logs any Exception and serves on with
    no model; the refusal is a SystemExit, so the server stops with the message."""
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(SystemExit) as stop:
        asyncio.run(load_agent(model_path=str(model)))
    assert stop.value.code == REFUSAL
