"""Action calls carry the current turn's events and the domain without its responses
(docs/performance.md; actions/dialogue/conversation.py states what action code may rely on)."""

from __future__ import annotations

from typing import Any

import rasa
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from custom_components.patches.replacing import replace

_DOMAIN: list[tuple[Domain, dict[str, Any]]] = []  # the served model's domain, and its dict


def domain_without_responses(domain: Domain) -> dict[str, Any]:
    """domain.as_dict() without its responses, made once per Domain object (a served model's
    domain does not change; a new model brings a new Domain, and only the latest is kept)."""
    if not _DOMAIN or _DOMAIN[0][0] is not domain:
        trimmed = {key: value for key, value in domain.as_dict().items() if key != "responses"}
        _DOMAIN[:] = [(domain, trimmed)]
    return _DOMAIN[0][1]


def current_turn(tracker: DialogueStateTracker) -> list[Event]:
    """The events from the latest user message on (all of them if there is none)."""
    events: list[Event] = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index:]
    return events


def action_call(self: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
    """Rasa's RemoteAction._action_call_format with the current turn's events only, and the
    domain without its responses."""
    state: dict[str, Any] = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [event.as_dict() for event in current_turn(tracker)]
    call: dict[str, Any] = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(
        self.name()
    ):
        call["domain"] = domain_without_responses(domain)
    return call


def send_current_turn_without_responses() -> None:
    """RemoteAction._action_call_format: the current turn's events, the domain without responses."""
    replace(RemoteAction, "_action_call_format", action_call)
