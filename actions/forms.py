"""Form validation: every slot a subscriber types is checked against the rules and the register."""

from __future__ import annotations

import abc
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.orm import Session

from actions.account import AccountRefused, find_account, parse_account_number
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
    when_register_fails,
)
from actions.meter import (
    find_meter,
    meter_number_candidates,
    normalise_meter_number,
    record_registration_failure,
    registration_blocked_until,
)
from actions.models import MeterKind
from actions.reading import ReadingRefused, consumption, parse_reading, register_limit
from actions.subscriber import Identity

Slots = dict[str, Any]


def retry_minutes(until: dt.datetime, moment: dt.datetime) -> str:
    return str(max(1, math.ceil((until - moment).total_seconds() / 60)))


# --- registration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """The outcome of checking what the subscriber typed against the register."""

    meter: MeterCard | None = None
    account_known: bool = False
    blocked_until: dt.datetime | None = None


def registration_closed_until(session: Session, who: Identity, moment: dt.datetime) -> dt.datetime | None:
    """When this subscriber may try registering again under the configured limits; None if now."""
    return registration_blocked_until(
        session,
        subscriber_of(session, who).id,
        moment,
        SETTINGS.failures_per_hour,
        SETTINGS.global_failures_per_hour,
    )


def _record_failure(session: Session, who: Identity, moment: dt.datetime) -> dt.datetime | None:
    record_registration_failure(session, subscriber_of(session, who).id, moment)
    return registration_closed_until(session, who, moment)


def _check_account(session: Session, who: Identity, account_number: str, moment: dt.datetime) -> Attempt:
    if find_account(session, account_number) is not None:
        return Attempt(account_known=True)
    return Attempt(blocked_until=_record_failure(session, who, moment))


def _check_pair(
    session: Session, who: Identity, account_number: str, candidates: list[str], moment: dt.datetime
) -> Attempt:
    for meter_number in candidates:
        meter = find_meter(session, account_number, meter_number)
        if meter is not None:
            return Attempt(meter=MeterCard.of(meter), account_known=True)
    return Attempt(account_known=True, blocked_until=_record_failure(session, who, moment))


class RegisterBackedValidation(FormValidationAction):
    """Form validation that ends the form with an apology when the register is unreachable."""

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so rasa-sdk registers only the concrete forms' validations."""

    @when_register_fails
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain) -> Events:
        events: Events = await super().run(dispatcher, tracker, domain)
        return events


class ValidateRegistrationForm(RegisterBackedValidation):
    """Account number, then meter number; the pair must match the register."""

    def name(self) -> str:
        return "validate_registration_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> list[str]:
        # Too many failures end the form; action_register_meter says why.
        if tracker.get_slot("registration_blocked") or self._failures(tracker) >= SETTINGS.failures_in_a_row:
            return []
        return domain_slots

    @staticmethod
    def _failures(tracker: Tracker) -> int:
        return int(tracker.get_slot("registration_failures") or 0)

    def _failed(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Domain,
        attempt: Attempt,
        response: str,
        **values: Any,
    ) -> Slots:
        failures = self._failures(tracker) + 1
        slots: Slots = {"registration_failures": float(failures)}
        if attempt.blocked_until is not None:
            slots |= {
                "registration_blocked": True,
                "registration_retry_minutes": retry_minutes(attempt.blocked_until, now()),
            }
        elif failures < SETTINGS.failures_in_a_row:
            say(dispatcher, domain, response, **values)
        return slots

    async def validate_account_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> Slots:
        if slot_value is None:  # reset by an action, not typed
            return {"account_number": None}
        try:
            account_number = parse_account_number(str(slot_value))
        except AccountRefused as refusal:
            if refusal.reason == "length":
                say(dispatcher, domain, "utter_account_wrong_length", digits=refusal.digits)
            else:
                say(dispatcher, domain, "utter_account_not_digits")
            return {"account_number": None}
        attempt = await in_register(_check_account, identity(tracker), account_number, now())
        if attempt.account_known:
            return {"account_number": account_number}
        failed = self._failed(
            dispatcher, tracker, domain, attempt, "utter_account_unknown", account_number=account_number
        )
        return {"account_number": None} | failed

    async def validate_meter_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> Slots:
        if slot_value is None:  # reset by an action, not typed
            return {"meter_number": None}
        candidates = meter_number_candidates(str(slot_value))
        account_number = tracker.get_slot("account_number")
        if not candidates or not account_number:
            say(dispatcher, domain, "utter_meter_number_invalid")
            return {"meter_number": None}
        meter_number = candidates[0]
        attempt = await in_register(_check_pair, identity(tracker), account_number, candidates, now())
        if attempt.meter is not None:
            return {"meter_number": attempt.meter.number, "registered_meter_id": str(attempt.meter.id)}
        failed = self._failed(
            dispatcher,
            tracker,
            domain,
            attempt,
            "utter_meter_not_on_account",
            account_number=account_number,
            meter_number=meter_number,
        )
        return {"meter_number": None} | failed


