"""Sending a reading (data/rules/readings.yml): choose the meter, see the account and the previous
readings, type the value; a plausible value of the subscriber's own meter is saved. Also the
history of readings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.dialogue.conversation import (
    MeterCard,
    RegisterBackedValidation,
    identity,
    in_register,
    meter_cards,
    number,
    reading_context,
    reset,
    say,
    subscriber_of,
    text,
    when_register_fails,
)
from actions.dialogue.meter_choice import choose_meter, meter_buttons, preselected, validate_meter_choice
from actions.register import clock, settings
from actions.register.meter import is_enrolled
from actions.register.models import Meter
from actions.register.period import in_reading_window, period_title
from actions.register.reading import (
    PeriodReading,
    ReadingRefused,
    consumption,
    dial_limit,
    parse_reading,
    recent_readings,
    single_number,
    submit_reading,
)
from actions.register.subscriber import Identity

HISTORY_PERIODS = 3
READING_SLOTS = ("meter_id", "reading_value", "reading_check", "reading_confirmed", "shown_meter_id")
Slots = dict[str, Any]


class ActionStartReading(Action):
    """Start a fresh reading: no meters, or the meter chosen at once when there is only one."""

    def name(self) -> str:
        return "action_start_reading"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        cards = await in_register(meter_cards, identity(tracker))
        events = reset(*READING_SLOTS)
        closed = settings.current().reading_window_policy == "refuse" and not in_reading_window(clock.now())
        if not cards:
            return [*events, SlotSet("meters_registered", False), SlotSet("reading_window_closed", None)]
        typed = str(tracker.latest_message.get("text") or "")
        # "гаряча вода 245,6" names the meter by its kind when that is unambiguous.
        chosen = preselected(cards, tracker) or (
            None if typed.startswith("/") else choose_meter(cards, typed, None)
        )
        if chosen is not None:
            events.append(SlotSet("meter_id", str(chosen.id)))
            value = None if typed.startswith("/") else single_number(typed)
            if value is not None and any(mark in value for mark in ".,"):
                # "хочу передати показання 123,45": the form checks this value before asking.
                events.append(SlotSet("reading_value", value))
        return [*events, SlotSet("meters_registered", True), SlotSet("reading_window_closed", closed)]


class ActionAskMeterId(Action):
    def name(self) -> str:
        return "action_ask_meter_id"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        cards = await in_register(meter_cards, identity(tracker))
        say(dispatcher, "utter_ask_meter_id", buttons=meter_buttons(cards, "submit_reading"))
        return []


def history_lines(readings: list[PeriodReading]) -> str:
    return "\n".join(
        text("utter_previous_reading_line", period=period_title(r.period), value=number(r.value))
        if r.consumption is None
        else text(
            "utter_previous_reading_line_with_use",
            period=period_title(r.period),
            value=number(r.value),
            consumption=number(r.consumption),
        )
        for r in readings
    )


@dataclass(frozen=True)
class MeterHistory:
    meter: MeterCard
    readings: list[PeriodReading]


def histories(session: Session, who: Identity, meter_id: str | None = None) -> list[MeterHistory]:
    cards = [c for c in meter_cards(session, who) if meter_id is None or str(c.id) == meter_id]
    return [
        MeterHistory(card, recent_readings(session, session.get_one(Meter, card.id), HISTORY_PERIODS))
        for card in cards
    ]


class ActionAskReadingValue(Action):
    """Show the account and the previous readings of the chosen meter, then ask for the reading."""

    def name(self) -> str:
        return "action_ask_reading_value"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        meter_id = tracker.get_slot("meter_id")
        if tracker.get_slot("shown_meter_id") != meter_id:
            for history in await in_register(histories, identity(tracker), meter_id):
                say(
                    dispatcher,
                    "utter_meter_summary",
                    account_number=history.meter.account_number,
                    kind=history.meter.kind_of,
                    meter_number=history.meter.number,
                )
                if history.readings:
                    say(dispatcher, "utter_previous_readings", lines=history_lines(history.readings))
                else:
                    dispatcher.utter_message(response="utter_no_previous_readings")
        dispatcher.utter_message(response="utter_ask_reading_value")
        return [SlotSet("shown_meter_id", meter_id)]


class ActionAskReadingConfirmed(Action):
    """Ask the subscriber to confirm a rollover or an unusually large consumption."""

    def name(self) -> str:
        return "action_ask_reading_confirmed"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        context = await in_register(
            reading_context, identity(tracker), str(tracker.get_slot("meter_id")), clock.now()
        )
        value = Decimal(str(tracker.get_slot("reading_value")))
        if context is None or context.previous is None:
            return [SlotSet("reading_check", None), SlotSet("reading_confirmed", True)]
        digits = context.meter.dial_digits
        response = (
            "utter_ask_reading_confirmed_rollover"
            if tracker.get_slot("reading_check") == "rollover"
            else "utter_ask_reading_confirmed_large"
        )
        say(
            dispatcher,
            response,
            value=number(value),
            previous=number(context.previous),
            consumption=number(consumption(context.previous, value, digits)),
            limit=number(dial_limit(digits)),
        )
        return []


@dataclass(frozen=True)
class Saved:
    value: Decimal
    period: str
    replaced: Decimal | None


def _save_reading(
    session: Session, who: Identity, meter_id: int, value: Decimal, message_id: str | None
) -> Saved | None:
    subscriber = subscriber_of(session, who)
    if not is_enrolled(session, subscriber.id, meter_id):
        return None
    saved = submit_reading(
        session, meter_id, value, channel=who.channel, subscriber_id=subscriber.id, message_id=message_id
    )
    replaced = saved.superseded.value if saved.superseded is not None else None
    return Saved(saved.reading.value, saved.reading.period, replaced)


class ActionSubmitReading(Action):
    """Save the validated reading for the subscriber's own meter and acknowledge it."""

    def name(self) -> str:
        return "action_submit_reading"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset(*READING_SLOTS)
        meter_id, typed = tracker.get_slot("meter_id"), tracker.get_slot("reading_value")
        if (
            not meter_id
            or not typed
            or (tracker.get_slot("reading_check") and not tracker.get_slot("reading_confirmed"))
        ):
            dispatcher.utter_message(response="utter_menu")
            return events
        message_id = tracker.latest_message.get("message_id")
        saved = await in_register(
            _save_reading,
            identity(tracker),
            int(meter_id),
            Decimal(str(typed)),
            str(message_id) if message_id else None,
        )
        if saved is None:
            say(dispatcher, "utter_meter_not_available")
            dispatcher.utter_message(response="utter_menu")
            return events
        say(dispatcher, "utter_reading_accepted", value=number(saved.value))
        if saved.replaced is not None:
            say(
                dispatcher,
                "utter_reading_replaced",
                period=period_title(saved.period),
                previous_value=number(saved.replaced),
            )
        if not in_reading_window(clock.now()):
            dispatcher.utter_message(response="utter_reading_window_reminder")
        dispatcher.utter_message(response="utter_menu")
        return events


