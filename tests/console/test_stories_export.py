"""A conversation saved as a test story: pseudonymised, valid YAML, and read back by Rasa's own reader."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

# A module, not its function: pytest would collect a `test_story` imported into this file.
from actions.console import stories

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
_clock = itertools.count(1_795_000_000)


def stamped(event: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": float(next(_clock)), **event}


def user(
    text: str, intent: str, *entities: tuple[str, str], value: dict[str, str] | None = None
) -> dict[str, Any]:
    """A message as Rasa logs it; ``entities`` are (entity, typed text) found in ``text``."""
    found = []
    for entity, typed in entities:
        start = text.index(typed)
        found.append(
            {
                "entity": entity,
                "start": start,
                "end": start + len(typed),
                "value": (value or {}).get(entity, typed),
                "extractor": "RegisterEntityExtractor",
            }
        )
    return stamped(
        {
            "event": "user",
            "text": text,
            "parse_data": {
                "intent": {"name": intent, "confidence": 0.93},
                "entities": found,
                "intent_ranking": [{"name": intent, "confidence": 0.93}],
                "text": text,
            },
            "input_channel": "viber",
            "message_id": f"m{next(_clock)}",
            "metadata": {},
        }
    )


def payload(text: str, intent: str, **entities: str) -> dict[str, Any]:
    event = user(text, intent)
    event["parse_data"]["entities"] = [{"entity": name, "value": value} for name, value in entities.items()]
    return event


def action(name: str) -> dict[str, Any]:
    return stamped({"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0})


def bot(text: str, response: str | None = None) -> dict[str, Any]:
    metadata = {"utter_action": response} if response else {}
    return stamped({"event": "bot", "text": text, "data": {"buttons": None}, "metadata": metadata})


def slot(name: str, value: Any) -> dict[str, Any]:
    return stamped({"event": "slot", "name": name, "value": value})


def loop(name: str | None) -> dict[str, Any]:
    return stamped({"event": "active_loop", "name": name})


def session_start() -> list[dict[str, Any]]:
    return [
        action("action_session_start"),
        stamped({"event": "session_started"}),
        slot("session_started_metadata", {"user": {"id": "viber-Aa1==", "name": "Іван Петренко"}}),
        action("action_listen"),
    ]


FALLBACK_TEXT = 'а що з опаленням?? дзвонив на 067 123 45 67, <b>ніхто</b> не бере: #1 - "жах"'

# Viber opens the chat, the subscriber registers a meter through the form, sends a reading
# from a button, writes something the NLU does not understand, and thanks; a core fallback
# in between was taken back by its rewind; a second session starts before the thanks.
CONVERSATION: list[dict[str, Any]] = [
    *session_start(),
    payload("/conversation_started", "conversation_started"),
    action("utter_welcome"),
    bot("Вітаємо в паблік-акаунті АТ «ОТКЕ»!", "utter_welcome"),
    action("action_listen"),
    user("Розпочати", "greet"),
    action("action_remember_subscriber"),
    action("utter_greet"),
    bot("Вітаємо!", "utter_greet"),
    action("action_listen"),
    user("Додати лічильник", "register_meter"),
    action("action_deactivate_loop"),
    loop(None),
    action("action_start_registration"),
    slot("registration_blocked", False),
    action("registration_form"),
    loop("registration_form"),
    slot("requested_slot", "account_number"),
    bot("Наберіть п’ятизначний номер вашого особового рахунку", "utter_ask_account_number"),
    action("action_listen"),
    user("мій о/р 48213", "inform_number", ("account_number", "48213")),
    action("registration_form"),
    slot("account_number", "48213"),
    slot("requested_slot", "meter_number"),
    action("action_listen"),
    user("лічильник № 0712-554", "inform_number", ("meter_number", "0712-554")),
    action("registration_form"),
    slot("meter_number", "0712554"),
    slot("registered_meter_id", "7"),
    slot("requested_slot", None),
    loop(None),
    action("action_register_meter"),
    bot("Знайдено: лічильник тепла № 0712554, особовий рахунок 48213, адреса: вул. Ш*******, 1*."),
    bot("Тепер Ви зареєстровані!", "utter_registered"),
    slot("registration_blocked", None),
    action("action_listen"),
    payload('/submit_reading{"meter_id":"7"}', "submit_reading", meter_id="7"),
    action("action_deactivate_loop"),
    loop(None),
    action("action_start_reading"),
    slot("meter_id", "7"),
    slot("reading_start", "ask"),
    action("reading_form"),
    loop("reading_form"),
    slot("requested_slot", "reading_value"),
    action("action_listen"),
    user("128,50", "inform_number", ("reading_value", "128,50")),
    action("reading_form"),
    slot("reading_value", "128.50"),
    slot("requested_slot", None),
    loop(None),
    action("action_submit_reading"),
    bot("Прийнято 128.50 до обробки. Дякуємо"),
    action("action_listen"),
    user("ффф ыыы", "deny"),
    action("action_default_fallback"),
    bot("Вибачте, я не зрозумів повідомлення.", "utter_default"),
    stamped({"event": "rewind"}),
    action("action_listen"),
    user(FALLBACK_TEXT, "nlu_fallback"),
    action("utter_default"),
    bot("Вибачте, я не зрозумів повідомлення.", "utter_default"),
    action("action_listen"),
    *session_start(),
    user("дякую, ivan.petrenko@ukr.net", "thank"),
    action("utter_you_are_welcome"),
    action("action_listen"),
]

FALLBACK_SHOWN = 'а що з опаленням?? дзвонив на 123 456 78 90, <b>ніхто</b> не бере: #1 - "жах"'

# What Rasa's reader must find: (event, ...) as the subprocess below describes each event.
EXPECTED: list[list[Any]] = [
    ["user", None, "conversation_started", []],
    ["action", "utter_welcome"],
    ["user", "Розпочати", "greet", []],
    ["action", "action_remember_subscriber"],
    ["action", "utter_greet"],
    ["user", "Додати лічильник", "register_meter", []],
    ["action", "action_deactivate_loop"],
    ["active_loop", None],
    ["action", "action_start_registration"],
    ["slot", "registration_blocked", False],
    ["action", "registration_form"],
    ["active_loop", "registration_form"],
    ["slot", "requested_slot", "account_number"],
    ["user", "мій о/р 12345", "inform_number", [["account_number", "12345", 8, 13]]],
    ["action", "registration_form"],
    ["slot", "account_number", "12345"],
    ["slot", "requested_slot", "meter_number"],
    ["user", "лічильник № 1234-567", "inform_number", [["meter_number", "1234-567", 12, 20]]],
    ["action", "registration_form"],
    ["slot", "meter_number", "1234567"],
    ["slot", "registered_meter_id", "1"],
    ["slot", "requested_slot", None],
    ["active_loop", None],
    ["action", "action_register_meter"],
    ["slot", "registration_blocked", None],
    ["user", None, "submit_reading", [["meter_id", "1", None, None]]],
    ["action", "action_deactivate_loop"],
    ["active_loop", None],
    ["action", "action_start_reading"],
    ["slot", "meter_id", "1"],
    ["slot", "reading_start", "ask"],
    ["action", "reading_form"],
    ["active_loop", "reading_form"],
    ["slot", "requested_slot", "reading_value"],
    ["user", "123,45", "inform_number", [["reading_value", "123,45", 0, 6]]],
    ["action", "reading_form"],
    ["slot", "reading_value", "123.45"],
    ["slot", "requested_slot", None],
    ["active_loop", None],
    ["action", "action_submit_reading"],
    ["user", FALLBACK_SHOWN, "nlu_fallback", []],
    ["action", "utter_default"],
    ["user", "дякую, abonent@example.com", "thank", []],
    ["action", "utter_you_are_welcome"],
]

# (typed, what the story's user text reads back as)
HOSTILE: list[tuple[str, str]] = [
    ("\"лапки\" і 'апостроф'", "\"лапки\" і 'апостроф'"),
    ("ключ: значення # не коментар", "ключ: значення # не коментар"),
    ("- починається з дефіса", "- починається з дефіса"),
    ("? знак питання: | труба > більше", "? знак питання: | труба > більше"),
    ("&anchor *alias !tag %directive @at `backtick`", "&anchor *alias !tag %directive @at `backtick`"),
    ('{"json": [48, 21]}', '{"json": ［12, 12］}'),
    ("<script>alert('x')</script> &amp; <b>жирний</b>", "<script>alert('x')</script> &amp; <b>жирний</b>"),
    ("емодзі 😀👍🏽 і прапор 🇺🇦", "емодзі 😀👍🏽 і прапор 🇺🇦"),
    (
        '[48213](account_number) і [x]{"entity": "y"} і [a][b]',
        '［12345］(account_number) і ［x］{"entity": "y"} і ［a］［b］',
    ),
    ("C:\\users\\name \\u0041 \\n \\", "C:\\users\\name \\u1234 \\n \\"),
    ("null", "null"),
    ("~", "~"),
    ("---", "---"),
    ("# лише коментар", "# лише коментар"),
    ("рядок а\r\nрядок б\u2028рядок в\rрядок г\x85", "рядок а\nрядок б\nрядок в\nрядок г"),
    ("  пробіли навколо \t ", "пробіли навколо"),
    ("таб\tусередині і пробіл в кінці рядка \nдалі", "таб\tусередині і пробіл в кінці рядка \nдалі"),
    ("керівні \x00\x07\x1b\x7f символи", "керівні \x00\x07\x1b\x7f символи"),
    ("zero\u200bwidth \u202eRTL\u202c nbsp\u00a0", "zero\u200bwidth \u202eRTL\u202c nbsp"),
    ("поламаний \ud83d сурогат", "поламаний \ufffd сурогат"),
    ("довгий " + "рядок " * 2_000, ("довгий " + "рядок " * 2_000).strip()),
]
HOSTILE_NAME = 'Ворожа: "лапки" #1 - [x](y)\nо/р 48213: {x}'
HOSTILE_NAME_SHOWN = 'Ворожа: "лапки" #1 - [x](y) о/р 12345: {x}'


def hostile_conversation() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [*session_start()]
    for typed, _ in HOSTILE:
        events += [user(typed, "out_of_scope"), action("utter_out_of_scope"), action("action_listen")]
    events += [user("/", "out_of_scope"), slot("meter_to_remove", "null: [x] {y} 48213 'z' \"w\" #")]
    return events


def hostile_expected() -> list[list[Any]]:
    expected: list[list[Any]] = []
    for _, shown in HOSTILE:
        expected += [["user", shown, "out_of_scope", []], ["action", "utter_out_of_scope"]]
    expected += [
        ["user", None, "out_of_scope", []],
        ["slot", "meter_to_remove", "null: [x] {y} 12345 'z' \"w\" #"],
    ]
    return expected


def steps_of(document: str) -> list[dict[str, Any]]:
    loaded = YAML(typ="safe").load(document)
    assert loaded["version"] == "3.1"
    [story] = loaded["stories"]
    steps: list[dict[str, Any]] = story["steps"]
    return steps


# --- pseudonyms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("о/р 48213", "о/р 12345"),
        ("128,50", "123,45"),
        ("128.50 і 7", "123.45 і 1"),
        ("12 345", "12 345"),
        ("0712-554", "1234-567"),
        ("+38 (067) 123-45-67", "+12 (123) 123-45-67"),
        ("0987654321098", "1234567890123"),
        ("٤٨٢١٣", "١٢٣٤٥"),
        ("лист ivan.petrenko@ukr.net, тел", "лист abonent@example.com, тел"),
        ("без цифр", "без цифр"),
    ],
)
def test_digits_cycle_per_number(typed: str, shown: str) -> None:
    assert stories.pseudonymise(typed) == shown


def test_a_story_name_is_one_pseudonymised_line() -> None:
    assert stories.story_name(HOSTILE_NAME) == HOSTILE_NAME_SHOWN
    assert stories.story_name(" \n\t ") == stories.DEFAULT_NAME
    assert len(stories.story_name("x" * 1_000)) == stories.LONGEST_NAME


# --- the document ---------------------------------------------------------------------------


def test_the_conversation_becomes_the_steps_of_one_story() -> None:
    document = stories.test_story(CONVERSATION, "Реєстрація, показання й незрозуміле")
    assert document.startswith(stories.HEADER + 'version: "3.1"\n\nstories:\n  - story: ')
    steps = steps_of(document)
    assert steps[:3] == [
        {"intent": "conversation_started"},
        {"action": "utter_welcome"},
        {"user": "Розпочати\n", "intent": "greet"},
    ]
    assert {"user": "мій о/р [12345](account_number)\n", "intent": "inform_number"} in steps
    assert {"user": "лічильник № [1234-567](meter_number)\n", "intent": "inform_number"} in steps
    assert {"user": "[123,45](reading_value)\n", "intent": "inform_number"} in steps
    assert {"intent": "submit_reading", "entities": [{"meter_id": "1"}]} in steps
    assert {"slot_was_set": [{"registration_blocked": False}]} in steps
    assert {"slot_was_set": [{"requested_slot": None}]} in steps
    assert {"active_loop": None} in steps
    assert {"user": FALLBACK_SHOWN + "\n", "intent": "nlu_fallback"} in steps
    # the rewound core fallback, listens and session starts are not steps
    names = [step.get("action") for step in steps]
    assert "action_default_fallback" not in names and "action_listen" not in names
    assert "action_session_start" not in names
    assert len(steps) == len(EXPECTED)


def test_nothing_of_the_subscriber_is_left() -> None:
    document = stories.test_story(CONVERSATION, "Розмова о/р 48213")
    for personal in ("48213", "0712", "554", "067", "ivan", "ukr.net", "Петренко", "viber-Aa1", "128"):
        assert personal not in document


def test_hostile_texts_read_back_as_written() -> None:
    steps = steps_of(stories.test_story(hostile_conversation(), HOSTILE_NAME))
    users = [step["user"].strip() for step in steps if "user" in step]
    assert users == [shown for _, shown in HOSTILE]
    assert steps[-1] == {"slot_was_set": [{"meter_to_remove": "null: [x] {y} 12345 'z' \"w\" #"}]}


def test_a_huge_message_is_written_whole() -> None:
    typed = "о/р 48213 [x](y) " * 6_000
    steps = steps_of(stories.test_story([user(typed, "out_of_scope")], "великий"))
    assert steps == [{"user": ("о/р 12345 ［x］(y) " * 6_000).strip() + "\n", "intent": "out_of_scope"}]


def test_entities_that_overlap_or_point_outside_the_text_are_left_out() -> None:
    event = user("о/р 48213", "inform_number")
    event["parse_data"]["entities"] = [
        {"entity": "account_number", "start": 4, "end": 9, "value": "48213"},
        {"entity": "meter_number", "start": 6, "end": 9, "value": "213"},
        {"entity": "meter_number", "start": 7, "end": 99, "value": "x"},
        {"entity": "reading_value", "value": "1"},
    ]
    assert steps_of(stories.test_story([event], "x")) == [
        {"user": "о/р [12345](account_number)\n", "intent": "inform_number"}
    ]


def test_an_entity_whose_value_differs_from_its_text_keeps_both() -> None:
    text = "лічильник гарячої води 48213"
    event = user(
        text,
        "register_meter",
        ("meter_kind", "гарячої води"),
        ("meter_number", "48213"),
        value={"meter_kind": "hot_}water"},
    )
    [step] = steps_of(stories.test_story([event], "x"))
    assert step["user"] == (
        'лічильник [гарячої води]{"entity": "meter_kind", "value": "hot_\\u007dwater"} [12345](meter_number)\n'
    )


def test_a_conversation_without_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="no user turn"):
        stories.test_story([*session_start(), bot("Привіт")], "x")


# --- Rasa's own reader ------------------------------------------------------------------------

READER = r"""
import json, logging, sys, warnings

