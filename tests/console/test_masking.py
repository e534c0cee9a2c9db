"""Personal data hidden in the console: free text, the bot's answers by domain.yml, slots, senders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actions import texts
from actions.console.masking import (
    FREE,
    HIDDEN,
    LINES,
    PERSONAL,
    BotMasker,
    mask_payload,
    mask_slot,
    mask_text,
    pseudonym,
)

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Гаряча вода · №222222 · о/р 48213"
ADDRESS = "вул. Ш*******, 1*, кв. *"  # as actions.register.account.mask_address leaves it


@pytest.fixture(scope="module")
def masker() -> BotMasker:
    return BotMasker(ROOT / "domain.yml")


def said(response: str, **values: object) -> str:
    """A bot text as the actions fill it (actions.dialogue.conversation.text)."""
    template: str = texts.response(response)["text"]
    return template.format(**values) if values else template


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("о/р 48213", "о/р •••••"),
        ("48213", "•••••"),
        ("12 345", "•• •••"),
        ("лічильник 0712554", "лічильник •••••••"),
        ("зав. № 77-1234", "зав. № ••-••••"),
        ("067 123 45 67", "••• ••• •• ••"),
        ("+38 (067) 123-45-67", "+•• (•••) •••-••-••"),
        ("+380671234567", "+••••••••••••"),
        ("0800-50-50-51", "••••-••-••-••"),
        ("(0 800) 407-707", "(• •••) •••-•••"),
        ("067.123.45.67", "•••.•••.••.••"),
        ("тел: 0671234567", "тел: •••"),
        ("лічильник AB123 і N5001", "лічильник AB••• і N••••"),
        ("128", "128"),
        ("128,50", "128,50"),
        ("показання 128,50 та 256.3", "показання 128,50 та 256.3"),
        ("1 250,00 грн", "1 250,00 грн"),
        ("1234,56", "••••,56"),
        ("25.01", "25.01"),
        ("25.01.2026", "••.••.••••"),
        ("за листопад 2026", "за листопад 2026"),
        ("о 10:30, кв. 5, буд. 12", "о 10:30, кв. 5, буд. 12"),
        ("пишіть на ivan.petrenko+otke@ukr.net!", "пишіть на •••!"),
        ("живу на вул. Героїв Чорнобиля, 12", "живу на вул. •••, 12"),
        ("Моя адреса: м. Чернігів, пр. Миру 5.\nдякую", "Моя адреса: •••.\nдякую"),
        ("ПІБ: Петренко Іван Іванович", "ПІБ: •••"),
        ("IBAN UA21 3223 1300 0002 6007", "IBAN UA•• •••• •••• •••• ••••"),
        ("１２３４５", "•••••"),
        ("12\u200b345", "••\u200b•••"),
        (
            '<b onclick="x()">48213</b> &amp; $1 (.*)+ [a-z]{4}',
            '<b onclick="x()">•••••</b> &amp; $1 (.*)+ [a-z]{4}',
        ),
        ("", ""),
    ],
)
def test_free_text_keeps_its_shape_without_identifying_numbers(typed: str, shown: str) -> None:
    assert mask_text(typed) == shown


@pytest.mark.parametrize(
    "hostile",
    [
        "1" * 100_000,
        "1 " * 50_000,
        "1." * 50_000,
        "1, " * 33_000,
        "a@" * 50_000,
        "a." * 50_000 + "@",
        "адрес" * 20_000,
        "вул. " + "Ш" * 100_000,
        "вул. а" * 16_000,
        "AB1" * 33_000,
        "(" * 100_000,
    ],
)
def test_huge_hostile_text_is_masked_whole(hostile: str) -> None:
    masked = mask_text(hostile)
    assert not re.search(r"\d{4}", masked)
    assert len(masked) <= len(hostile)


def test_huge_text_of_periods_and_accounts() -> None:
    assert mask_text("листопад 2026, о/р 48213. " * 4_000) == "листопад 2026, о/р •••••. " * 4_000


# --- the bot's answers --------------------------------------------------------------------


def test_a_found_meter_hides_the_meter_account_and_address(masker: BotMasker) -> None:
    text = said(
        "utter_meter_found",
        kind="гарячої води",
        meter_number="222222",
        account_number="48213",
        address=ADDRESS,
    )
    expected = "Знайдено: лічильник гарячої води № •••, особовий рахунок •••, адреса: •••."
    assert masker.mask(text, "utter_meter_found") == expected
    # the actions utter filled texts without naming the response
    assert masker.mask(text) == expected


@pytest.mark.parametrize(
    ("response", "values", "shown"),
    [
        ("utter_account_unknown", {"account_number": "48213"}, "Особовий рахунок ••• не знайдено."),
        (
            "utter_meter_not_on_account",
            {"account_number": "48213", "meter_number": "AB12"},
            "За особовим рахунком ••• немає приладу обліку № •••.",
        ),
        ("utter_account_wrong_length", {"digits": 4}, "а у введеному їх 4."),
        ("utter_ask_removal_confirmed", {"title": TITLE}, "Видалити лічильник ••• з Ваших?"),
        ("utter_reading_accepted", {"value": "128.50"}, "Прийнято 128.50 до обробки. Дякуємо"),
        (
            "utter_reading_replaced",
            {"period": "листопад 2026", "previous_value": "120.00"},
            "за листопад 2026 (120.00).",
        ),
        (
            "utter_reading_not_a_number",
            {"text": "о/р 48213, тел 0671234567"},
            "«о/р •••••, тел ••••••••••» не схоже",
        ),
        ("utter_reading_kept_choose_meter", {"value": "048213"}, "Показання •••••• запам’ятав."),
        ("utter_reading_reminder", {"meters": f"{TITLE}; Тепло · №AB123 · о/р 48213"}, "лічильників (•••)."),
        ("utter_history_empty", {"title": TITLE}, "•••\nПоказань ще немає."),
    ],
)
def test_placeholders_are_hidden_by_what_they_hold(
    masker: BotMasker, response: str, values: dict[str, object], shown: str
) -> None:
    masked = masker.mask(said(response, **values))
    assert shown in masked
    assert "48213" not in masked and "222222" not in masked


def test_my_meters_hide_each_line(masker: BotMasker) -> None:
    lines = "\n".join(
        said("utter_my_meter_line", title=t, address=ADDRESS) for t in (TITLE, "Тепло · №AB123 · о/р 48213")
    )
    assert masker.mask(said("utter_my_meters", lines=lines)) == "Ваші лічильники:\n•••, •••\n•••, •••"


def test_reading_lines_stay_readable(masker: BotMasker) -> None:
    lines = "\n".join(
        [
            said(
                "utter_previous_reading_line_with_use",
                period="листопад 2026",
                value="128.50",
                consumption="8.50",
            ),
            said("utter_previous_reading_line", period="жовтень 2026", value="120.00"),
        ]
    )
    text = said("utter_previous_readings", lines=lines)
    assert masker.mask(text) == text
    # the history's header is the meter's title, hidden by the free-text rules
    history = said("utter_history_header", title="Тепло · №AB123 · о/р 48213", lines=lines)
    assert masker.mask(history).startswith(
        "Тепло · №AB••• · о/р •••••\nлистопад 2026: 128.50 (спожито 8.50)\n"
    )


def test_the_domains_own_words_stay(masker: BotMasker) -> None:
    contacts = said("utter_contacts")
    assert masker.mask(contacts, "utter_contacts") == contacts
    assert masker.mask(contacts) == contacts
    assert "(0 800) 407-707" in masker.mask(said("utter_out_of_scope"))


def test_a_text_no_template_matches_is_masked_as_free_text(masker: BotMasker) -> None:
    text = "Старий текст: лічильник 222222, адреса: вул. Шевченка, 12. Дякуємо!"
    assert masker.mask(text, "utter_meter_found") == "Старий текст: лічильник ••••••, адреса: •••"
    assert masker.mask("Лічильник 222222 знайдено", "utter_no_such_response") == "Лічильник •••••• знайдено"


def test_placeholder_values_with_regex_and_html_are_data(masker: BotMasker) -> None:
    value = "<script>alert('(.*)+$')</script>{value}\\1 ${x} 12345"
    masked = masker.mask(said("utter_reading_not_a_number", text=value))
    assert "<script>alert('(.*)+$')</script>{value}\\1 ${x} •••••" in masked


def test_huge_bot_texts_fail_fast_and_hide_the_digits(masker: BotMasker) -> None:
    found = "Знайдено: лічильник "
    hostile = [
        found + "тепла № 1, особовий рахунок " * 4_000,
        found + "№ " * 50_000 + ", особовий рахунок 12345",
        found + "x № 1, особовий рахунок 2, адреса: " * 3_000,
        "Ваші лічильники:\n" + f"{TITLE}, {ADDRESS}\n" * 2_000,
        "Попередні показання:\n" + ": " * 50_000,
        "(" * 50_000 + "12345" + ")" * 50_000,
    ]
    for text in hostile:
        for utter_action in (None, "utter_meter_found", "utter_my_meters"):
            masked = masker.mask(text, utter_action)
            assert "12345" not in masked and "222222" not in masked


def test_every_placeholder_of_the_domain_is_classified() -> None:
    """A new placeholder is hidden whole until it is added to FREE, if it holds nothing personal."""
    used = {
        name
        for variants in texts.responses().values()
        for variant in variants
        for name in re.findall(r"{([a-z_]+)}", variant["text"])
    }
    assert used - PERSONAL - FREE - {LINES} == set()


# --- buttons and events -------------------------------------------------------------------


def test_buttons_hide_meter_numbers_and_keep_ids(masker: BotMasker) -> None:
    buttons = [
        {"title": TITLE, "payload": '/submit_reading{"meter_id":"7"}'},
        {
            "title": said("utter_remove_meter_button", meter_number="AB123"),
            "payload": '/remove_meter{"meter_id": "12345"}',
        },
        {"title": "Передати показання", "payload": "/submit_reading"},
        {"title": "x", "payload": '/inform_number{"account_number":"48213","meter_id":"7"}'},
        {"title": "Сайт", "type": "web_url", "url": "https://otke.example/?account=48213"},
    ]
    assert masker.mask_buttons(buttons) == [
        {"title": "Гаряча вода · №•••••• · о/р •••••", "payload": '/submit_reading{"meter_id":"7"}'},
        {"title": "Видалити №•••", "payload": '/remove_meter{"meter_id": "12345"}'},
        {"title": "Передати показання", "payload": "/submit_reading"},
        {"title": "x", "payload": '/inform_number{"account_number":"•••••","meter_id":"7"}'},
        {"title": "Сайт", "type": "web_url", "url": "https://otke.example/?account=•••••"},
    ]


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        ("/greet", "/greet"),
        ('/submit_reading@0.9{"meter_id":"7"}', '/submit_reading@0.9{"meter_id":"7"}'),
        ('/x{"meter_id":"48213; drop"}', '/x{"meter_id":"•••••; drop"}'),
        ("/x{not json 48213}", "/x{not json •••••}"),
        ("48213", "•••••"),
    ],
)
def test_payloads(payload: str, shown: str) -> None:
    assert mask_payload(payload) == shown


def test_a_bot_event_is_masked_whole(masker: BotMasker) -> None:
    event = {
        "event": "bot",
        "timestamp": 1.0,
        "text": said("utter_account_unknown", account_number="48213"),
        "data": {
            "buttons": [{"title": TITLE, "payload": '/submit_reading{"meter_id":"7"}'}],
            "custom": {"phone": "0671234567"},
            "image": None,
        },
        "metadata": {"utter_action": "utter_account_unknown", "note": "о/р 48213"},
    }
    masked = masker.mask_bot_event(event)
    assert "48213" not in str(masked) and "0671234567" not in str(masked) and "222222" not in str(masked)
    assert masked["metadata"]["utter_action"] == "utter_account_unknown"
    assert masked["data"]["buttons"][0]["payload"] == '/submit_reading{"meter_id":"7"}'
    assert masked["data"]["image"] is None
    assert event["text"].startswith("Особовий рахунок 48213")  # the original is left alone


# --- slots and senders --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("account_number", "48213", HIDDEN),
        ("meter_number", "AB1", HIDDEN),
        ("account_number", None, "null"),
        ("requested_slot", "account_number", "account_number"),
        ("requested_slot", "о/р 48213", "о/р •••••"),
        ("registration_blocked", True, "true"),
        ("reading_start", "window_closed", "window_closed"),
        ("reading_start", "про 48213", "про •••••"),
        ("meter_kind", "hot_water", "hot_water"),
        ("registration_failures", 2.0, "2.0"),
        ("reading_value", "128.50", "128.50"),
        ("meter_to_remove", "лічильник 222222", "лічильник ••••••"),
        ("meter_id", "7", "7"),
        ("unknown", {"phone": "0671234567"}, '{"phone": "••••••••••"}'),
        ("unknown", 48213, "•••••"),
    ],
)
def test_slots(masker: BotMasker, name: str, value: object, shown: str) -> None:
    assert masker.mask_slot(name, value) == shown


def test_categorical_values_come_from_the_domain(masker: BotMasker) -> None:
    assert masker.categorical["reading_start"] == {
        "ask",
        "no_meters",
        "window_closed",
        "done",
        "not_a_number",
    }
    assert mask_slot("reading_start", "ask") == "ask"  # plain words need no list


def test_a_pseudonym_is_stable_short_and_keyed() -> None:
    sender = "kX9d+Viber/id=="
    label = pseudonym(sender, "secret")
    assert label == pseudonym(sender, b"secret")
    assert re.fullmatch(r"абонент [0-9a-f]{8}", label)
    assert pseudonym(sender, "other secret") != label
    assert pseudonym(sender + "x", "secret") != label
    assert sender not in label
    with pytest.raises(ValueError, match="secret"):
        pseudonym(sender, "")


def test_the_channels_profile_slot_is_hidden() -> None:
    """Rasa keeps the Viber name and profile in session_started_metadata at each session start."""
    profile = {"name": "Олена Петренко", "avatar": "https://media.example/a.jpg", "language": "uk"}
    assert mask_slot("session_started_metadata", profile) == HIDDEN
