"""Event classes found by type name in a table, not by a walk over every subclass
(docs/performance.md)."""

from __future__ import annotations

from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from custom_components.patches.replacing import replace

_EVENT_CLASSES: dict[str, type[Event]] = {}


def _index_event_classes() -> None:
    """The table, in Rasa's order (the first class with a name wins)."""
    table: dict[str, type[Event]] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)
    _EVENT_CLASSES.clear()
    _EVENT_CLASSES.update(table)


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Rasa's Event.resolve_by_type, from a table rebuilt on a miss (so an event class imported
    later is still found)."""
    cls = _EVENT_CLASSES.get(type_name)
    if cls is None:
        _index_event_classes()
        cls = _EVENT_CLASSES.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # Rasa's backwards compatibility for old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def find_event_classes_in_a_table() -> None:
    """Event.resolve_by_type from a table."""
    replace(Event, "resolve_by_type", staticmethod(resolve_by_type))
