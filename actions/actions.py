"""Custom actions the Rasa server calls through the action server (rasa-sdk).

Each action decides from the register, never from what the dialogue claims: a meter id in a
slot or a button payload counts only if the subscriber talking registered that meter.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.account import mask_address
from actions.conversation import (
    SETTINGS,
    Domain,
    Events,
    MeterCard,
    entity_meter_id,
    identity,
    in_register,
    meter_cards,
    now,
    number,
    reading_context,
    say,
    subscriber_of,
    text,
    when_register_fails,
)
from actions.forms import choose_meter, registration_closed_until, retry_minutes
from actions.meter import is_registered, register_meter, unregister_meter
from actions.models import Meter
from actions.reading import (
    PeriodReading,
    consumption,
    in_reading_window,
    period_title,
    recent_readings,
    register_limit,
    single_number,
    submit_reading,
)
from actions.subscriber import Identity, get_or_create_subscriber, set_subscribed

logger = logging.getLogger(__name__)

HISTORY_PERIODS = 3


# What PostgreSQL and UTF-8 cannot store (NUL, lone surrogates) and other control characters:
# the REST and web chat channels pass the caller's metadata through as it came.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _text_metadata(tracker: Tracker, key: str, limit: int) -> str | None:
    value = (tracker.latest_message.get("metadata") or {}).get(key)
    if not isinstance(value, str):
        return None
    cleaned = _UNSTORABLE.sub("", value)[:limit]
    return cleaned if cleaned.strip() else None


def _reset(*slots: str) -> Events:
    return [SlotSet(slot, None) for slot in slots]


REGISTRATION_SLOTS = ("account_number", "meter_number", "registered_meter_id", "registration_retry_minutes")
READING_SLOTS = ("meter_id", "reading_value", "reading_check", "reading_confirmed", "shown_meter_id")
REMOVAL_SLOTS = ("meter_to_remove", "removal_confirmed")


class ActionRememberSubscriber(Action):
    """Make sure the register knows who is talking (on first contact and each greeting)."""

    def name(self) -> str:
        return "action_remember_subscriber"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        who = identity(tracker)
        name, language = _text_metadata(tracker, "name", 255), _text_metadata(tracker, "language", 16)
        try:
            await in_register(get_or_create_subscriber, who, name, language)
        except SQLAlchemyError:
            # The greeting that follows needs no database; the next greeting tries again.
            logger.exception("could not record a %s subscriber", who.channel)
        return []


class ActionUpdateSubscription(Action):
    """Record that the subscriber joined or left the channel's public account (Viber events)."""

    def name(self) -> str:
        return "action_update_subscription"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        joined = (tracker.latest_message.get("intent") or {}).get("name") == "subscribed"
        name, language = _text_metadata(tracker, "name", 255), _text_metadata(tracker, "language", 16)
        await in_register(set_subscribed, identity(tracker), joined, name, language)
        return []


# --- registration -------------------------------------------------------------------------


class ActionStartRegistration(Action):
    """Start a fresh registration, unless too many recent failures closed it for a while."""

    def name(self) -> str:
        return "action_start_registration"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        moment = now()
        until = await in_register(registration_closed_until, identity(tracker), moment)
        events = [*_reset(*REGISTRATION_SLOTS), SlotSet("registration_failures", 0.0)]
        if until is None:
            return [*events, SlotSet("registration_blocked", False)]
        return [
            *events,
            SlotSet("registration_retry_minutes", retry_minutes(until, moment)),
            SlotSet("registration_blocked", True),
        ]


def _register(session: Session, who: Identity, meter_id: int) -> tuple[MeterCard, bool]:
    subscriber = subscriber_of(session, who)
    return MeterCard.of(session.get_one(Meter, meter_id)), register_meter(session, subscriber.id, meter_id)


class ActionRegisterMeter(Action):
    """Register the matched meter for the subscriber, or explain why registration ended."""

    def name(self) -> str:
        return "action_register_meter"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        events = [*_reset(*REGISTRATION_SLOTS), SlotSet("registration_failures", 0.0)]
        meter_id = tracker.get_slot("registered_meter_id")
        if tracker.get_slot("registration_blocked"):
            say(
                dispatcher,
                domain,
                "utter_registration_blocked",
                registration_retry_minutes=tracker.get_slot("registration_retry_minutes") or "60",
            )
            return events
        if not meter_id:
            dispatcher.utter_message(response="utter_registration_failed")
            return events
        card, new = await in_register(_register, identity(tracker), int(meter_id))
        say(
            dispatcher,
            domain,
            "utter_meter_found",
            kind=card.kind_of,
            meter_number=card.number,
            account_number=card.account_number,
            address=mask_address(card.address),
        )
        dispatcher.utter_message(response="utter_registered" if new else "utter_meter_already_registered")
        dispatcher.utter_message(response="utter_add_another_meter")
        return events


