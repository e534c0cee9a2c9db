"""What of Rasa the patches may replace, named by the tests themselves (not taken from the code
under test), and which of it is not Rasa's own right now."""

from __future__ import annotations

import copy
import types
from typing import Any

import rasa.core.actions.forms
import rasa.core.policies.rule_policy
import rasa.core.processor
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event
from rasa.utils.endpoints import EndpointConfig

METHODS: dict[str, tuple[type, str]] = {
    "RemoteAction._validate_action_result": (RemoteAction, "_validate_action_result"),
    "RemoteAction._action_call_format": (RemoteAction, "_action_call_format"),
    "RemoteAction.run": (RemoteAction, "run"),
    "Event.resolve_by_type": (Event, "resolve_by_type"),
    "EndpointConfig.request": (EndpointConfig, "request"),
    "RulePolicy._get_possible_keys": (RulePolicy, "_get_possible_keys"),
    "DaskGraphRunner.run": (DaskGraphRunner, "run"),
}
COPY_USERS: tuple[types.ModuleType, ...] = (
    rasa.core.processor,
    rasa.core.policies.rule_policy,
    rasa.core.actions.forms,
)
TARGETS = sorted([*METHODS, *(f"{module.__name__}.copy" for module in COPY_USERS)])


def current() -> dict[str, Any]:
    """What each target holds now (a staticmethod as its function)."""
    held = {name: getattr(owner, attribute) for name, (owner, attribute) in METHODS.items()}
    held.update({f"{module.__name__}.copy": module.copy for module in COPY_USERS})
    return held


def not_rasas_own() -> list[str]:
    """The targets that hold something other than what Rasa 3.6.21 defines there."""
    replaced = [name for name, value in current().items() if name in METHODS and not _defined_by_rasa(value)]
    replaced += [f"{module.__name__}.copy" for module in COPY_USERS if module.copy is not copy]
    return sorted(replaced)


def _defined_by_rasa(function: Any) -> bool:
    return str(getattr(function, "__module__", "")).startswith("rasa.")