class ActionReadingHistory(Action):
    def name(self) -> str:
        return "action_reading_history"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        found = await in_register(histories, identity(tracker))
        if not found:
            dispatcher.utter_message(response="utter_no_meters")
            return []
        for history in found:
            if history.readings:
                say(
                    dispatcher,
                    "utter_history_header",
                    title=history.meter.title,
                    lines=history_lines(history.readings),
                )
            else:
                say(dispatcher, "utter_history_empty", title=history.meter.title)
        dispatcher.utter_message(response="utter_menu")
        return []


_REFUSALS = {
    "empty": "utter_reading_empty",
    "not_a_number": "utter_reading_not_a_number",
    "negative": "utter_reading_negative",
    "too_many_decimals": "utter_reading_too_many_decimals",
    "too_many_digits": "utter_reading_too_many_digits",
}


class ValidateReadingForm(RegisterBackedValidation):
    """The meter must be the subscriber's; the reading must be a plausible value for it."""

    def name(self) -> str:
        return "validate_reading_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("reading_check"):
            return domain_slots
        return [slot for slot in domain_slots if slot != "reading_confirmed"]

    async def validate_meter_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        chosen = await validate_meter_choice("meter_id", slot_value, dispatcher, tracker)
        if chosen["meter_id"] is not None and chosen["meter_id"] != tracker.get_slot("shown_meter_id"):
            # Another meter: whatever was typed for the previous one no longer applies.
            chosen |= {"reading_value": None, "reading_check": None, "reading_confirmed": None}
        return chosen

    async def validate_reading_value(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if slot_value is None:  # reset by an action, not typed
            return {"reading_value": None}
        typed = str(slot_value)
        context = await in_register(
            reading_context, identity(tracker), str(tracker.get_slot("meter_id")), clock.now()
        )
        if context is None:
            say(dispatcher, "utter_meter_not_available")
            return {"reading_value": None, "meter_id": None}
        digits = context.meter.dial_digits
        limit = dial_limit(digits)
        try:
            value = parse_reading(typed, digits)
        except ReadingRefused as refusal:
            say(dispatcher, _REFUSALS[refusal.reason], text=typed.strip()[:40], limit=number(limit))
            return {"reading_value": None}
        accepted: Slots = {"reading_value": number(value), "reading_check": None, "reading_confirmed": None}
        if context.previous is None:
            return accepted
        used = consumption(context.previous, value, digits)
        plausible = settings.current().plausible_limit(context.meter.kind)
        if value < context.previous:
            if used <= plausible:
                return accepted | {"reading_check": "rollover"}
            say(
                dispatcher,
                "utter_reading_below_previous",
                value=number(value),
                previous=number(context.previous),
            )
            return {"reading_value": None}
        if used > plausible:
            return accepted | {"reading_check": "large"}
        return accepted

    async def validate_reading_confirmed(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if slot_value is None:
            return {"reading_confirmed": None}
        if slot_value is True:
            return {"reading_confirmed": True}
        say(dispatcher, "utter_reading_not_confirmed")
        return {"reading_confirmed": None, "reading_value": None, "reading_check": None}
