"""Which of the subscriber's meters a message means: a button, a number, a position or a kind."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue.conversation import (
    MeterCard,
    entity_meter_id,
    identity,
    in_register,
    meter_cards,
    named_kind,
    say,
)
from actions.register.meter import normalise_meter_number
from actions.register.models import MeterKind

_KIND_WORDS = {
    MeterKind.HOT_WATER: ("гаряч", "вода", "воду", "гвп", "hot", "garyach", "hariach"),
    MeterKind.HEAT: ("тепл", "опален", "heat", "tepl"),
}


def choose_meter(
    cards: list[MeterCard], typed: str, from_button: str | None, kind: MeterKind | None = None
) -> MeterCard | None:
    """The subscriber's meter meant by a button (its id), the kind the NLU found ("ГВП"), or typed
    text (number, kind, position)."""
    if from_button is not None:
        return next((card for card in cards if str(card.id) == from_button), None)
    if kind is not None:
        of_kind = [card for card in cards if card.kind == kind]
        if len(of_kind) == 1:
            return of_kind[0]
    wanted = normalise_meter_number(typed)
    by_number = [card for card in cards if card.number.casefold() == wanted.casefold()]
    if len(by_number) == 1:
        return by_number[0]
    # A position is one ASCII digit: isdigit() and int() also take "²", "١" and 5,000-digit strings.
    if len(wanted) == 1 and "1" <= wanted <= "9" and int(wanted) <= len(cards) <= 9:
        return cards[int(wanted) - 1]
    lowered = typed.casefold()
    by_kind = [card for card in cards if any(word in lowered for word in _KIND_WORDS[card.kind])]
    return by_kind[0] if len(by_kind) == 1 else None


def preselected(cards: list[MeterCard], tracker: Tracker) -> MeterCard | None:
    """The meter a flow can start with: the subscriber's own one a button named, or the only one."""
    button = entity_meter_id(tracker)
    chosen = next((c for c in cards if str(c.id) == button), None) if button else None
    return cards[0] if chosen is None and len(cards) == 1 else chosen


def meter_buttons(cards: list[MeterCard], intent: str) -> list[dict[str, str]]:
    return [{"title": c.title, "payload": f'/{intent}{{"meter_id":"{c.id}"}}'} for c in cards]


async def validate_meter_choice(
    slot: str, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """A form's answer to "which meter?": the id of one of the subscriber's meters, or None."""
    if slot_value is None:
        return {slot: None}
    cards = await in_register(meter_cards, identity(tracker))
    button = entity_meter_id(tracker)
    if button is None and str(slot_value) != str(tracker.latest_message.get("text") or "").strip():
        # Not typed by the subscriber: an id our own action chose (the only meter, or a button).
        button = str(slot_value)
    card = choose_meter(cards, str(slot_value), button, named_kind(tracker) if button is None else None)
    if card is not None:
        return {slot: str(card.id)}
    if (
        entity_meter_id(tracker) is None
        and (tracker.latest_message.get("intent") or {}).get("name") == "submit_reading"
    ):
        return {slot: None}  # the menu button again, not an answer: just ask again
    say(dispatcher, "utter_meter_not_available" if button else "utter_meter_choice_unknown")
    return {slot: None}