found = []


class Kept(logging.Handler):
    def emit(self, record):
        found.append(record.getMessage())


from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

logging.getLogger().addHandler(Kept(logging.WARNING))
domain = Domain.load(sys.argv[1])
slots = {s.name for s in domain.slots}
result = {}
for path in sys.argv[3:]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        steps = YAMLStoryReader(domain).read_from_file(path)
    events, unknown = [], []
    for step in steps:
        for e in step.events:
            if isinstance(e, UserUttered):
                entities = [[x["entity"], x["value"], x.get("start"), x.get("end")] for x in e.entities]
                events.append(["user", e.text, e.intent_name, entities])
                unknown += [e.intent_name] if e.intent_name not in domain.intents else []
                unknown += [x["entity"] for x in e.entities if x["entity"] not in domain.entities]
            elif isinstance(e, ActionExecuted):
                events.append(["action", e.action_name])
                unknown += [e.action_name] if e.action_name not in domain.action_names_or_texts else []
            elif isinstance(e, ActiveLoop):
                events.append(["active_loop", e.name])
                unknown += [e.name] if e.name and e.name not in domain.form_names else []
            elif isinstance(e, SlotSet):
                events.append(["slot", e.key, e.value])
                unknown += [e.key] if e.key not in slots else []
            else:
                events.append([e.type_name])
    result[path] = {
        "names": [step.block_name for step in steps],
        "events": events,
        "unknown": unknown,
        "warnings": [str(w.message) for w in caught if issubclass(w.category, UserWarning)] + found,
    }
    found.clear()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(result, out, ensure_ascii=False)
