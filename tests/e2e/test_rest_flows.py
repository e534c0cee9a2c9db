"""The two flows of the seed page through the REST channel, with the real Rasa server, the real
action server and PostgreSQL; the register is then exported with the operator's command.

Every test here runs twice: against the session's servers, and against a Rasa server started with
OTKE_RASA_PATCHES=off (Rasa 3.6.21 as shipped, on its own action server and register). The two
must decide the same: the same assertions hold, and one scripted conversation gets the same replies.
"""

from __future__ import annotations

import csv
import io
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from actions.register import clock
from actions.register.models import Meter, Reading, ReadingStatus, Subscriber
from actions.register.period import period_of
from tests.support.fake_viber import FakeViber
from tests.support.paths import ROOT
from tests.support.servers import Servers, WebchatPage, running_servers, server_env


@pytest.fixture(scope="module")
def unpatched(
    model_path: Path,
    fake_viber: FakeViber,
    webchat_page: WebchatPage,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Servers]:
    """The same model on a Rasa server with every patch of Rasa internals off, with its own action
    server and demo register."""
    with running_servers(
        model_path,
        fake_viber,
        webchat_page,
        tmp_path_factory.mktemp("unpatched"),
        name="unpatched",
        OTKE_RASA_PATCHES="off",
    ) as started:
        yield started


@pytest.fixture(scope="module", params=["patched", "unpatched"])
def assistant(request: pytest.FixtureRequest, servers: Servers) -> Servers:
    if request.param == "patched":
        return servers
    unpatched_servers: Servers = request.getfixturevalue("unpatched")
    return unpatched_servers


def texts(messages: list[dict[str, object]]) -> list[str]:
    return [str(message.get("text", "")) for message in messages]


def buttons(messages: list[dict[str, object]]) -> dict[str, str]:
    return {b["title"]: b["payload"] for m in messages for b in m.get("buttons", [])}  # type: ignore[attr-defined]


def register(servers: Servers, sender: str, account: str, meter: str) -> list[str]:
    servers.say(sender, "Додати лічильник")
    servers.say(sender, account)
    return texts(servers.say(sender, meter))


