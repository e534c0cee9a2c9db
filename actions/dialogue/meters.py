"""The subscriber's meters (data/rules/menu.yml, registration.yml): the list, and removing one."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.dialogue.conversation import (
    RegisterBackedValidation,
    identity,
    in_register,
    meter_cards,
    reset,
    say,
    subscriber_of,
    text,
    when_register_fails,
)
from actions.dialogue.meter_choice import meter_buttons, preselected, validate_meter_choice
from actions.register.account import mask_address
from actions.register.meter import unenrol_meter
from actions.register.subscriber import Identity

REMOVAL_SLOTS = ("meter_to_remove", "removal_confirmed")


class ActionMyMeters(Action):
    def name(self) -> str:
        return "action_my_meters"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        cards = await in_register(meter_cards, identity(tracker))
        if not cards:
            dispatcher.utter_message(response="utter_no_meters")
            return []
        lines = "\n".join(
            text("utter_my_meter_line", title=c.title, address=mask_address(c.address)) for c in cards
        )
        removal = [
            {
                "title": text("utter_remove_meter_button", meter_number=c.number),
                "payload": f'/remove_meter{{"meter_id":"{c.id}"}}',
            }
            for c in cards
        ]
        say(dispatcher, "utter_my_meters", lines=lines)
        say(dispatcher, "utter_menu", buttons=removal)
        return []


class ActionStartRemoval(Action):
    def name(self) -> str:
        return "action_start_removal"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        cards = await in_register(meter_cards, identity(tracker))
        events = reset(*REMOVAL_SLOTS)
        if not cards:
            return [*events, SlotSet("meters_registered", False)]
        chosen = preselected(cards, tracker)
        if chosen is not None:
            events.append(SlotSet("meter_to_remove", str(chosen.id)))
        return [*events, SlotSet("meters_registered", True)]


class ActionAskMeterToRemove(Action):
    def name(self) -> str:
        return "action_ask_meter_to_remove"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        cards = await in_register(meter_cards, identity(tracker))
        say(dispatcher, "utter_ask_meter_to_remove", buttons=meter_buttons(cards, "remove_meter"))
        return []


class ActionAskRemovalConfirmed(Action):
    def name(self) -> str:
        return "action_ask_removal_confirmed"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        cards = await in_register(meter_cards, identity(tracker))
        card = next((c for c in cards if str(c.id) == tracker.get_slot("meter_to_remove")), None)
        if card is None:
            return [SlotSet("meter_to_remove", None)]
        say(dispatcher, "utter_ask_removal_confirmed", title=card.title)
        return []


def _unenrol(session: Session, who: Identity, meter_id: int) -> bool:
    return unenrol_meter(session, subscriber_of(session, who).id, meter_id)


class ActionRemoveMeter(Action):
    def name(self) -> str:
        return "action_remove_meter"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        meter_id = tracker.get_slot("meter_to_remove")
        if tracker.get_slot("removal_confirmed") is not True or not meter_id:
            dispatcher.utter_message(response="utter_meter_kept")
        elif await in_register(_unenrol, identity(tracker), int(meter_id)):
            dispatcher.utter_message(response="utter_meter_removed")
        else:
            dispatcher.utter_message(response="utter_meter_not_available")
            dispatcher.utter_message(response="utter_menu")
        # meters_registered goes too: a finished flow leaves nothing behind for the policies
        return reset(*REMOVAL_SLOTS, "meters_registered")


class ValidateRemovalForm(RegisterBackedValidation):
    def name(self) -> str:
        return "validate_removal_form"

    async def validate_meter_to_remove(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await validate_meter_choice("meter_to_remove", slot_value, dispatcher, tracker)