"""


@pytest.fixture(scope="module")
def read_by_rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Both stories read by Rasa 3.6's YAMLStoryReader with the project's domain, in one process."""
    if not RASA_PYTHON.exists():
        pytest.skip("no .venv-rasa (make setup)")
    folder = tmp_path_factory.mktemp("project") / "tests"
    folder.mkdir()
    conversation = folder / "test_conversation.yml"
    conversation.write_text(
        stories.test_story(CONVERSATION, "Реєстрація, показання й незрозуміле"), encoding="utf-8"
    )
    hostile = folder / "test_hostile.yml"
    hostile.write_text(stories.test_story(hostile_conversation(), HOSTILE_NAME), encoding="utf-8")
    out = folder / "read.json"
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", READER, str(ROOT / "domain.yml"), str(out), str(conversation), str(hostile)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    yield {
        "conversation": result[str(conversation)],
        "hostile": result[str(hostile)],
        "output": done.stdout + done.stderr,
    }


def test_rasa_reads_the_conversation_as_one_story(read_by_rasa: dict[str, Any]) -> None:
    read = read_by_rasa["conversation"]
    assert read["names"] == ["Реєстрація, показання й незрозуміле"]
    assert read["events"] == EXPECTED
    assert read["unknown"] == []
    assert read["warnings"] == []


def test_rasa_reads_hostile_texts_back_exactly(read_by_rasa: dict[str, Any]) -> None:
    read = read_by_rasa["hostile"]
    assert read["names"] == [HOSTILE_NAME_SHOWN]
    assert read["events"] == hostile_expected()
    assert read["unknown"] == []
    assert read["warnings"] == []
    assert "message.parsing.failed" not in read_by_rasa["output"]
