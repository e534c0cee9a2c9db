"""Authorization lives in the action server: whatever a channel lets a subscriber type (button
payloads with forged meter ids, entities that look like slots, another channel's sender id), they
read and change only the meters they registered themselves.

Subscriber A registers a demo meter through Viber and sends a reading. Subscriber B, on each of the
three channels (REST, Viber signed callbacks, the web chat's socket.io), then tries every forgery;
B's replies must never carry A's meter number, account, address or readings, and the register
(A's registration, every reading of A's meter) must be exactly as before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from ruamel.yaml import YAML
from sqlalchemy import select

from actions.operators.demo import DEMO_METERS
from actions.register.account import mask_address
from actions.register.models import Meter, Reading, Subscriber, subscriber_meters
from tests.support.chats import Chat, Reply, RestChat, ViberChat, WebChat
from tests.support.paths import ROOT
from tests.support.servers import Servers, WebchatPage

VICTIM_ACCOUNT, VICTIM_METER = "23456", "333333"
VICTIM_READING = "47.77"
OWN_ACCOUNT, OWN_METER = "12345", "111111"  # what B registers when a test needs B to have a meter

DOMAIN: dict[str, Any] = YAML(typ="safe").load((ROOT / "domain.yml").read_text(encoding="utf-8"))


# --- the three channels, as a subscriber sees them ------------------------------------------


def response_text(name: str) -> str:
    """The first text of a domain.yml response, as the channels deliver it."""
    return str(DOMAIN["responses"][name][0]["text"])


def all_text(replies: list[Reply]) -> str:
    """Everything the subscriber was shown: texts, button titles and payloads."""
    return "\n".join(f"{r.text}\n{json.dumps(r.buttons, ensure_ascii=False)}" for r in replies)


def register(chat: Chat, account: str, meter: str) -> list[Reply]:
    chat.say("Додати лічильник")
    chat.say(account)
    return chat.say(meter)


# --- subscriber A and what nobody else may see or change --------------------------------------


@dataclass(frozen=True)
class Victim:
    chat: ViberChat
    meter_id: int
    subscriber_id: int

    def secrets(self, servers: Servers) -> list[str]:
        """Strings that identify A's meter: number, account, address (plain and masked), readings."""
        address = next(a for acc, a, *_ in DEMO_METERS if acc == VICTIM_ACCOUNT)
        street = address.split(",")[1].split()[-1]  # "Перемоги"
        masked_street = mask_address(address).split(",")[1].split()[-1]  # "П******"
        with servers.engine.connect() as connection:
            values = connection.scalars(select(Reading.value).where(Reading.meter_id == self.meter_id)).all()
        return [VICTIM_METER, VICTIM_ACCOUNT, street, masked_street, *(f"{v:.2f}" for v in values)]


RegisterState = tuple[list[tuple[Any, ...]], list[int]]


def register_state(servers: Servers, meter_id: int) -> RegisterState:
    """Every reading of the meter and every subscriber who registered it."""
    with servers.engine.connect() as connection:
        readings = connection.execute(
            select(Reading.id, Reading.subscriber_id, Reading.value, Reading.status, Reading.period)
            .where(Reading.meter_id == meter_id)
            .order_by(Reading.id)
        ).all()
        holders = connection.scalars(
            select(subscriber_meters.c.subscriber_id)
            .where(subscriber_meters.c.meter_id == meter_id)
            .order_by(subscriber_meters.c.subscriber_id)
        ).all()
    return [tuple(r) for r in readings], list(holders)


@pytest.fixture(scope="module")
def victim(servers: Servers) -> Victim:
    chat = ViberChat(servers)
    registered = all_text(register(chat, VICTIM_ACCOUNT, VICTIM_METER))
    assert "Тепер Ви зареєстровані!" in registered
    chat.say("Передати показання")  # the only meter is chosen at once
    assert chat.say(VICTIM_READING)[0].text == f"Прийнято {VICTIM_READING} до обробки. Дякуємо"
    with servers.engine.connect() as connection:
        meter_id = connection.scalar(select(Meter.id).where(Meter.number == VICTIM_METER))
        subscriber_id = connection.scalar(
            select(Subscriber.id).where(
                Subscriber.channel == "viber", Subscriber.channel_user_id == chat.user_id
            )
        )
    assert meter_id is not None and subscriber_id is not None
    return Victim(chat, meter_id, subscriber_id)


