"""The entities the forms read (custom_components/register_entities.py), through config.yml's entity
pipeline: our tokenizer, RegexEntityExtractor and EntitySynonymMapper trained on data/nlu, then
RegisterEntityExtractor. Each case says which entities a message holds, in order, with their text."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.io import read_yaml_file

from custom_components.register_entities import RegisterEntityExtractor
from custom_components.ukrainian_tokenizer import UkrainianTokenizer

ROOT = Path(__file__).resolve().parents[2]
A, M, R, K = "account_number", "meter_number", "reading_value", "meter_kind"
HEAT, HOT = "heat", "hot_water"
# (entity, the text it covers, its value when a synonym replaces the text)
Expected = list[tuple[str, str] | tuple[str, str, str]]

CASES: list[tuple[str, Expected]] = [
    # readings: a decimal, a unit, a reading word, a meter kind
    ("показання 128,50 м3", [(R, "128,50")]),
    ("128,5 куб.м", [(R, "128,5")]),
    ("128.50м³", [(R, "128.50")]),
    ("42,10 м3", [(R, "42,10")]),
    ("128,50", [(R, "128,50")]),
    ("0,5", [(R, "0,5")]),
    ("128.5", [(R, "128.5")]),
    ("ГВП 128,30", [(K, "ГВП", HOT), (R, "128,30")]),
    ("19 куб", [(R, "19")]),
    ("97 кубів", [(R, "97")]),
    ("12 Гкал", [(R, "12")]),
    ("77 m3", [(R, "77")]),
    ("показання 128", [(R, "128")]),
    ("показания: 56", [(R, "56")]),
    ("pokaz 54", [(R, "54")]),
    ("показання лічильника 128", [(R, "128")]),
    ("гаряча 128,00 тепло 477,00", [(K, "гаряча", HOT), (R, "128,00"), (K, "тепло", HEAT), (R, "477,00")]),
    ("опалення 477,00", [(K, "опалення", HEAT), (R, "477,00")]),
    ("опалення 477", [(K, "опалення", HEAT), (R, "477")]),
    ("ГВП 128", [(K, "ГВП", HOT), (R, "128")]),
    ("ГВП-128,3", [(K, "ГВП", HOT), (R, "128,3")]),
    ("гвп 77, опалення 1,02", [(K, "гвп", HOT), (R, "77"), (K, "опалення", HEAT), (R, "1,02")]),
    ("показання 128 м3 ГВП", [(R, "128"), (K, "ГВП", HOT)]),
    ("показання лічильника тепла 234", [(K, "тепла", HEAT), (R, "234")]),
    ("показання теплолічильника 234", [(K, "теплолічильника", HEAT), (R, "234")]),
    ("передаю показання гарячої води 56.7", [(K, "гарячої води", HOT), (R, "56.7")]),
    ("горячая вода 45,6", [(K, "горячая вода", HOT), (R, "45,6")]),
    ("hariacha voda 56,1", [(K, "hariacha voda", HOT), (R, "56,1")]),
    ("отопление 3,12 гкал", [(K, "отопление", HEAT), (R, "3,12")]),
    ("лічильник 128,5", [(R, "128,5")]),
    # accounts and meters: the number after a marker
    ("зареєструйте мій лічильник, о/р 23456", [(A, "23456")]),
    ("о/р 23456, лічильник 333333", [(A, "23456"), (M, "333333")]),
    ("о/р 23456 лічильник 333333", [(A, "23456"), (M, "333333")]),
    ("лічильник гарячої води 333333", [(K, "гарячої води", HOT), (M, "333333")]),
    ("номер лічильника тепла: 444444", [(K, "тепла", HEAT), (M, "444444")]),
    ("лічильник 333333 рахунок 23456", [(M, "333333"), (A, "23456")]),
    ("ос. рах. 12045", [(A, "12045")]),
    ("ос рах 30211", [(A, "30211")]),
    ("особ. рах. 30212", [(A, "30212")]),
    ("о.р. 33015", [(A, "33015")]),
    ("особовий рахунок № 41555", [(A, "41555")]),
    ("рахунку: 22222", [(A, "22222")]),
    ("о/р23456", [(A, "23456")]),
    ("о/р 12 345", [(A, "12 345")]),
    ("л/р 23001", [(A, "23001")]),
    ("лицевой счет 45123 счетчик 112233", [(A, "45123"), (M, "112233")]),
    ("o/r 23456 lichylnyk 99887", [(A, "23456"), (M, "99887")]),
    ("account 23456 meter 1122334", [(A, "23456"), (M, "1122334")]),
    ("№ 333444", [(M, "333444")]),
    ("№5550123", [(M, "5550123")]),
    ("зав. № 77-1234", [(M, "77-1234")]),
    ("заводський номер 0012345", [(M, "0012345")]),
    ("лічильник AB-1234.", [(M, "AB-1234")]),
    ("теплолічильник 444444", [(K, "теплолічильник", HEAT), (M, "444444")]),
    ("о/р 23456 лічильник 333333 показання 128,5", [(A, "23456"), (M, "333333"), (R, "128,5")]),
    # one marked, one other integer: the other role
    ("о/р 23456, 333333", [(A, "23456"), (M, "333333")]),
    ("лічильник 333333, 23456", [(M, "333333"), (A, "23456")]),
    # no marker: two integers, the first of five digits
    ("23456, 333333", [(A, "23456"), (M, "333333")]),
    ("23456\n333333", [(A, "23456"), (M, "333333")]),
    ("23456;333333", [(A, "23456"), (M, "333333")]),
    ("23456 та 333333", [(A, "23456"), (M, "333333")]),
    ("2345, 333333", []),
    ("23456, 333333, 444444", []),
    # what is no entity
    ("23456", []),
    ("7", []),
    ("12345 особовий", []),
    ("25.11.2026", []),
    ("показання -128", []),
    ("128,50 грн", []),
    ("вул. Шевченка 12, кв. 5", []),
    ("23456,333333", []),
    ("передати показання гарячої води", [(K, "гарячої води", HOT)]),
    # hostile: other scripts' digits, superscripts, full-width, control and bidi characters, emoji
    ("٢٣٤٥٦", []),
    ("о/р ٢٣٤٥٦", []),
    ("12٣45 333333", []),
    ("²³", []),
    ("показання 12²", []),
    ("１２３４５ ６７８９０", []),
    ("о/р 23456\u202e", []),
    ("\u2067о/р 23456", []),
    ("23456\x00333333", []),
    ("о/р\x0023456", []),
    ("1" * 33, []),
    ("о/р " + "1" * 33, []),
    ("лічильник " + "1" * 40, []),
    ("показання " + "9" * 40 + ",5", []),
    ("о/р 23456 👍", [(A, "23456")]),
    ("показання 128,5🔥", [(R, "128,5")]),
    ("😀😀😀", []),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}))
    data = load_data(str(ROOT / "data" / "nlu"))
    kinds = RegexEntityExtractor.create(
        RegexEntityExtractor.get_default_config(), storage, Resource("kinds"), context
    )
    kinds.train(data)
    synonyms = EntitySynonymMapper.create({}, storage, Resource("synonyms"), context)
    synonyms.train(data)
    tokenizer = UkrainianTokenizer(UkrainianTokenizer.get_default_config())
    return [
        tokenizer,
        kinds,
        synonyms,
        RegisterEntityExtractor.create({}, storage, Resource("numbers"), context),
    ]


def parse(pipeline: list[Any], text: str) -> Message:
    message = Message(data={TEXT: text})
    for component in pipeline:
        component.process([message])
    return message


def spans(text: str, expected: Expected) -> list[tuple[str, int, int, str]]:
    """The expected entities with their offsets, each searched after the one before."""
    found, position = [], 0
    for entity, covered, *synonym in expected:
        start = text.index(covered, position)
        position = start + len(covered)
        found.append((entity, start, position, synonym[0] if synonym else covered))
    return found


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(text[:40]) for text, _ in CASES])
def test_entities(pipeline: list[Any], text: str, expected: Expected) -> None:
    message = parse(pipeline, text)
    entities = sorted(message.get(ENTITIES, []), key=lambda entity: entity["start"])
    assert [(e["entity"], e["start"], e["end"], e["value"]) for e in entities] == spans(text, expected)
    ours = [entity for entity in entities if entity["entity"] != K]
    assert all(e["extractor"] == "RegisterEntityExtractor" and e["confidence_entity"] == 1.0 for e in ours)
    # each entity is whole tokens, as Rasa's entity evaluation needs
    tokens = message.get(TOKENS_NAMES[TEXT])
    starts, ends = {token.start for token in tokens}, {token.end for token in tokens}
    assert all(e["start"] in starts and e["end"] in ends for e in entities)


def test_two_readings_keep_their_offsets(pipeline: list[Any]) -> None:
    entities = parse(pipeline, "гаряча 128,00 тепло 477,00").get(ENTITIES)
    assert [(e["entity"], e["start"], e["end"], e["value"]) for e in entities] == [
        (K, 0, 6, HOT),
        (K, 14, 19, HEAT),
        (R, 7, 13, "128,00"),
        (R, 20, 26, "477,00"),
    ]


def test_entities_of_earlier_components_stay_and_are_not_overlapped(pipeline: list[Any]) -> None:
    earlier = {"entity": "meter_id", "start": 4, "end": 9, "value": "7", "extractor": "other"}
    message = Message(data={TEXT: "о/р 23456, лічильник 333333", ENTITIES: [earlier]})
    for component in pipeline:
        component.process([message])
    assert message.get(ENTITIES) == [
        earlier,
        {
            "entity": M,
            "start": 21,
            "end": 27,
            "value": "333333",
            "confidence_entity": 1.0,
            "extractor": "RegisterEntityExtractor",
        },
    ]


@pytest.mark.parametrize(
    "text",
    [
        ("№" * 3 + "1,5 о/р 1 111 лічильник " + "показання лічильник " * 3 + "23456 ") * 150,
        "№" * 10_000,
        "лічильник " + "1" * 9_990,
        "номер" + " " * 9_995,
        "1," * 5_000,
        "о/р " * 2_500,
        ("гаряча 1 " * 1_200)[:10_000],
    ],
    ids=["mixed", "numero", "long-number", "spaces", "commas", "markers", "kinds"],
)
def test_ten_thousand_hostile_characters_take_little_time(pipeline: list[Any], text: str) -> None:
    text = text[:10_000].ljust(10_000, " ")
    started = time.perf_counter()
    message = parse(pipeline, text)
    assert time.perf_counter() - started < 1.0
    assert all(0 <= e["start"] < e["end"] <= len(text) for e in message.get(ENTITIES, []))


def test_a_message_without_text_is_left_alone() -> None:
    message = Message(data={"intent": "greet"})
    RegisterEntityExtractor().process([message])
    assert message.get(ENTITIES) is None


def test_config_runs_the_extractors_after_the_tokenizer_in_this_order() -> None:
    names = [component["name"] for component in read_yaml_file(ROOT / "config.yml")["pipeline"]]
    order = [
        "custom_components.ukrainian_tokenizer.UkrainianTokenizer",
        "RegexEntityExtractor",
        "EntitySynonymMapper",
        "custom_components.register_entities.RegisterEntityExtractor",
    ]
    assert [name for name in names if name in order] == order
