"""Values for debug messages are deep-copied only when debug messages are logged
(custom_components/patches/debug_copies.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import rasa.core.actions.forms
import rasa.core.policies.rule_policy
import rasa.core.processor
import structlog
from rasa.utils.log_utils import configure_structlog

MODULES = (rasa.core.processor, rasa.core.policies.rule_policy, rasa.core.actions.forms)
STATES = [{"user": {"intent": "greet"}}, {"prev_action": {"action_name": "utter_greet"}}]


@pytest.fixture
def structlog_level() -> Iterator[None]:
    before = structlog.get_config()
    yield
    structlog.configure(**before)


@pytest.mark.usefixtures("structlog_level")
def test_debug_values_are_handed_over_when_debug_messages_are_dropped() -> None:
    configure_structlog(logging.INFO)
    copies = [module.copy.deepcopy(STATES) for module in MODULES]
    assert all(copy is STATES for copy in copies)


@pytest.mark.usefixtures("structlog_level")
def test_debug_values_are_copied_when_debug_messages_are_logged() -> None:
    configure_structlog(logging.DEBUG)
    copies = [module.copy.deepcopy(STATES) for module in MODULES]
    assert all(copy is not STATES and copy == STATES for copy in copies)
    assert copies[0][0] is not STATES[0]  # deep


def test_those_modules_use_copy_only_for_debug_messages() -> None:
    """The patch hands them a `copy` with deepcopy alone: anything else they used would fail."""
    import inspect
    import re

    for module in MODULES:
        source = inspect.getsource(module)
        assert set(re.findall(r"\bcopy\.(\w+)", source)) <= {"deepcopy"}, module.__name__
        for use in re.finditer(r"\bcopy\.deepcopy\(", source):
            call_site = source[max(0, use.start() - 300) : use.start()]
            assert call_site.rfind("structlogger.debug(") > call_site.rfind(")\n"), module.__name__