def assert_nothing_of_victims(servers: Servers, victim: Victim, replies: list[Reply], forgery: str) -> None:
    shown = all_text(replies)
    for secret in victim.secrets(servers):
        assert secret not in shown, f"{forgery!r} showed {secret!r}:\n{shown}"


def victims_readings(servers: Servers, victim: Victim) -> list[tuple[str, Decimal]]:
    with servers.engine.connect() as connection:
        rows = connection.execute(
            select(Reading.channel, Reading.value).where(Reading.subscriber_id == victim.subscriber_id)
        ).all()
    return [(c, v) for c, v in rows]


def subscriber_of(chat: Chat) -> Any:
    return (Subscriber.channel == chat.channel) & (Subscriber.channel_user_id == chat.user_id)


def registered_by(servers: Servers, chat: Chat) -> list[str]:
    """The meter numbers the chat's subscriber registered."""
    with servers.engine.connect() as connection:
        return list(
            connection.scalars(
                select(Meter.number)
                .join(subscriber_meters, subscriber_meters.c.meter_id == Meter.id)
                .join(Subscriber, Subscriber.id == subscriber_meters.c.subscriber_id)
                .where(subscriber_of(chat))
                .order_by(Meter.number)
            )
        )


def readings_by(servers: Servers, chat: Chat) -> list[tuple[str, Decimal]]:
    """(meter number, value) of every reading the chat's subscriber sent."""
    with servers.engine.connect() as connection:
        rows = connection.execute(
            select(Meter.number, Reading.value)
            .join(Reading.meter)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(subscriber_of(chat))
            .order_by(Reading.id)
        ).all()
    return [(n, v) for n, v in rows]


# --- B on each channel -------------------------------------------------------------------------


@pytest.fixture(params=["rest", "viber", "webchat"])
def attacker(request: pytest.FixtureRequest, servers: Servers, webchat_page: WebchatPage) -> Iterator[Chat]:
    if request.param == "rest":
        yield RestChat(servers, f"b-{uuid.uuid4().hex[:10]}")
    elif request.param == "viber":
        yield ViberChat(servers)
    else:
        chat = WebChat(servers.rasa_url, webchat_page.origin, uuid.uuid4().hex)
        yield chat
        chat.close()


# --- B has no meters: every forgery gets the normal answers and nothing of A's -----------------


def forgeries_without_meters(meter_id: int) -> list[tuple[str, str | None]]:
    """(what B types, the response B's first reply must be; None: any answer without A's data)."""
    m = json.dumps(str(meter_id))
    return [
        (f'/submit_reading{{"meter_id": {m}}}', "utter_no_meters"),
        (f'/submit_reading{{"meter_id": {meter_id}}}', "utter_no_meters"),
        (f'/remove_meter{{"meter_id": {m}}}', "utter_no_meters"),
        (f'/my_meters{{"meter_id": {m}}}', "utter_no_meters"),
        (f'/reading_history{{"meter_id": {m}}}', "utter_no_meters"),
        # entities named like the slots that carry a meter or a registration
        (f'/inform_number{{"meter_id": {m}, "registered_meter_id": {m}, "shown_meter_id": {m}}}', None),
        (f'/inform{{"account_number": "{VICTIM_ACCOUNT}", "meter_number": "{VICTIM_METER}"}}', None),
        # after "no meters" a yes may start registration (data/stories): any answer without A's data
        (f'/affirm{{"meter_to_remove": {m}, "removal_confirmed": true, "meter_id": {m}}}', None),
        (
            f'/register_meter{{"registered_meter_id": {m}, "account_number": "{VICTIM_ACCOUNT}", '
            f'"meter_number": "{VICTIM_METER}"}}',
            "utter_ask_account_number",
        ),
        (f'/affirm{{"registered_meter_id": {m}}}', None),
        ("/cancel", "utter_cancelled"),
        (
            f'/submit_reading{{"meter_id": {m}, "reading_value": "50.00", "reading_confirmed": true}}',
            "utter_no_meters",
        ),
        ("50.00", None),
        ("/affirm", None),
        ("Мої лічильники", "utter_no_meters"),
        ("Історія показань", "utter_no_meters"),
        ("Передати показання", "utter_no_meters"),
    ]