# --- choosing one of the subscriber's meters -----------------------------------------------

_KIND_WORDS = {
    MeterKind.HOT_WATER: ("гаряч", "вода", "воду", "гвп", "hot", "garyach", "hariach"),
    MeterKind.HEAT: ("тепл", "опален", "heat", "tepl"),
}


def choose_meter(cards: list[MeterCard], typed: str, from_button: str | None) -> MeterCard | None:
    """The subscriber's meter meant by a button (its id) or typed text (number, kind, position)."""
    if from_button is not None:
        return next((card for card in cards if str(card.id) == from_button), None)
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


async def validate_meter_choice(
    slot: str, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
) -> Slots:
    if slot_value is None:
        return {slot: None}
    cards = await in_register(meter_cards, identity(tracker))
    button = entity_meter_id(tracker)
    if button is None and str(slot_value) != str(tracker.latest_message.get("text") or "").strip():
        # Not typed by the subscriber: an id our own action chose (the only meter, or a button).
        button = str(slot_value)
    card = choose_meter(cards, str(slot_value), button)
    if card is not None:
        return {slot: str(card.id)}
    if (
        entity_meter_id(tracker) is None
        and (tracker.latest_message.get("intent") or {}).get("name") == "submit_reading"
    ):
        return {slot: None}  # the menu button again, not an answer: just ask again
    say(dispatcher, domain, "utter_meter_not_available" if button else "utter_meter_choice_unknown")
    return {slot: None}


# --- readings --------------------------------------------------------------------------------


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
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> list[str]:
        if tracker.get_slot("reading_check"):
            return domain_slots
        return [slot for slot in domain_slots if slot != "reading_confirmed"]

    async def validate_meter_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> Slots:
        chosen = await validate_meter_choice("meter_id", slot_value, dispatcher, tracker, domain)
        if chosen["meter_id"] is not None and chosen["meter_id"] != tracker.get_slot("shown_meter_id"):
            # Another meter: whatever was typed for the previous one no longer applies.
            chosen |= {"reading_value": None, "reading_check": None, "reading_confirmed": None}
        return chosen

    async def validate_reading_value(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> Slots:
        if slot_value is None:  # reset by an action, not typed
            return {"reading_value": None}
        typed = str(slot_value)
        context = await in_register(
            reading_context, identity(tracker), str(tracker.get_slot("meter_id")), now()
        )
        if context is None:
            say(dispatcher, domain, "utter_meter_not_available")
            return {"reading_value": None, "meter_id": None}
        digits = context.meter.register_digits
        limit = register_limit(digits)
        try:
            value = parse_reading(typed, digits)
        except ReadingRefused as refusal:
            say(dispatcher, domain, _REFUSALS[refusal.reason], text=typed.strip()[:40], limit=number(limit))
            return {"reading_value": None}
        accepted: Slots = {"reading_value": number(value), "reading_check": None, "reading_confirmed": None}
        if context.previous is None:
            return accepted
        used = consumption(context.previous, value, digits)
        plausible = SETTINGS.plausible_limit(context.meter.kind)
        if value < context.previous:
            if used <= plausible:
                return accepted | {"reading_check": "rollover"}
            say(
                dispatcher,
                domain,
                "utter_reading_below_previous",
                value=number(value),
                previous=number(context.previous),
            )
            return {"reading_value": None}
        if used > plausible:
            return accepted | {"reading_check": "large"}
        return accepted

    async def validate_reading_confirmed(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> Slots:
        if slot_value is None:
            return {"reading_confirmed": None}
        if slot_value is True:
            return {"reading_confirmed": True}
        say(dispatcher, domain, "utter_reading_not_confirmed")
        return {"reading_confirmed": None, "reading_value": None, "reading_check": None}


class ValidateRemovalForm(RegisterBackedValidation):
    def name(self) -> str:
        return "validate_removal_form"

    async def validate_meter_to_remove(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Domain
    ) -> Slots:
        return await validate_meter_choice("meter_to_remove", slot_value, dispatcher, tracker, domain)
