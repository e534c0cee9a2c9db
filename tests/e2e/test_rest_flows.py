"""The two flows of the seed page through the REST channel, with the real Rasa server, the real
action server and PostgreSQL; the register is then exported with the operator's command."""

from __future__ import annotations

import csv
import io
import subprocess
import uuid

from sqlalchemy import select

from actions.register import clock
from actions.register.models import Meter, Reading, ReadingStatus, Subscriber
from actions.register.period import period_of
from tests.support.paths import ROOT
from tests.support.servers import Servers, server_env


def texts(messages: list[dict[str, object]]) -> list[str]:
    return [str(message.get("text", "")) for message in messages]


def buttons(messages: list[dict[str, object]]) -> dict[str, str]:
    return {b["title"]: b["payload"] for m in messages for b in m.get("buttons", [])}  # type: ignore[attr-defined]


def register(servers: Servers, sender: str, account: str, meter: str) -> list[str]:
    servers.say(sender, "Додати лічильник")
    servers.say(sender, account)
    return texts(servers.say(sender, meter))


def test_register_two_meters_send_resubmit_history_and_export(servers: Servers) -> None:
    sender = f"flow-{uuid.uuid4().hex[:8]}"
    period = period_of(clock.now())

    first = register(servers, sender, "№ 12345", "222222")
    assert first[0].startswith(
        "Знайдено: лічильник гарячої води № 222222, особовий рахунок 12345, адреса: м. Чернігів"
    )
    assert "Шевченка" not in first[0]  # the address is masked
    assert first[1] == "Тепер Ви зареєстровані!"
    second = register(servers, sender, "34567", "444444")
    assert second[1] == "Тепер Ви зареєстровані!"

    # two meters: the subscriber chooses one from the buttons
    choice = servers.say(sender, "Передати показання")
    choose = buttons(choice)
    assert list(choose) == ["Гаряча вода · №222222 · о/р 12345", "Тепло · №444444 · о/р 34567"]
    shown = texts(servers.say(sender, choose["Гаряча вода · №222222 · о/р 12345"]))
    assert shown[0] == "Особовий рахунок 12345, лічильник гарячої води № 222222."
    assert shown[1].startswith("Попередні показання:\n")
    assert "127.15 (спожито 3.35)" in shown[1]
    assert "в форматі ХХХ.ХХ" in shown[-1]

    refused = texts(servers.say(sender, "12з.45"))
    assert refused[0].startswith("«12з.45» не схоже на показання")
    assert texts(servers.say(sender, "130,45"))[0] == "Прийнято 130.45 до обробки. Дякуємо"

    # resubmission in the same period replaces the first
    servers.say(sender, "Передати показання")
    servers.say(sender, choose["Гаряча вода · №222222 · о/р 12345"])
    replaced = texts(servers.say(sender, "131"))
    assert replaced[0] == "Прийнято 131.00 до обробки. Дякуємо"
    assert replaced[1].startswith("Це показання замінило передане раніше за ")
    assert replaced[1].endswith("(130.45).")

    # the heat meter rolled over (991.75 -> 3.60 earlier): a small increase needs no confirmation
    servers.say(sender, "Передати показання")
    servers.say(sender, choose["Тепло · №444444 · о/р 34567"])
    assert texts(servers.say(sender, "5.10"))[0] == "Прийнято 5.10 до обробки. Дякуємо"

    history = "\n".join(texts(servers.say(sender, "Історія показань")))
    assert "131.00 (спожито 3.85)" in history
    assert "5.10 (спожито 1.50)" in history

    with servers.engine.connect() as connection:
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
        env=server_env(servers.database_url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ours = [row for row in csv.DictReader(io.StringIO(exported)) if row["channel"] == "rest"]
    figures = {(r["meter_number"], r["reading"], r["previous_reading"], r["consumption"]) for r in ours}
    assert ("222222", "131.00", "127.15", "3.85") in figures
    assert ("444444", "5.10", "3.60", "1.50") in figures
    assert not any(r["reading"] == "130.45" for r in ours)


def test_a_forged_button_cannot_reach_someone_elses_meter(servers: Servers) -> None:
    owner, stranger = f"owner-{uuid.uuid4().hex[:6]}", f"stranger-{uuid.uuid4().hex[:6]}"
    register(servers, owner, "23456", "333333")
    with servers.engine.connect() as connection:
        meter_id = connection.scalar(select(Meter.id).where(Meter.number == "333333"))
    register(servers, stranger, "12345", "111111")

    reply = texts(servers.say(stranger, f'/submit_reading{{"meter_id": "{meter_id}"}}'))
    assert all("333333" not in line and "23456" not in line for line in reply)
    reply = texts(servers.say(stranger, f'/remove_meter{{"meter_id": "{meter_id}"}}'))
    assert all("333333" not in line for line in reply)


def test_registration_refusals_and_cancel(servers: Servers) -> None:
    sender = f"refusals-{uuid.uuid4().hex[:8]}"
    servers.say(sender, "Додати лічильник")
    assert texts(servers.say(sender, "1234"))[0] == (
        "Номер особового рахунку має містити 5 цифр, а у введеному їх 4. "
        "Перевірте квитанцію та введіть його ще раз."
    )
    assert texts(servers.say(sender, "12345"))[0].startswith("Зазначте номер вашого приладу обліку")
    wrong = texts(servers.say(sender, "999999"))
    assert wrong[0].startswith("За особовим рахунком 12345 немає приладу обліку № 999999.")
    contacts = texts(servers.say(sender, "а де ви знаходитесь?"))
    assert "вул. Реміснича, 55-б" in contacts[0]
    assert contacts[-1].startswith("Зазначте номер вашого приладу обліку")  # the form resumed
    assert texts(servers.say(sender, "скасувати"))[0].startswith("Гаразд, скасовано.")
    assert texts(servers.say(sender, "Передати показання"))[0].startswith(
        "У Вас ще немає зареєстрованих лічильників."
    )


def test_what_real_subscribers_type_in_one_go(servers: Servers) -> None:
    sender = f"oneshot-{uuid.uuid4().hex[:8]}"
    servers.say(sender, "Додати лічильник")
    servers.say(sender, "мій особовий рахунок 23456")
    assert "Тепер Ви зареєстровані!" in texts(servers.say(sender, "номер лічильника 333333"))
    answer = texts(servers.say(sender, "Доброго дня, хочу передати показання гарячої води 45,2 куб"))
    assert answer[0] == "Прийнято 45.20 до обробки. Дякуємо", answer