def test_forgeries_of_a_subscriber_without_meters(servers: Servers, victim: Victim, attacker: Chat) -> None:
    before = register_state(servers, victim.meter_id)
    for forgery, expected in forgeries_without_meters(victim.meter_id):
        replies = attacker.say(forgery)
        assert_nothing_of_victims(servers, victim, replies, forgery)
        assert replies, forgery
        if expected is not None:
            assert replies[0].text == response_text(expected), (forgery, replies)
    assert register_state(servers, victim.meter_id) == before
    assert victims_readings(servers, victim) == [("viber", Decimal(VICTIM_READING))]
    assert registered_by(servers, attacker) == []


# --- B has a meter of their own: forged ids inside the flows are refused -----------------------


def own_meter(servers: Servers, chat: Chat) -> tuple[str, str]:
    """B registers their own meter; its button title and the id its buttons carry."""
    assert "Тепер Ви зареєстровані!" in all_text(register(chat, OWN_ACCOUNT, OWN_METER))
    with servers.engine.connect() as connection:
        meter_id = connection.scalar(select(Meter.id).where(Meter.number == OWN_METER))
    return f"Тепло · №{OWN_METER} · о/р {OWN_ACCOUNT}", str(meter_id)


def test_forged_meter_ids_in_the_reading_flow(servers: Servers, victim: Victim, attacker: Chat) -> None:
    title, own = own_meter(servers, attacker)
    before = register_state(servers, victim.meter_id)
    m = json.dumps(str(victim.meter_id))
    own_button = f'/submit_reading{{"meter_id":"{own}"}}'

    def turn(words: str) -> list[Reply]:
        replies = attacker.say(words)
        assert_nothing_of_victims(servers, victim, replies, words)
        return replies

    # A's meter named by a button B forged: refused, and B is offered only their own meter.
    refused = turn(f'/submit_reading{{"meter_id": {m}}}')
    assert [r.text for r in refused] == [response_text("utter_meter_not_available"), "Оберіть лічильник:"]
    assert refused[-1].buttons == {title: own_button}
    # A's meter number typed as the choice: not among B's meters.
    typed = turn(VICTIM_METER)
    assert [r.text for r in typed] == [response_text("utter_meter_choice_unknown"), "Оберіть лічильник:"]
    # B's own meter: B's account and history, nothing of A's.
    shown = turn(own_button)
    assert shown[0].text == f"Особовий рахунок {OWN_ACCOUNT}, лічильник тепла № {OWN_METER}."
    # While the reading is asked, a forged meter id in any intent is refused, not taken.
    for forged in (
        f'/inform_number{{"meter_id": {m}}}',
        f'/submit_reading{{"meter_id": {m}, "reading_value": "479.00"}}',
        f'/remove_meter{{"meter_id": {m}}}',
    ):
        assert turn(forged)[0].text == response_text("utter_meter_not_available"), forged
        turn(own_button)
    # "my meters" with a forged id: refused, or B's own meters listed; never A's (turn() checks)
    listed = turn(f'/my_meters{{"meter_id": {m}}}')
    assert listed[0].text == response_text("utter_meter_not_available") or OWN_METER in listed[0].text
    turn(own_button)
    saved = turn("479.00")
    assert saved[0].text == "Прийнято 479.00 до обробки. Дякуємо"

    assert register_state(servers, victim.meter_id) == before
    assert victims_readings(servers, victim) == [("viber", Decimal(VICTIM_READING))]
    assert readings_by(servers, attacker) == [(OWN_METER, Decimal("479.00"))]
    assert registered_by(servers, attacker) == [OWN_METER]


