"""Sending a reading (data/rules/readings.yml): choose the meter, see the account and the previous
readings, type the value; a plausible value of the subscriber's own meter is saved. Also the
history of readings."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.dialogue.conversation import (
    MeterCard,
    ReadingContext,
    RegisterBackedValidation,
    TypedReading,
    entity_meter_id,
    identity,
    in_register,
    is_payload,
    meter_cards,
    named_kind,
    number,
    reading_context,
    reset,
    say,
    signed_value,
    subscriber_of,
    text,
    typed_readings,
    when_register_fails,
)
from actions.dialogue.meter_choice import choose_meter, meter_buttons, preselected, validate_meter_choice
from actions.register import clock, settings
from actions.register.meter import KIND_OF, is_enrolled, normalise_meter_number
from actions.register.models import Meter
from actions.register.period import in_reading_window, period_title
from actions.register.reading import (
    PeriodReading,
    ReadingRefused,
    consumption,
    dial_limit,
    parse_reading,
    recent_readings,
    submit_reading,
)
from actions.register.subscriber import Identity

HISTORY_PERIODS = 3
READING_SLOTS = ("meter_id", "reading_value", "reading_check", "reading_confirmed", "shown_meter_id")
Slots = dict[str, Any]


@dataclass(frozen=True)
class Start:
    """How the message begins the reading flow: the reading_start branch and the slots it fills."""

    branch: str
    meter_id: int | None = None
    value: str | None = None


class ActionStartReading(Action):
    """Start a fresh reading from what the message carries: a meter (button, kind, the only one)
    and a value; several kinds with values are saved at once, each acknowledged."""

    def name(self) -> str:
        return "action_start_reading"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        start = await self._start(dispatcher, tracker)
        events = reset(*READING_SLOTS)
        if start.meter_id is not None:
            events.append(SlotSet("meter_id", str(start.meter_id)))
        if start.value is not None:
            # the form checks this value at its start exactly like a typed answer
            events.append(SlotSet("reading_value", start.value))
        return [*events, SlotSet("reading_start", start.branch)]

    async def _start(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Start:
        readings = typed_readings(tracker)
        if not readings and (tracker.latest_message.get("intent") or {}).get("name") == "inform_number":
            return Start("not_a_number")
        cards = await in_register(meter_cards, identity(tracker))
        if not cards:
            return Start("no_meters")
        if settings.current().reading_window_policy == "refuse" and not in_reading_window(clock.now()):
            return Start("window_closed")
        if len(readings) > 1:
            return await self._several(dispatcher, tracker, cards, readings)
        kind = readings[0].kind if readings else named_kind(tracker)
        value = readings[0].value if readings else None
        button = entity_meter_id(tracker)
        chosen = preselected(cards, tracker) if button is not None or kind is None else None
        if button is None and kind is not None:
            # "опалення 477,00": the meter of that kind, never another kind's only meter
            of_kind = [card for card in cards if card.kind == kind]
            if not of_kind:
                say(dispatcher, "utter_no_meter_of_kind", kind=KIND_OF[kind])
                return Start("done")
            chosen = of_kind[0] if len(of_kind) == 1 else None
        if chosen is None and button is None:
            chosen = self._named(cards, tracker, typed_text=value is None)
        return Start("ask", chosen.id if chosen is not None else None, value)

    @staticmethod
    def _named(cards: list[MeterCard], tracker: Tracker, typed_text: bool) -> MeterCard | None:
        """The meter the message names by its number ("лічильник 222222 показання 130,45"), or,
        when the message carries no value, by what choose_meter reads in the text."""
        for named in tracker.get_latest_entity_values("meter_number"):
            wanted = normalise_meter_number(str(named)).casefold()
            found = [card for card in cards if card.number.casefold() == wanted]
            if len(found) == 1:
                return found[0]
        typed = str(tracker.latest_message.get("text") or "")
        return choose_meter(cards, typed, None) if typed_text and not typed.startswith("/") else None

    async def _several(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        cards: list[MeterCard],
        readings: list[TypedReading],
    ) -> Start:
        """Save each value whose kind names one meter and needs no confirmation; the first one
        that needs more (which meter, a confirmation, a correction) goes on in the form."""
        message_id = tracker.latest_message.get("message_id")
        left: Start | None = None
        taken: set[int] = set()  # one reading per meter and message: "128,00 130,00" is no pair
        for reading in readings:
            of_kind = [card for card in cards if reading.kind is None or card.kind == reading.kind]
            if reading.kind is not None and not of_kind:
                say(dispatcher, "utter_no_meter_of_kind", kind=KIND_OF[reading.kind])
                continue
            meter = of_kind[0] if len(of_kind) == 1 else None
            if meter is not None and meter.id in taken:
                say(dispatcher, "utter_reading_send_separately", value=reading.value.strip()[:40])
                continue
            if meter is not None:
                taken.add(meter.id)
            if meter is not None and left is None:
                context = await in_register(reading_context, identity(tracker), str(meter.id), clock.now())
                checked = check_reading(context, reading.value) if context is not None else None
                if checked is not None and checked.value is not None and checked.check is None:
                    saved = await in_register(
                        _save_reading,
                        identity(tracker),
                        meter.id,
                        checked.value,
                        f"{message_id}/{meter.id}" if message_id else None,
                    )
                    if saved is not None:
                        acknowledge(dispatcher, saved)
                        continue
            if left is None:
                left = Start("ask", meter.id if meter is not None else None, reading.value)
            else:
                say(dispatcher, "utter_reading_send_separately", value=reading.value.strip()[:40])
        return left or Start("done")


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


def acknowledge(dispatcher: CollectingDispatcher, saved: Saved) -> None:
    say(dispatcher, "utter_reading_accepted", value=number(saved.value))
    if saved.replaced is not None:
        say(
            dispatcher,
            "utter_reading_replaced",
            period=period_title(saved.period),
            previous_value=number(saved.replaced),
        )


class ActionSubmitReading(Action):
    """Save the validated reading for the subscriber's own meter and acknowledge it."""

    def name(self) -> str:
        return "action_submit_reading"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # reading_start goes too: a finished flow leaves nothing behind for the policies to see
        events = reset(*READING_SLOTS, "reading_start")
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
        acknowledge(dispatcher, saved)
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