def test_register_two_meters_send_resubmit_history_and_export(assistant: Servers) -> None:
    sender = f"flow-{uuid.uuid4().hex[:8]}"
    period = period_of(clock.now())

    first = register(assistant, sender, "№ 12345", "222222")
    assert first[0].startswith(
        "Знайдено: лічильник гарячої води № 222222, особовий рахунок 12345, адреса: м. Чернігів"
    )
    assert "Шевченка" not in first[0]  # the address is masked
    assert first[1] == "Тепер Ви зареєстровані!"
    second = register(assistant, sender, "34567", "444444")
    assert second[1] == "Тепер Ви зареєстровані!"

    # two meters: the subscriber chooses one from the buttons
    choice = assistant.say(sender, "Передати показання")
    choose = buttons(choice)
    assert list(choose) == ["Гаряча вода · №222222 · о/р 12345", "Тепло · №444444 · о/р 34567"]
    shown = texts(assistant.say(sender, choose["Гаряча вода · №222222 · о/р 12345"]))
    assert shown[0] == "Особовий рахунок 12345, лічильник гарячої води № 222222."
    assert shown[1].startswith("Попередні показання:\n")
    assert "127.15 (спожито 3.35)" in shown[1]
    assert "в форматі ХХХ.ХХ" in shown[-1]

    refused = texts(assistant.say(sender, "12з.45"))
    assert refused[0].startswith("«12з.45» не схоже на показання")
    assert texts(assistant.say(sender, "130,45"))[0] == "Прийнято 130.45 до обробки. Дякуємо"

    # resubmission in the same period replaces the first
    assistant.say(sender, "Передати показання")
    assistant.say(sender, choose["Гаряча вода · №222222 · о/р 12345"])
    replaced = texts(assistant.say(sender, "131"))
    assert replaced[0] == "Прийнято 131.00 до обробки. Дякуємо"
    assert replaced[1].startswith("Це показання замінило передане раніше за ")
    assert replaced[1].endswith("(130.45).")

    # the heat meter rolled over (991.75 -> 3.60 earlier): a small increase needs no confirmation
    assistant.say(sender, "Передати показання")
    assistant.say(sender, choose["Тепло · №444444 · о/р 34567"])
    assert texts(assistant.say(sender, "5.10"))[0] == "Прийнято 5.10 до обробки. Дякуємо"

    history = "\n".join(texts(assistant.say(sender, "Історія показань")))
    assert "131.00 (спожито 3.85)" in history
    assert "5.10 (спожито 1.50)" in history

    with assistant.engine.connect() as connection:
        rows = connection.execute(
            select(Meter.number, Reading.value, Reading.status, Reading.channel)
            .join(Reading.meter)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Reading.period == period, Reading.channel == "rest", Subscriber.channel_user_id == sender)
            .order_by(Reading.id)
        ).all()
    assert [(n, str(v), s) for n, v, s, _ in rows] == [
        ("222222", "130.45", ReadingStatus.SUPERSEDED),
        ("222222", "131.00", ReadingStatus.ACCEPTED),
        ("444444", "5.10", ReadingStatus.ACCEPTED),
    ]

    exported = subprocess.run(
        [str(ROOT / ".venv/bin/otke"), "export-readings", "--period", period],
        env=server_env(assistant.database_url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ours = [row for row in csv.DictReader(io.StringIO(exported)) if row["channel"] == "rest"]
    figures = {(r["meter_number"], r["reading"], r["previous_reading"], r["consumption"]) for r in ours}
    assert ("222222", "131.00", "127.15", "3.85") in figures
    assert ("444444", "5.10", "3.60", "1.50") in figures
    assert not any(r["reading"] == "130.45" for r in ours)


def test_a_forged_button_cannot_reach_someone_elses_meter(assistant: Servers) -> None:
    owner, stranger = f"owner-{uuid.uuid4().hex[:6]}", f"stranger-{uuid.uuid4().hex[:6]}"
    register(assistant, owner, "23456", "333333")
    with assistant.engine.connect() as connection:
        meter_id = connection.scalar(select(Meter.id).where(Meter.number == "333333"))
    register(assistant, stranger, "12345", "111111")

    reply = texts(assistant.say(stranger, f'/submit_reading{{"meter_id": "{meter_id}"}}'))
    assert all("333333" not in line and "23456" not in line for line in reply)
    reply = texts(assistant.say(stranger, f'/remove_meter{{"meter_id": "{meter_id}"}}'))
    assert all("333333" not in line for line in reply)


def test_registration_refusals_and_cancel(assistant: Servers) -> None:
    sender = f"refusals-{uuid.uuid4().hex[:8]}"
    assistant.say(sender, "Додати лічильник")
    assert texts(assistant.say(sender, "1234"))[0] == (
        "Номер особового рахунку має містити 5 цифр, а у введеному їх 4. "
        "Перевірте квитанцію та введіть його ще раз."
    )
    assert texts(assistant.say(sender, "12345"))[0].startswith("Зазначте номер вашого приладу обліку")
    wrong = texts(assistant.say(sender, "999999"))
    assert wrong[0].startswith("За особовим рахунком 12345 немає приладу обліку № 999999.")
    contacts = texts(assistant.say(sender, "а де ви знаходитесь?"))
    assert "вул. Реміснича, 55-б" in contacts[0]
    assert contacts[-1].startswith("Зазначте номер вашого приладу обліку")  # the form resumed
    assert texts(assistant.say(sender, "скасувати"))[0].startswith("Гаразд, скасовано.")
    assert texts(assistant.say(sender, "Передати показання"))[0].startswith(
        "У Вас ще немає зареєстрованих лічильників."
    )


def test_what_real_subscribers_type_in_one_go(assistant: Servers) -> None:
    sender = f"oneshot-{uuid.uuid4().hex[:8]}"
    assistant.say(sender, "Додати лічильник")
    assistant.say(sender, "мій особовий рахунок 23456")
    assert "Тепер Ви зареєстровані!" in texts(assistant.say(sender, "номер лічильника 333333"))
    answer = texts(assistant.say(sender, "Доброго дня, хочу передати показання гарячої води 45,2 куб"))
    assert answer[0] == "Прийнято 45.20 до обробки. Дякуємо", answer


# One conversation, every kind of turn: menu buttons, a form with a refusal, a question and a
# cancel in the middle, registration, a reading with words around it, a large value confirmed,
# history, removal, something out of scope.
SCRIPT = [
    "Привіт",
    "Додати лічильник",
    "1234",
    "56789",
    "а де ви знаходитесь?",
    "888888",
    "Передати показання",
    "12з.45",
    "105,5",
    "Передати показання",
    "190",
    "так",
    "Історія показань",
    "Мої лічильники",
    "Додати лічильник",
    "скасувати",
    "яка погода завтра?",
    "Видалити лічильник",
    "так",
    "Передати показання",
]


def transcript(servers: Servers, sender: str) -> list[tuple[str, list[str], list[str]]]:
    """Each line of SCRIPT with the texts and button titles it got."""
    replies = []
    for line in SCRIPT:
        answer = servers.say(sender, line)
        replies.append((line, texts(answer), sorted(buttons(answer))))
    return replies


def test_the_patched_and_the_unpatched_server_answer_the_same(servers: Servers, unpatched: Servers) -> None:
    for stack in (servers, unpatched):
        stack.add_meter("56789", "м. Чернігів, вул. Миру, 9, кв. 4", "888888", "hot_water", "100.00")
    sender = f"same-{uuid.uuid4().hex[:8]}"
    patched_replies = transcript(servers, sender)
    assert patched_replies[5][1][-2] == "Тепер Ви зареєстровані!", patched_replies[5]
    assert "Прийнято 105.50 до обробки. Дякуємо" in patched_replies[8][1], patched_replies[8]
    assert transcript(unpatched, sender) == patched_replies
