"""The custom actions run as the Rasa server runs them: real trackers, a real register.

Trackers are built from the events the Rasa server would send (the current turn only) and the
domain is the one it sends (without responses); every action writes into a PostgreSQL schema of
the test's own. tests/actions/conftest.py makes the fixtures of these.
"""

from __future__ import annotations

import copy
import datetime as dt
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from ruamel.yaml import YAML
from sqlalchemy import func, select

from actions.operators.billing import import_accounts
from actions.operators.demo import DEMO_METERS, seed_demo
from actions.register import clock, db, settings
from actions.register.meter import enrol_meter, find_meter, record_registration_failure
from actions.register.models import Meter, Reading, RegistrationFailure, Subscriber, subscriber_meters
from actions.register.settings import Settings
from actions.register.subscriber import Identity, find_subscriber, get_or_create_subscriber
from tests.support.moments import LAST
from tests.support.otke import HEADER
from tests.support.paths import ROOT

Domain = dict[str, Any]
Events = list[dict[str, Any]]
Message = dict[str, Any]


SENDER = "tester"
ME = Identity("rest", SENDER)
CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test"


def load_domain() -> Domain:
    """domain.yml with anchors resolved, as plain dicts and lists (responses included)."""
    loaded: Domain = YAML(typ="safe").load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return loaded


_DOMAIN = load_domain()


_SERVED = {key: value for key, value in _DOMAIN.items() if key != "responses"}


def served_domain() -> Domain:
    """The domain as our Rasa server sends it to the action server: without its responses
    (actions/dialogue/conversation.py states the contract; an action reading them fails here).
    A copy per call, so no action run sees another's changes; parsing domain.yml again would
    cost 50 ms a run."""
    return copy.deepcopy(_SERVED)


def slot(name: str, value: Any) -> dict[str, Any]:
    """A SlotSet event as the action server returns it."""
    return {"event": "slot", "timestamp": None, "name": name, "value": value}


def reset(*names: str) -> Events:
    return [slot(name, None) for name in names]


STOP_FLOW: Events = [
    {"event": "active_loop", "name": None, "timestamp": None},
    slot("requested_slot", None),
    {"event": "followup", "timestamp": None, "name": "action_listen"},
]
REGISTRATION_RESET = [
    *reset("account_number", "meter_number", "registered_meter_id", "registration_retry_minutes"),
    slot("registration_failures", 0.0),
]
READING_RESET = reset("meter_id", "reading_value", "reading_check", "reading_confirmed", "shown_meter_id")
REMOVAL_RESET = reset("meter_to_remove", "removal_confirmed")
# What a finished flow resets: its own slots and the one its start set for the policies.
REGISTRATION_END = [
    *reset("account_number", "meter_number", "registered_meter_id", "registration_retry_minutes"),
    slot("registration_blocked", None),
    slot("registration_failures", 0.0),
]
READING_END = [*READING_RESET, slot("reading_start", None)]
REMOVAL_END = [*REMOVAL_RESET, slot("meters_registered", None)]


def template(response: str) -> str:
    text: str = _DOMAIN["responses"][response][0]["text"]
    return text


def domain_buttons(response: str) -> list[dict[str, str]]:
    return list(_DOMAIN["responses"][response][0].get("buttons", []))


MENU = domain_buttons("utter_menu")
YES_NO = [{"title": "Так", "payload": "/affirm"}, {"title": "Ні", "payload": "/deny"}]


def message(
    text: str | None = None, buttons: list[dict[str, str]] | None = None, response: str | None = None
) -> Message:
    """A message exactly as CollectingDispatcher.utter_message records it."""
    return {
        "text": text,
        "buttons": buttons or [],
        "elements": [],
        "custom": {},
        "template": response,
        "response": response,
        "image": None,
        "attachment": None,
    }


def said(response: str, *, extra_buttons: list[dict[str, str]] | None = None, **values: Any) -> Message:
    """What say() sends: the domain text filled in, extra buttons before the response's own."""
    text = template(response).format(**values)
    assert "{" not in text, f"unfilled placeholder in {text!r}"
    return message(text, [*(extra_buttons or []), *domain_buttons(response)])


def uttered(response: str) -> Message:
    """A response the Rasa server renders itself."""
    return message(response=response)


def texts(messages: list[Message]) -> str:
    return "\n".join(str(m["text"] or "") for m in messages)


def _extractor(entity: str) -> str | None:
    """What the NLU pipeline names as having found an entity; a button's meter_id has none."""
    return None if entity == "meter_id" else "RegisterEntityExtractor"