@dataclass(frozen=True)
class Checked:
    """A typed reading checked against the meter: the value (None if refused), what the subscriber
    must confirm ("rollover", "large" or None), or the refusal to say."""

    value: Decimal | None
    check: str | None = None
    refusal: str = ""
    values: dict[str, str] = field(default_factory=dict)


def check_reading(context: ReadingContext, typed: str) -> Checked:
    """The same check for a value typed when asked, given with the request, or one of several."""
    digits = context.meter.dial_digits
    try:
        value = parse_reading(typed, digits)
    except ReadingRefused as refusal:
        limit = number(dial_limit(digits))
        return Checked(None, None, _REFUSALS[refusal.reason], {"text": typed.strip()[:40], "limit": limit})
    if context.previous is None:
        return Checked(value)
    used = consumption(context.previous, value, digits)
    plausible = settings.current().plausible_limit(context.meter.kind)
    if value < context.previous:
        if used <= plausible:
            return Checked(value, "rollover")
        values = {"value": number(value), "previous": number(context.previous)}
        return Checked(None, None, "utter_reading_below_previous", values)
    return Checked(value, "large" if used > plausible else None)


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
        typed = typed_readings(tracker)
        if (
            typed
            and slot_value is not None
            and entity_meter_id(tracker) is None
            and tracker.get_slot("requested_slot") == "meter_id"
        ):
            return await self._value_before_meter(dispatcher, tracker, typed[0])
        chosen = await validate_meter_choice("meter_id", slot_value, dispatcher, tracker)
        meter_id, shown = chosen["meter_id"], tracker.get_slot("shown_meter_id")
        if meter_id is not None and shown is not None and meter_id != shown:
            # Another meter: whatever was typed for the previous one no longer applies.
            return chosen | {"reading_value": None, "reading_check": None, "reading_confirmed": None}
        kept = tracker.get_slot("reading_value")
        if meter_id is not None and kept is not None and "reading_value" not in tracker.slots_to_validate():
            # "ГВП 128,30" with two hot-water meters: the value waited for the choice of meter.
            return chosen | await self._checked_value(dispatcher, tracker, str(meter_id), str(kept))
        return chosen

    async def _value_before_meter(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, reading: TypedReading
    ) -> Slots:
        """Asked which meter, the subscriber typed the reading ("128,30", "ГВП 128,30"): the kind
        may name the meter; otherwise the value waits for the choice."""
        cards = await in_register(meter_cards, identity(tracker))
        of_kind = [card for card in cards if reading.kind is not None and card.kind == reading.kind]
        if len(of_kind) == 1:
            meter_id = str(of_kind[0].id)
            return {"meter_id": meter_id} | await self._checked_value(
                dispatcher, tracker, meter_id, reading.value
            )
        say(dispatcher, "utter_reading_kept_choose_meter", value=reading.value.strip()[:40])
        return {"meter_id": None, "reading_value": reading.value}

    async def validate_reading_value(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if slot_value is None:  # reset by an action, not typed
            return {"reading_value": None}
        if is_payload(tracker) and tracker.active_loop.get("name"):
            # a value written into a /payload is no typed reading; the form asks for one
            return {"reading_value": None}
        meter_id = tracker.get_slot("meter_id")
        if meter_id is None:
            return {"reading_value": str(slot_value)}  # checked once the meter is chosen
        return await self._checked_value(dispatcher, tracker, str(meter_id), str(slot_value))

    @staticmethod
    async def _checked_value(
        dispatcher: CollectingDispatcher, tracker: Tracker, meter_id: str, typed: str
    ) -> Slots:
        context = await in_register(reading_context, identity(tracker), meter_id, clock.now())
        if context is None:
            say(dispatcher, "utter_meter_not_available")
            return {"reading_value": None, "meter_id": None}
        checked = check_reading(context, signed_value(tracker, typed))
        if checked.value is None:
            say(dispatcher, checked.refusal, None, **checked.values)
            return {"reading_value": None}
        return {
            "reading_value": number(checked.value),
            "reading_check": checked.check,
            "reading_confirmed": None,
        }

    async def validate_reading_confirmed(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if slot_value is None:
            return {"reading_confirmed": None}
        if slot_value is True:
            return {"reading_confirmed": True}
        say(dispatcher, "utter_reading_not_confirmed")
        return {"reading_confirmed": None, "reading_value": None, "reading_check": None}
