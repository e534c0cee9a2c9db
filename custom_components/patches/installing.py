"""install(): every patch, once per process, on Rasa 3.6.21 only, unless OTKE_RASA_PATCHES=off."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import rasa
from rasa.shared.exceptions import RasaException

from custom_components.patches.action_calls import send_current_turn_without_responses
from custom_components.patches.action_failures import apologise_when_an_action_fails
from custom_components.patches.action_responses import validate_action_responses_once
from custom_components.patches.connections import keep_action_server_connections_alive
from custom_components.patches.debug_copies import copy_debug_values_only_when_logged
from custom_components.patches.events import find_event_classes_in_a_table
from custom_components.patches.graph import run_the_graph_without_dask
from custom_components.patches.rules import match_rules_on_recent_states

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"  # the version whose source every patch was written against and tested on
SWITCH = "OTKE_RASA_PATCHES"

PATCHES: tuple[Callable[[], None], ...] = (
    validate_action_responses_once,
    send_current_turn_without_responses,
    find_event_classes_in_a_table,
    keep_action_server_connections_alive,
    match_rules_on_recent_states,
    run_the_graph_without_dask,
    copy_debug_values_only_when_logged,
    apologise_when_an_action_fails,
)

_installed: list[str] | None = None  # what install() did in this process, once it has run


class RasaPatchesRefused(RasaException):
    """The patches may not be installed: another Rasa version, or a bad OTKE_RASA_PATCHES."""


def switched_on() -> bool:
    """OTKE_RASA_PATCHES: ``on`` or unset means on, ``off`` off; anything else is refused."""
    value = os.environ.get(SWITCH, "")
    if value in ("", "on"):
        return True
    if value == "off":
        return False
    raise RasaPatchesRefused(f"{SWITCH} must be 'on' or 'off' (unset means on), not {value!r}")


def check_rasa_version() -> None:
    if rasa.__version__ != RASA_VERSION:
        raise RasaPatchesRefused(
            f"custom_components.patches were written for Rasa {RASA_VERSION} but this is "
            f"Rasa {rasa.__version__}: re-check each patch against the new version's source "
            f"(docs/performance.md) or start with {SWITCH}=off"
        )


def install() -> list[str]:
    """Install every patch, once per process; the names of those installed ([] when off).

    Raises RasaPatchesRefused, before replacing anything, on a Rasa other than 3.6.21 (unless the
    patches are off) or an OTKE_RASA_PATCHES that is neither on nor off.
    """
    global _installed
    on = switched_on()
    if on:
        check_rasa_version()
    if _installed is not None:
        return _installed
    if not on:
        logger.warning(
            "Rasa patches are off (%s=off): Rasa %s runs as released (docs/performance.md)",
            SWITCH,
            rasa.__version__,
        )
        _installed = []
        return _installed
    for patch in PATCHES:
        patch()
    _installed = [patch.__name__ for patch in PATCHES]
    logger.info("Rasa patches installed (docs/performance.md): %s", ", ".join(_installed))
    return _installed
