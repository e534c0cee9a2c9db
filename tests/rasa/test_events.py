"""Event classes are found by type name as Rasa finds them, from a table
(custom_components/patches/events.py)."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import Event, SlotSet, deserialise_events
from rasa.shared.utils.common import all_subclasses

from custom_components.patches.replacing import rasas_own


def rasas_first_classes() -> dict[str, type[Event]]:
    """Rasa's own walk over every subclass: the first class with a name wins."""
    first: dict[str, type[Event]] = {}
    for cls in all_subclasses(Event):
        first.setdefault(cls.type_name, cls)
    return first


def test_every_event_type_resolves_to_rasas_class() -> None:
    first = rasas_first_classes()
    assert len(first) > 20
    assert Event.resolve_by_type.__module__ == "custom_components.patches.events"
    assert {name: Event.resolve_by_type(name) for name in first} == first
    rasas = rasas_own(Event, "resolve_by_type")
    assert {name: rasas(name) for name in first} == first


def test_unknown_names_topic_and_defaults_as_rasa_has_them() -> None:
    with pytest.raises(ValueError, match=r"^Unknown event name 'nonsense'\.$"):
        Event.resolve_by_type("nonsense")
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("nonsense", SlotSet) is SlotSet


def test_an_event_class_defined_later_is_found() -> None:
    Event.resolve_by_type("slot")  # the table is built

    class LateEvent(SlotSet):
        type_name = "otke_late_event_for_a_test"

    assert Event.resolve_by_type("otke_late_event_for_a_test") is LateEvent


def test_events_are_deserialised() -> None:
    events = deserialise_events(
        [
            {"event": "slot", "name": "a", "value": 1},
            {"event": "user", "text": "x", "parse_data": {"intent": {"name": "greet"}}},
        ]
    )
    assert [type(event).__name__ for event in events] == ["SlotSet", "UserUttered"]
