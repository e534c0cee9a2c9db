"""No deep copies of values for debug messages that nobody logs (docs/performance.md)."""

from __future__ import annotations

import copy
import logging
import types
from typing import Any

import rasa.core.actions.forms
import rasa.core.policies.rule_policy
import rasa.core.processor
import structlog

from custom_components.patches.replacing import replace

# The modules that deep-copy values only for structlogger.debug (and use `copy` for nothing else)
MODULES = (rasa.core.processor, rasa.core.policies.rule_policy, rasa.core.actions.forms)

_QUIET = {
    structlog.make_filtering_bound_logger(level)
    for level in (logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}


def deepcopy_for_debug_message(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """copy.deepcopy, unless structlog drops debug messages: then the value as it is."""
    if structlog.get_config()["wrapper_class"] in _QUIET:
        return value  # the debug message that takes it is dropped unread
    return copy.deepcopy(value, memo)


COPY_FOR_DEBUG_MESSAGES = types.SimpleNamespace(deepcopy=deepcopy_for_debug_message)


def copy_debug_values_only_when_logged() -> None:
    """The `copy` module of Rasa's processor, RulePolicy and forms: deep copies only when logged."""
    for module in MODULES:
        replace(module, "copy", COPY_FOR_DEBUG_MESSAGES)
