"""Hostile numbers typed into Viber: the real servers refuse each with its reason, the refusal
reaches the fake Viber API, and the register changes only for what the policy accepts
(full-width digits, folded to ASCII)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from actions.register.models import Meter, Reading, Subscriber, subscriber_meters
from actions.texts import response
from tests.support.servers import Servers
from tests.support.viber import say, texts, viber_user


def refusal(name: str, **values: str) -> str:
    text: str = response(name)["text"]
    return text.format(**values)


def counts(servers: Servers) -> tuple[int, int]:
    with servers.engine.connect() as connection:
        readings = connection.scalar(select(func.count()).select_from(Reading))
        registrations = connection.scalar(select(func.count()).select_from(subscriber_meters))
    return int(readings or 0), int(registrations or 0)


def answer(servers: Servers, user: dict[str, Any], typed: str) -> list[str]:
    return texts(say(servers, user, typed))


ASK_READING = "в форматі ХХХ.ХХ"


def test_hostile_numbers_through_viber(servers: Servers) -> None:
    user = viber_user()
    assert answer(servers, user, "Додати лічильник")[-1].startswith("Наберіть п’ятизначний номер")
    before = counts(servers)

    # Registration: digits of another script are refused, full-width ones are read as ASCII.
    assert answer(servers, user, "١٢٣٤٥")[0] == refusal("utter_account_not_digits")
    assert answer(servers, user, "１２３4")[0] == refusal("utter_account_wrong_length", digits="4")
    assert answer(servers, user, "２３４５６")[-1].startswith("Зазначте номер вашого приладу обліку")
    assert answer(servers, user, "٣٣٣٣٣٣")[0] == refusal("utter_meter_number_invalid")
    assert counts(servers) == before
    assert "Тепер Ви зареєстровані!" in answer(servers, user, "３３３３３３")
    registered = (before[0], before[1] + 1)
    assert counts(servers) == registered

    assert ASK_READING in answer(servers, user, "Передати показання")[-1]
    hostile = {
        "1e3": refusal("utter_reading_not_a_number", text="1e3"),
        "NaN": refusal("utter_reading_not_a_number", text="NaN"),
        "١٢٣٫٤٥": refusal("utter_reading_not_a_number", text="١٢٣٫٤٥"),
        "4٥.50": refusal("utter_reading_not_a_number", text="4٥.50"),
        "45.505": refusal("utter_reading_too_many_decimals"),
        "-0": refusal("utter_reading_negative"),
        "{0.__class__}": refusal("utter_reading_not_a_number", text="{0.__class__}"),
        "'; DROP TABLE readings;--": refusal("utter_reading_not_a_number", text="'; DROP TABLE readings;--"),
        "\u202e05.54\u202c": refusal("utter_reading_not_a_number", text="\u202e05.54\u202c"),
    }
    for typed, expected in hostile.items():
        replies = answer(servers, user, typed)
        assert replies[0] == expected, typed
        assert ASK_READING in replies[-1], typed  # and the form asks again
        assert counts(servers) == registered, typed

    assert answer(servers, user, "４５．５０")[0] == "Прийнято 45.50 до обробки. Дякуємо"
    with servers.engine.connect() as connection:
        saved = connection.scalars(
            select(Reading.value)
            .join(Reading.meter)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Meter.number == "333333", Subscriber.channel_user_id == user["id"])
        ).all()
    assert [str(value) for value in saved] == ["45.50"]
