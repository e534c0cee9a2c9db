"""What every action needs: who is talking, the register in a worker thread, and domain texts.

Two things differ from a stock Rasa server (custom_components/patches, docs/performance.md), and
action code must live with them:

- the ``domain`` an action receives has no ``responses``: texts come from ``text``/``say`` below,
  which read domain.yml itself (actions/texts.py);
- ``tracker.events`` holds the current turn only (from the latest user message on): what an
  action needs of earlier turns is in slots.

tests/unit/test_dialogue_contracts.py fails when dialogue code reads either.
"""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions import texts
from actions.register import db, settings
from actions.register.meter import KIND_OF, enrolled_meters, meter_title
from actions.register.models import Meter, MeterKind, Subscriber
from actions.register.period import period_of
from actions.register.reading import previous_accepted
from actions.register.subscriber import Identity, get_or_create_subscriber, identity_of

logger = logging.getLogger(__name__)

# Read now: a malformed knob, or the production profile without DATABASE_URL, stops the action
# server at start rather than failing a subscriber's turn.
settings.current()
db.database_url()

P = ParamSpec("P")
T = TypeVar("T")


def identity(tracker: Tracker) -> Identity:
    return identity_of(tracker.sender_id, tracker.get_latest_input_channel())


async def in_register(fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(session, ...)`` as one transaction in a worker thread, off the event loop."""

    def work() -> T:
        with db.transaction() as session:
            return fn(session, *args, **kwargs)

    return await asyncio.to_thread(work)


def subscriber_of(session: Session, who: Identity) -> Subscriber:
    return get_or_create_subscriber(session, who)


def reset(*slots: str) -> list[EventType]:
    return [SlotSet(slot, None) for slot in slots]


# --- texts ---------------------------------------------------------------------------------


def text(response: str, **values: object) -> str:
    """The first text of a domain response, with its {placeholders} filled."""
    template: str = texts.response(response)["text"]
    return template.format(**values) if values else template


def buttons_of(response: str) -> list[dict[str, str]]:
    return list(texts.response(response).get("buttons", []))


def say(
    dispatcher: CollectingDispatcher,
    response: str,
    buttons: list[dict[str, str]] | None = None,
    **values: object,
) -> None:
    """Utter a domain response filled with computed values; extra buttons come before its own."""
    dispatcher.utter_message(
        text=text(response, **values),
        buttons=[*(buttons or []), *buttons_of(response)],
    )


def number(value: Decimal) -> str:
    return f"{value:.2f}"


# --- meters as the conversation shows them ----------------------------------------------


@dataclass(frozen=True)
class MeterCard:
    """An enrolled meter, detached from the session: what the dialogue shows and decides on."""

    id: int
    number: str
    kind: MeterKind
    account_number: str
    address: str
    dial_digits: int
    title: str

    @property
    def kind_of(self) -> str:
        return KIND_OF[self.kind]

    @classmethod
    def of(cls, meter: Meter) -> MeterCard:
        return cls(
            meter.id,
            meter.number,
            meter.kind,
            meter.account.number,
            meter.account.address,
            meter.dial_digits,
            meter_title(meter),
        )


def meter_cards(session: Session, who: Identity) -> list[MeterCard]:
    return [MeterCard.of(meter) for meter in enrolled_meters(session, who)]


def entity_meter_id(tracker: Tracker) -> str | None:
    """The meter id a button sent (``/submit_reading{"meter_id": "7"}``), if any."""
    value = next(tracker.get_latest_entity_values("meter_id"), None)
    return str(value) if value is not None else None


# --- what the NLU pipeline found in the message (config.yml, data/nlu/meter_kinds.yml) ------


@dataclass(frozen=True)
class TypedReading:
    """A reading value found in the message, with the meter kind named next to it, if any."""

    value: str
    kind: MeterKind | None


def _found(tracker: Tracker, *names: str) -> list[dict[str, Any]]:
    entities = tracker.latest_message.get("entities") or []
    found = [
        e
        for e in entities
        if isinstance(e, dict)
        and e.get("entity") in names
        and isinstance(e.get("value"), str)
        and e.get("extractor")  # found by the NLU pipeline, not written into a /payload
    ]
    return sorted(found, key=lambda e: int(e.get("start") or 0))


def _kind(value: str) -> MeterKind | None:
    return next((kind for kind in MeterKind if kind.value == value), None)


_MINUS = ("-", "\u2212", "\u2013")


def _signed(text: str, entity: dict[str, Any]) -> str:
    """The value with the minus typed before it: "ГВП -5,00" is a negative reading, refused as one."""
    value = str(entity["value"])
    return f"-{value}" if text[: int(entity.get("start") or 0)].rstrip().endswith(_MINUS) else value


def signed_value(tracker: Tracker, value: str) -> str:
    """A slot filled from a reading_value entity, with the minus typed before it."""
    for entity in _found(tracker, "reading_value"):
        if entity["value"] == value:
            return _signed(str(tracker.latest_message.get("text") or ""), entity)
    return value


def is_payload(tracker: Tracker) -> bool:
    """The message is a /payload (a button, or typed like one): its entities are no typed answer."""
    return str(tracker.latest_message.get("text") or "").startswith("/")


def found_values(tracker: Tracker, name: str) -> list[str]:
    """The values of one entity the NLU pipeline found in the message (a /payload's do not count)."""
    return [str(e["value"]) for e in _found(tracker, name)]


def named_kind(tracker: Tracker) -> MeterKind | None:
    """The one meter kind the message names ("опалення", "ГВП"), or None for none or both."""
    kinds = {_kind(e["value"]) for e in _found(tracker, "meter_kind")} - {None}
    return kinds.pop() if len(kinds) == 1 else None


def typed_readings(tracker: Tracker) -> list[TypedReading]:
    """The readings a message carries, in order: "гаряча 128,00 тепло 477,00" gives two, each
    with the kind named just before it (or just after it: "128,00 гаряча")."""
    found = _found(tracker, "reading_value", "meter_kind")
    text = str(tracker.latest_message.get("text") or "")
    readings: list[TypedReading] = []
    kind: MeterKind | None = None
    index = 0
    while index < len(found):
        entity = found[index]
        if entity["entity"] == "meter_kind":
            kind = _kind(entity["value"])
        else:
            after = found[index + 1] if index + 1 < len(found) else None
            if kind is None and after is not None and after["entity"] == "meter_kind":
                kind = _kind(after["value"])
                index += 1
            readings.append(TypedReading(_signed(text, entity), kind))
            kind = None
        index += 1
    return readings


@dataclass(frozen=True)
class ReadingContext:
    meter: MeterCard
    previous: Decimal | None


def reading_context(
    session: Session, who: Identity, meter_id: str, moment: dt.datetime
) -> ReadingContext | None:
    """The subscriber's meter and its latest accepted reading before this period; None if not theirs."""
    card = next((c for c in meter_cards(session, who) if str(c.id) == meter_id), None)
    if card is None:
        return None
    before = previous_accepted(session, card.id, period_of(moment))
    return ReadingContext(card, before.value if before is not None else None)


# --- failures ----------------------------------------------------------------------------

Run = Callable[[Any, CollectingDispatcher, Tracker, DomainDict], Awaitable[list[EventType]]]


def stop_flow() -> list[EventType]:
    """End the active form, then listen: no rule may carry on with the half-finished flow."""
    return [ActiveLoop(None), SlotSet("requested_slot", None), FollowupAction("action_listen")]


def when_register_fails(run: Run) -> Run:
    """An unreachable register ends the flow with an apology and the menu; nothing half-saved."""

    @functools.wraps(run)
    async def guarded(
        self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except SQLAlchemyError:
            logger.exception("the register is unavailable in %s", self.name())
            dispatcher.utter_message(response="utter_service_unavailable")
            return stop_flow()

    return guarded


class RegisterBackedValidation(FormValidationAction):
    """Form validation that ends the form with an apology when the register is unreachable."""

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so rasa-sdk registers only the concrete forms' validations."""

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        return events