# --- readings -----------------------------------------------------------------------------


def _preselected(cards: list[MeterCard], tracker: Tracker) -> MeterCard | None:
    """The meter a flow can start with: the subscriber's own one a button named, or the only one."""
    button = entity_meter_id(tracker)
    chosen = next((c for c in cards if str(c.id) == button), None) if button else None
    return cards[0] if chosen is None and len(cards) == 1 else chosen


class ActionStartReading(Action):
    """Start a fresh reading: no meters, or the meter chosen at once when there is only one."""

    def name(self) -> str:
        return "action_start_reading"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        cards = await in_register(meter_cards, identity(tracker))
        events = _reset(*READING_SLOTS)
        closed = SETTINGS.reading_window_policy == "refuse" and not in_reading_window(now())
        if not cards:
            return [*events, SlotSet("meters_registered", False), SlotSet("reading_window_closed", None)]
        typed = str(tracker.latest_message.get("text") or "")
        # "гаряча вода 245,6" names the meter by its kind when that is unambiguous.
        chosen = _preselected(cards, tracker) or (
            None if typed.startswith("/") else choose_meter(cards, typed, None)
        )
        if chosen is not None:
            events.append(SlotSet("meter_id", str(chosen.id)))
            value = None if typed.startswith("/") else single_number(typed)
            if value is not None and any(mark in value for mark in ".,"):
                # "хочу передати показання 123,45": the form checks this value before asking.
                events.append(SlotSet("reading_value", value))
        return [*events, SlotSet("meters_registered", True), SlotSet("reading_window_closed", closed)]


def _meter_buttons(cards: list[MeterCard], intent: str) -> list[dict[str, str]]:
    return [{"title": c.title, "payload": f'/{intent}{{"meter_id":"{c.id}"}}'} for c in cards]


class ActionAskMeterId(Action):
    def name(self) -> str:
        return "action_ask_meter_id"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        cards = await in_register(meter_cards, identity(tracker))
        say(dispatcher, domain, "utter_ask_meter_id", buttons=_meter_buttons(cards, "submit_reading"))
        return []