def tracker(
    *,
    sender: str = SENDER,
    channel: str | None = "rest",
    text: str = "",
    intent: str | None = None,
    entities: dict[str, str] | None = None,
    entity_list: list[tuple[str, str, int, int]] | None = None,
    message_id: str | None = "m-1",
    metadata: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    typed: dict[str, Any] | None = None,
    form: str | None = None,
    requested: str | None = None,
    latest_action: str = "action_listen",
) -> Tracker:
    """A tracker as the Rasa server sends it to the action server.

    ``slots`` were set in earlier turns; ``typed`` are slot candidates of this turn (slot events
    after the user event), which is what a form validation action validates. ``entities`` are
    found at no particular place (a button's payload); ``entity_list`` holds (entity, value, start,
    end) as the NLU pipeline finds them in ``text``, in order.
    """
    values = {name: spec.get("initial_value") for name, spec in _DOMAIN["slots"].items()}
    values["requested_slot"] = requested
    values |= slots or {}
    values |= typed or {}
    found = [
        {"entity": name, "value": value, "start": 0, "end": 0, "extractor": _extractor(name)}
        for name, value in (entities or {}).items()
    ] + [
        {"entity": name, "value": value, "start": start, "end": end, "extractor": _extractor(name)}
        for name, value, start, end in (entity_list or [])
    ]
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0} if intent else {},
        "entities": found,
        "intent_ranking": [],
        "message_id": message_id,
        "metadata": metadata or {},
    }
    user: dict[str, Any] = {
        "event": "user",
        "timestamp": None,
        "text": text,
        "parse_data": latest,
        "input_channel": channel,
        "message_id": message_id,
        "metadata": metadata or {},
    }
    events = [user, *(slot(name, value) for name, value in (typed or {}).items())]
    return Tracker(
        sender,
        values,
        latest,
        events,
        False,
        None,
        {"name": form} if form else {},
        latest_action,
    )


@dataclass
class Run:
    events: Events
    messages: list[Message] = field(default_factory=list)


async def run(action: Action, state: Tracker) -> Run:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, state, served_domain())
    return Run(events, dispatcher.messages)


# --- the register -------------------------------------------------------------------------------


class ReadingRow(NamedTuple):
    period: str
    value: Decimal
    status: str
    channel: str
    subscriber_id: int | None
    message_id: str | None


class Register:
    """Seeds and inspects the register the actions write to (through actions.register.db, committed)."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def seed(self) -> dict[str, str]:
        """The demo register; meter number -> meter id (as the dialogue carries it, a string)."""
        with db.transaction() as session:
            seed_demo(session)
            for account, _, number, _, _ in DEMO_METERS:
                meter = find_meter(session, account, number)
                assert meter is not None
                self.ids[number] = str(meter.id)
        return self.ids

    def add_meter(
        self,
        account: str,
        number: str,
        kind: str,
        previous: str | None = None,
        address: str = "м. Чернігів, вул. Миру, 5, кв. 8",
    ) -> str:
        """A meter of our own, with an accepted reading for the previous period if given."""
        row = f'{account},"{address}",{number},{kind},{previous or ""},{LAST if previous else ""}'
        with db.transaction() as session:
            report = import_accounts(session, [HEADER, row])
            assert not report.errors, report.errors
            meter = find_meter(session, account, number)
            assert meter is not None
            self.ids[number] = str(meter.id)
        return self.ids[number]

    def subscribe(self, *numbers: str, who: Identity = ME) -> int:
        """Enrol meters (by number) for a subscriber, in this order, a second apart; the subscriber's id."""
        start = clock.now()
        with db.transaction() as session:
            subscriber = get_or_create_subscriber(session, who)
            for step, number in enumerate(numbers):
                with clock.use(clock.fixed(start + dt.timedelta(seconds=step))):
                    enrol_meter(session, subscriber.id, int(self.ids[number]))
            return subscriber.id

    def subscriber_id(self, who: Identity = ME) -> int | None:
        with db.transaction() as session:
            subscriber = find_subscriber(session, who)
            return None if subscriber is None else subscriber.id

    def fail(self, *moments: dt.datetime, who: Identity = ME) -> None:
        """Failed registration attempts of a subscriber at the given moments."""
        with db.transaction() as session:
            subscriber = get_or_create_subscriber(session, who)
            for moment in moments:
                record_registration_failure(session, subscriber.id, moment)

    def failures(self, who: Identity = ME) -> int:
        with db.transaction() as session:
            subscriber = find_subscriber(session, who)
            if subscriber is None:
                return 0
            count = session.scalar(
                select(func.count())
                .select_from(RegistrationFailure)
                .where(RegistrationFailure.subscriber_id == subscriber.id)
            )
            return int(count or 0)

    def enrolled(self, meter_number: str) -> list[tuple[str, str]]:
        """Who enrolled the meter: (channel, channel user id) pairs."""
        with db.transaction() as session:
            rows = session.execute(
                select(Subscriber.channel, Subscriber.channel_user_id)
                .join(subscriber_meters, subscriber_meters.c.subscriber_id == Subscriber.id)
                .where(subscriber_meters.c.meter_id == int(self.ids[meter_number]))
                .order_by(Subscriber.id)
            ).all()
            return [(channel, user) for channel, user in rows]

    def readings(self, meter_number: str) -> list[ReadingRow]:
        with db.transaction() as session:
            rows = session.scalars(
                select(Reading).where(Reading.meter_id == int(self.ids[meter_number])).order_by(Reading.id)
            ).all()
            return [
                ReadingRow(r.period, r.value, str(r.status), r.channel, r.subscriber_id, r.message_id)
                for r in rows
            ]

    def meters(self) -> int:
        with db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(Meter)) or 0)


# --- what the actions see of time and settings -------------------------------------------------


class Clock:
    """The moment the actions see; a test moves it by setting ``moment``."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment


class Configure:
    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack

    def __call__(self, **changes: Any) -> Settings:
        return self._stack.enter_context(settings.use(replace(settings.current(), **changes)))