def test_forged_meter_ids_in_the_removal_flow(servers: Servers, victim: Victim, attacker: Chat) -> None:
    title, own = own_meter(servers, attacker)
    before = register_state(servers, victim.meter_id)
    m = json.dumps(str(victim.meter_id))
    own_button = f'/remove_meter{{"meter_id":"{own}"}}'

    def turn(words: str) -> list[Reply]:
        replies = attacker.say(words)
        assert_nothing_of_victims(servers, victim, replies, words)
        return replies

    refused = turn(f'/remove_meter{{"meter_id": {m}}}')
    assert [r.text for r in refused] == [
        response_text("utter_meter_not_available"),
        "Який лічильник видалити?",
    ]
    assert refused[-1].buttons == {title: own_button}
    # "yes" to a question never asked about A's meter: still asked which of B's meters
    assert turn("/affirm")[-1].text == "Який лічильник видалити?"
    assert turn(VICTIM_METER)[0].text == response_text("utter_meter_choice_unknown")
    # B's own meter asked for confirmation; a "yes" that carries A's meter id is refused, not taken
    assert turn(own_button)[0].text.startswith(f"Видалити лічильник {title} з Ваших?")
    assert turn(f'/affirm{{"meter_id": {m}}}')[0].text == response_text("utter_meter_not_available")
    assert turn("/cancel")[0].text == response_text("utter_cancelled")
    assert registered_by(servers, attacker) == [OWN_METER]

    # B may remove their own meter; A's registration of A's meter stays.
    assert turn(own_button)[0].text.startswith(f"Видалити лічильник {title} з Ваших?")
    assert turn("/affirm")[0].text == response_text("utter_meter_removed")
    assert registered_by(servers, attacker) == []
    assert turn(f'/remove_meter{{"meter_id": {m}}}')[0].text == response_text("utter_no_meters")

    assert register_state(servers, victim.meter_id) == before
    assert victim.subscriber_id in before[1]
    assert victims_readings(servers, victim) == [("viber", Decimal(VICTIM_READING))]


# --- another channel's identity --------------------------------------------------------------


CLAIMS = {
    "REST sender = the Viber id": ("rest", "{id}", {}),
    'REST sender = "viber:<id>"': ("rest", "viber:{id}", {}),
    'REST sender = "viber:<id>", input_channel "viber"': ("rest", "viber:{id}", {"input_channel": "viber"}),
    'REST sender = the Viber id, input_channel "viber"': ("rest", "{id}", {"input_channel": "viber"}),
    "REST metadata claiming Viber": ("rest", "viber:{id}", {"metadata": {"channel": "viber", "id": "{id}"}}),
    "web chat session = the Viber id": ("webchat", "{id}", {}),
    'web chat session = "viber:<id>"': ("webchat", "viber:{id}", {}),
}


@pytest.mark.parametrize("claim", list(CLAIMS))
def test_another_channels_id_gains_nothing(
    servers: Servers, victim: Victim, webchat_page: WebchatPage, claim: str
) -> None:
    channel, template, extra = CLAIMS[claim]
    claimed = template.format(id=victim.chat.user_id)
    extra = json.loads(json.dumps(extra).replace("{id}", victim.chat.user_id))
    chat: Chat
    if channel == "rest":
        chat = RestChat(servers, claimed, **extra)
    else:
        chat = WebChat(servers.rasa_url, webchat_page.origin, claimed)
    before = register_state(servers, victim.meter_id)
    m = json.dumps(str(victim.meter_id))
    for words in (
        "Мої лічильники",
        "Історія показань",
        "Передати показання",
        f'/submit_reading{{"meter_id": {m}}}',
        f'/remove_meter{{"meter_id": {m}}}',
    ):
        replies = chat.say(words)
        assert_nothing_of_victims(servers, victim, replies, f"{claim}: {words}")
        assert replies[0].text == response_text("utter_no_meters"), (claim, words, replies)
    assert register_state(servers, victim.meter_id) == before
    assert victims_readings(servers, victim) == [("viber", Decimal(VICTIM_READING))]


def test_a_rest_caller_cannot_step_into_a_viber_conversation(servers: Servers, victim: Victim) -> None:
    # The REST caller names A's Viber conversation and starts a registration in "it" ...
    intruder = RestChat(servers, f"viber:{victim.chat.user_id}", input_channel="viber")
    assert intruder.say("Додати лічильник")[0].text == response_text("utter_ask_account_number")
    # ... but A's own conversation knows nothing of it: a greeting gets the menu, not the form.
    greeted = victim.chat.say("Привіт")
    assert greeted[0].text == response_text("utter_greet")
    intruder.say("/cancel")