def _history_lines(domain: Domain, readings: list[PeriodReading]) -> str:
    return "\n".join(
        text(domain, "utter_previous_reading_line", period=period_title(r.period), value=number(r.value))
        if r.consumption is None
        else text(
            domain,
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


def _histories(session: Session, who: Identity, meter_id: str | None = None) -> list[MeterHistory]:
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
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        meter_id = tracker.get_slot("meter_id")
        if tracker.get_slot("shown_meter_id") != meter_id:
            histories = await in_register(_histories, identity(tracker), meter_id)
            for history in histories:
                say(
                    dispatcher,
                    domain,
                    "utter_meter_summary",
                    account_number=history.meter.account_number,
                    kind=history.meter.kind_of,
                    meter_number=history.meter.number,
                )
                if history.readings:
                    say(
                        dispatcher,
                        domain,
                        "utter_previous_readings",
                        lines=_history_lines(domain, history.readings),
                    )
                else:
                    dispatcher.utter_message(response="utter_no_previous_readings")
        dispatcher.utter_message(response="utter_ask_reading_value")
        return [SlotSet("shown_meter_id", meter_id)]


class ActionAskReadingConfirmed(Action):
    """Ask the subscriber to confirm a rollover or an unusually large consumption."""

    def name(self) -> str:
        return "action_ask_reading_confirmed"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        context = await in_register(
            reading_context, identity(tracker), str(tracker.get_slot("meter_id")), now()
        )
        value = Decimal(str(tracker.get_slot("reading_value")))
        if context is None or context.previous is None:
            return [SlotSet("reading_check", None), SlotSet("reading_confirmed", True)]
        digits = context.meter.register_digits
        response = (
            "utter_ask_reading_confirmed_rollover"
            if tracker.get_slot("reading_check") == "rollover"
            else "utter_ask_reading_confirmed_large"
        )
        say(
            dispatcher,
            domain,
            response,
            value=number(value),
            previous=number(context.previous),
            consumption=number(consumption(context.previous, value, digits)),
            limit=number(register_limit(digits)),
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
    if not is_registered(session, subscriber.id, meter_id):
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
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        events = _reset(*READING_SLOTS)
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
            say(dispatcher, domain, "utter_meter_not_available")
            dispatcher.utter_message(response="utter_menu")
            return events
        say(dispatcher, domain, "utter_reading_accepted", value=number(saved.value))
        if saved.replaced is not None:
            say(
                dispatcher,
                domain,
                "utter_reading_replaced",
                period=period_title(saved.period),
                previous_value=number(saved.replaced),
            )
        if not in_reading_window(now()):
            dispatcher.utter_message(response="utter_reading_window_reminder")
        dispatcher.utter_message(response="utter_menu")
        return events


# --- my meters, history, removal -------------------------------------------------------------


class ActionMyMeters(Action):
    def name(self) -> str:
        return "action_my_meters"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        cards = await in_register(meter_cards, identity(tracker))
        if not cards:
            dispatcher.utter_message(response="utter_no_meters")
            return []
        lines = "\n".join(
            text(domain, "utter_my_meter_line", title=c.title, address=mask_address(c.address)) for c in cards
        )
        removal = [
            {
                "title": text(domain, "utter_remove_meter_button", meter_number=c.number),
                "payload": f'/remove_meter{{"meter_id":"{c.id}"}}',
            }
            for c in cards
        ]
        say(dispatcher, domain, "utter_my_meters", lines=lines)
        say(dispatcher, domain, "utter_menu", buttons=removal)
        return []


class ActionReadingHistory(Action):
    def name(self) -> str:
        return "action_reading_history"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        histories = await in_register(_histories, identity(tracker))
        if not histories:
            dispatcher.utter_message(response="utter_no_meters")
            return []
        for history in histories:
            if history.readings:
                say(
                    dispatcher,
                    domain,
                    "utter_history_header",
                    title=history.meter.title,
                    lines=_history_lines(domain, history.readings),
                )
            else:
                say(dispatcher, domain, "utter_history_empty", title=history.meter.title)
        dispatcher.utter_message(response="utter_menu")
        return []


class ActionStartRemoval(Action):
    def name(self) -> str:
        return "action_start_removal"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        cards = await in_register(meter_cards, identity(tracker))
        events = _reset(*REMOVAL_SLOTS)
        if not cards:
            return [*events, SlotSet("meters_registered", False)]
        chosen = _preselected(cards, tracker)
        if chosen is not None:
            events.append(SlotSet("meter_to_remove", str(chosen.id)))
        return [*events, SlotSet("meters_registered", True)]


class ActionAskMeterToRemove(Action):
    def name(self) -> str:
        return "action_ask_meter_to_remove"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        cards = await in_register(meter_cards, identity(tracker))
        say(dispatcher, domain, "utter_ask_meter_to_remove", buttons=_meter_buttons(cards, "remove_meter"))
        return []


class ActionAskRemovalConfirmed(Action):
    def name(self) -> str:
        return "action_ask_removal_confirmed"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        cards = await in_register(meter_cards, identity(tracker))
        card = next((c for c in cards if str(c.id) == tracker.get_slot("meter_to_remove")), None)
        if card is None:
            return [SlotSet("meter_to_remove", None)]
        say(dispatcher, domain, "utter_ask_removal_confirmed", title=card.title)
        return []


def _unregister(session: Session, who: Identity, meter_id: int) -> bool:
    return unregister_meter(session, subscriber_of(session, who).id, meter_id)


class ActionRemoveMeter(Action):
    def name(self) -> str:
        return "action_remove_meter"

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        meter_id = tracker.get_slot("meter_to_remove")
        if tracker.get_slot("removal_confirmed") is not True or not meter_id:
            dispatcher.utter_message(response="utter_meter_kept")
        elif await in_register(_unregister, identity(tracker), int(meter_id)):
            dispatcher.utter_message(response="utter_meter_removed")
        else:
            dispatcher.utter_message(response="utter_meter_not_available")
            dispatcher.utter_message(response="utter_menu")
        return _reset(*REMOVAL_SLOTS)
