"""Registration (data/rules/registration.yml): the account number, then the meter number; the pair
must match the register, and a match enrols the meter for the subscriber."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.dialogue.conversation import (
    MeterCard,
    RegisterBackedValidation,
    found_values,
    identity,
    in_register,
    is_payload,
    reset,
    say,
    subscriber_of,
    when_register_fails,
)
from actions.register import clock, settings
from actions.register.account import AccountRefused, find_account, mask_address, parse_account_number
from actions.register.meter import (
    enrol_meter,
    find_meter,
    meter_number_candidates,
    record_registration_failure,
    registration_blocked_until,
)
from actions.register.models import Meter
from actions.register.subscriber import Identity

REGISTRATION_SLOTS = ("account_number", "meter_number", "registered_meter_id", "registration_retry_minutes")
Slots = dict[str, Any]


def retry_minutes(until: dt.datetime, moment: dt.datetime) -> str:
    return str(max(1, math.ceil((until - moment).total_seconds() / 60)))


@dataclass(frozen=True)
class Attempt:
    """The outcome of checking what the subscriber typed against the register."""

    meter: MeterCard | None = None
    account_known: bool = False
    blocked_until: dt.datetime | None = None


def registration_closed_until(session: Session, who: Identity, moment: dt.datetime) -> dt.datetime | None:
    """When this subscriber may try registering again under the configured limits; None if now."""
    limits = settings.current()
    return registration_blocked_until(
        session,
        subscriber_of(session, who).id,
        moment,
        limits.failures_per_hour,
        limits.global_failures_per_hour,
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


def _enrol(session: Session, who: Identity, meter_id: int) -> tuple[MeterCard, bool]:
    subscriber = subscriber_of(session, who)
    return MeterCard.of(session.get_one(Meter, meter_id)), enrol_meter(session, subscriber.id, meter_id)


class ActionStartRegistration(Action):
    """Start a fresh registration, unless too many recent failures closed it for a while."""

    def name(self) -> str:
        return "action_start_registration"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        moment = clock.now()
        until = await in_register(registration_closed_until, identity(tracker), moment)
        events = [*reset(*REGISTRATION_SLOTS), SlotSet("registration_failures", 0.0)]
        if until is None:
            # "зареєструйте лічильник, о/р 23456": what the request carries fills the form, which
            # checks it at its start exactly like typed answers (Rasa runs its slot mappings, which
            # need the form active, only after the form has started).
            for slot in ("account_number", "meter_number"):
                values = found_values(tracker, slot)
                if values:
                    events.append(SlotSet(slot, values[0]))
            return [*events, SlotSet("registration_blocked", False)]
        return [
            *events,
            SlotSet("registration_retry_minutes", retry_minutes(until, moment)),
            SlotSet("registration_blocked", True),
        ]


class ActionRegisterMeter(Action):
    """Enrol the matched meter for the subscriber, or explain why registration ended."""

    def name(self) -> str:
        return "action_register_meter"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # registration_blocked goes too: a finished flow leaves nothing behind for the policies
        events = [*reset(*REGISTRATION_SLOTS, "registration_blocked"), SlotSet("registration_failures", 0.0)]
        meter_id = tracker.get_slot("registered_meter_id")
        if tracker.get_slot("registration_blocked"):
            say(
                dispatcher,
                "utter_registration_blocked",
                registration_retry_minutes=tracker.get_slot("registration_retry_minutes") or "60",
            )
            return events
        if not meter_id:
            dispatcher.utter_message(response="utter_registration_failed")
            return events
        card, new = await in_register(_enrol, identity(tracker), int(meter_id))
        say(
            dispatcher,
            "utter_meter_found",
            kind=card.kind_of,
            meter_number=card.number,
            account_number=card.account_number,
            address=mask_address(card.address),
        )
        dispatcher.utter_message(response="utter_registered" if new else "utter_meter_already_registered")
        dispatcher.utter_message(response="utter_add_another_meter")
        return events


class ValidateRegistrationForm(RegisterBackedValidation):
    """Account number, then meter number; the pair must match the register."""

    def name(self) -> str:
        return "validate_registration_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # Too many failures end the form; action_register_meter says why.
        if (
            tracker.get_slot("registration_blocked")
            or self._failures(tracker) >= settings.current().failures_in_a_row
        ):
            return []
        return domain_slots

    @staticmethod
    def _failures(tracker: Tracker) -> int:
        return int(tracker.get_slot("registration_failures") or 0)

    def _failed(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        attempt: Attempt,
        response: str,
        **values: Any,
    ) -> Slots:
        failures = self._failures(tracker) + 1
        slots: Slots = {"registration_failures": float(failures)}
        if attempt.blocked_until is not None:
            slots |= {
                "registration_blocked": True,
                "registration_retry_minutes": retry_minutes(attempt.blocked_until, clock.now()),
            }
        elif failures < settings.current().failures_in_a_row:
            say(dispatcher, response, **values)
        return slots

    async def validate_account_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if slot_value is None:  # reset by an action, not typed
            return {"account_number": None}
        if is_payload(tracker):  # an account number counts only when typed
            return {"account_number": None}
        try:
            account_number = parse_account_number(str(slot_value))
        except AccountRefused as refusal:
            if refusal.reason == "length":
                say(dispatcher, "utter_account_wrong_length", digits=refusal.digits)
            else:
                say(dispatcher, "utter_account_not_digits")
            return {"account_number": None}
        attempt = await in_register(_check_account, identity(tracker), account_number, clock.now())
        if attempt.account_known:
            return {"account_number": account_number}
        failed = self._failed(
            dispatcher, tracker, attempt, "utter_account_unknown", account_number=account_number
        )
        return {"account_number": None} | failed

    async def validate_meter_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if slot_value is None:  # reset by an action, not typed
            return {"meter_number": None}
        if is_payload(tracker):  # a meter number counts only when typed
            return {"meter_number": None}
        account_number = tracker.get_slot("account_number")
        if not account_number:
            # "о/р 99999, лічильник 333333": the account was refused, so its meter waits for another.
            return {"meter_number": None}
        candidates = meter_number_candidates(str(slot_value))
        if not candidates:
            say(dispatcher, "utter_meter_number_invalid")
            return {"meter_number": None}
        meter_number = candidates[0]
        attempt = await in_register(_check_pair, identity(tracker), account_number, candidates, clock.now())
        if attempt.meter is not None:
            return {"meter_number": attempt.meter.number, "registered_meter_id": str(attempt.meter.id)}
        failed = self._failed(
            dispatcher,
            tracker,
            attempt,
            "utter_meter_not_on_account",
            account_number=account_number,
            meter_number=meter_number,
        )
        return {"meter_number": None} | failed
