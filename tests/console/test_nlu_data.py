"""actions/console/nlu_data.py: labels from the NLU inbox are checked, written into copies of the real
data/nlu files line by line, and read back exactly by Rasa's own loader (.venv-rasa)."""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from actions.console.nlu_data import (
    HEADER,
    Example,
    LabelError,
    NluFileError,
    add_to_project,
    checked_example,
    labelable,
    nlu_yaml,
)
from tests.support.paths import ROOT

NLU = ROOT / "data" / "nlu"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
READ_BY_RASA = """
import json, sys
from rasa.shared.nlu.training_data.loading import load_data
read = {
    path: [[m.get("intent"), m.get("text"), m.get("entities", [])] for m in load_data(path).training_examples]
    for path in sys.argv[1:]
}
print(json.dumps(read, ensure_ascii=False))
"""

# written so that YAML stays valid and Rasa reads them back as they are
HOSTILE = [
    "<script>alert('x')</script>",
    "<b onmouseover=alert(1)>привіт</b>",
    "'; DROP TABLE readings; --",
    "1 OR 1=1; SELECT * FROM subscribers",
    "ключ: значення # не коментар",
    "| > & * ! % @ ` ~ ?",
    "- починається з дефіса",
    "-",
    "--- ...",
    "%YAML 1.1",
    "!!python/object/apply:os.system ('rm -rf /')",
    "&anchor *alias",
    "\"в лапках\" і 'в апострофах'",
    "null",
    "#",
    "ім'я: О’Коннор, звʼязок",
    "смайлик 😀 і 👍🏽",
    "я" * 200,
]
# with entities: the intent, the text Rasa trains on and the entities it finds
ANNOTATED = {
    "мій особовий [54321](account_number)": (
        "inform_number",
        "мій особовий 54321",
        [{"start": 13, "end": 18, "value": "54321", "entity": "account_number"}],
    ),
    'здаю [гарячу воду]{"entity": "meter_kind", "value": "hot_water"} [56,7](reading_value)': (
        "submit_reading",
        "здаю гарячу воду 56,7",
        [
            {"start": 5, "end": 16, "value": "hot_water", "entity": "meter_kind"},
            {"start": 17, "end": 21, "value": "56,7", "entity": "reading_value"},
        ],
    ),
    "[тепло](meter_kind:heat): # | - 'x' [77](reading_value)": (
        "submit_reading",
        "тепло: # | - 'x' 77",
        [
            {"start": 0, "end": 5, "value": "heat", "entity": "meter_kind"},
            {"start": 17, "end": 19, "value": "77", "entity": "reading_value"},
        ],
    ),
}

REFUSED = [
    ("greet", "", "порожній"),
    ("greet", "   ", "порожній"),
    ("greet", "привіт\nбот", "одним рядком"),
    ("greet", "привіт\r\n", "одним рядком"),
    ("greet", "привіт\u2028бот", "одним рядком"),
    ("greet", "привіт\x85бот", "одним рядком"),
    ("greet", "привіт\x00", "U+0000"),
    ("greet", "привіт\tбот", "U+0009"),
    ("greet", "при\u200bвіт", "U+200B"),
    ("greet", "\ufeffпривіт", "U+FEFF"),
    ("greet", "привіт \u202eтоб", "U+202E"),
    ("greet", "привіт \ud800", "U+D800"),
    ("greet", "привіт \uffff", "U+FFFF"),
    ("greet", "привіт \\u0041", "скісна"),
    ("greet", "я" * 201, "задовгий"),
    ("greet", "{{ привіт }}", "Дужки { }"),
    ("greet", "привіт ]", "Дужки ]"),
    ("conversation_started", "привіт", "ставить канал"),
    ("subscribed", "привіт", "ставить канал"),
    ("unsubscribed", "привіт", "ставить канал"),
    ("non_text_message", "привіт", "ставить канал"),
    ("nlu_fallback", "привіт", "ставить канал"),
    ("complaint", "привіт", "Невідомий намір «complaint»"),
    ("inform_number", "рахунок [12345](account)", "Невідома сутність «account»"),
    ("inform_number", "рахунок [12345](meter_id)", "Невідома сутність «meter_id»"),
    ("inform_number", "рахунок [12345]", "Дужки [ ]"),
    ("inform_number", "рахунок [12345] (account_number)", "Дужки [ ]"),
    ("inform_number", "рахунок [12345](account_number", "Дужки [ ]"),
    ("inform_number", "рахунок 12345](account_number)", "Дужки ]"),
    ("inform_number", "рахунок [12345](account_number:)", "Дужки [ ]"),
    ("inform_number", "рахунок [[12345](account_number)", "Розмітка [[12345]"),
    ("inform_number", "рахунок [ 12345](account_number)", "Розмітка [ 12345]"),
    ("inform_number", "рахунок [12345](account_number:[x])", "Значення сутності «[x]»"),
    ("submit_reading", '[тепло]{"entity": "meter_kind", "value": "heat"', "Дужки [ ] {"),
    ("submit_reading", "[тепло]{'entity': 'meter_kind'}", "Не вдалося прочитати"),
    ("submit_reading", '[тепло]{"entity": "meter_kind", "value": "he}at"}', "Не вдалося прочитати"),
    ("submit_reading", '[тепло]{"value": "heat"}', "потрібні лише"),
    ("submit_reading", '[тепло]{"entity": "meter_kind", "role": "from"}', "потрібні лише"),
    ("submit_reading", '[тепло]{"entity": "meter_kind", "value": 5}', "потрібні лише"),
    ("submit_reading", '[тепло]{"entity": "meter_kind", "entity": "meter_number"}', "повторюється"),
    ("submit_reading", '[тепло]{"entity": "meter_kind", "value": " heat"}', "Значення сутності"),
    ("submit_reading", '[тепло][{"entity": "meter_kind"}, {"entity": "reading_value"}]', "Кілька сутностей"),
]


@pytest.fixture(scope="module")
def labels() -> tuple[list[str], list[str]]:
    return labelable(ROOT / "domain.yml")


@pytest.fixture
def nlu_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(NLU, tmp_path / "nlu"))


def check(intent: str, text: str, labels: tuple[list[str], list[str]]) -> Example:
    intents, entities = labels
    return checked_example(intent, text, intents=intents, entities=entities)


def examples_in(path: Path) -> dict[str, list[str]]:
    """Each intent's example texts, split as Rasa splits an examples block."""
    document: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for item in document["nlu"] or []:
        if "intent" in item:
            lines = item["examples"].splitlines()
            found.setdefault(item["intent"], []).extend(line[1:].strip("\n\r ") for line in lines)
    return found


def contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


# --- checking ---------------------------------------------------------------------------------


def test_labelable_leaves_out_channel_events_the_fallback_and_button_entities(
    labels: tuple[list[str], list[str]],
) -> None:
    intents, entities = labels
    assert intents[:3] == ["greet", "goodbye", "thank"]
    assert {"inform_number", "submit_reading", "remove_meter"} <= set(intents)
    assert not {
        "conversation_started",
        "subscribed",
        "unsubscribed",
        "non_text_message",
        "nlu_fallback",
    } & set(intents)
    assert entities == ["account_number", "meter_number", "reading_value", "meter_kind"]


def test_every_example_of_the_project_passes_as_it_is(labels: tuple[list[str], list[str]]) -> None:
    checked = 0
    for path in sorted(NLU.glob("*.yml")):
        for intent, texts in examples_in(path).items():
            for text in texts:
                assert check(intent, text, labels).text == text
                checked += 1
    assert checked > 900


def test_spaces_are_trimmed_and_collapsed_and_letters_composed(labels: tuple[list[str], list[str]]) -> None:
    decomposed = "и\u0306"  # "й" typed as и and a combining breve
    example = check("greet", f"  Доброго\u00a0 ранку,  ми{decomposed}\u2003друже ", labels)
    assert example == Example("greet", "Доброго ранку, мий друже")


@pytest.mark.parametrize(("intent", "text", "said"), REFUSED)
def test_refused_labels_say_why(
    intent: str, text: str, said: str, labels: tuple[list[str], list[str]]
) -> None:
    with pytest.raises(LabelError) as refused:
        check(intent, text, labels)
    assert said in str(refused.value)


@pytest.mark.parametrize("text", [*HOSTILE, *ANNOTATED])
def test_hostile_and_annotated_labels_pass_unchanged(text: str, labels: tuple[list[str], list[str]]) -> None:
    assert check("out_of_scope", text, labels).text == text


@pytest.mark.parametrize(
    ("intent", "text"), [("greet", "привіт\n  - intent: deny"), ("greet", " привіт"), ("greet: x", "привіт")]
)
def test_an_example_built_from_a_stored_row_is_checked_too(intent: str, text: str) -> None:
    with pytest.raises(LabelError):
        Example(intent, text)


# --- the YAML file for download ---------------------------------------------------------------


def test_the_download_is_grouped_sorted_and_without_repeats() -> None:
    examples = [
        Example("thank", "дякую вам"),
        Example("greet", "Привіт, бот"),
        Example("greet", "агов"),
        Example("greet", "привіт,   БОТ"),
        Example("thank", "дякую вам"),
    ]
    assert nlu_yaml(examples) == HEADER + (
        "  - intent: greet\n"
        "    examples: |\n"
        "      - агов\n"
        "      - Привіт, бот\n"
        "\n"
        "  - intent: thank\n"
        "    examples: |\n"
        "      - дякую вам\n"
    )


def test_the_download_of_nothing_is_a_valid_empty_file() -> None:
    assert nlu_yaml([]) == HEADER
    assert YAML(typ="safe").load(HEADER) == {"version": "3.1", "nlu": None}


# --- adding to the project's files ------------------------------------------------------------


def test_examples_go_to_the_end_of_their_intents_block_and_nothing_else_changes(nlu_dir: Path) -> None:
    before = contents(nlu_dir)
    report = add_to_project(
        nlu_dir,
        [
            Example("greet", "ну привіт, бот"),
            Example("deny", "ні, дякую, не треба"),
            Example("greet", "добрий день, це знову я"),
            Example("inform_number", "мій особовий [54321](account_number)"),
        ],
    )
    assert {path.name: [e.text for e in added] for path, added in report.added.items()} == {
        "basics.yml": ["ну привіт, бот", "добрий день, це знову я", "ні, дякую, не треба"],
        "readings.yml": ["мій особовий [54321](account_number)"],
    }
    assert report.duplicates == [] and report.conflicts == []

    basics = before["basics.yml"].decode().split("\n")
    after_greet = basics.index("  - intent: goodbye") - 1  # the blank line between the blocks
    after_deny = len(basics) - 1  # deny is the file's last block; the file ends with a newline
    expected = [
        *basics[:after_greet],
        "      - ну привіт, бот",
        "      - добрий день, це знову я",
        *basics[after_greet:after_deny],
        "      - ні, дякую, не треба",
        *basics[after_deny:],
    ]
    assert (nlu_dir / "basics.yml").read_text(encoding="utf-8") == "\n".join(expected)
    assert (nlu_dir / "readings.yml").read_bytes() == before["readings.yml"] + (
        "      - мій особовий [54321](account_number)\n".encode()
    )
    after = contents(nlu_dir)
    assert after.keys() == before.keys()  # no temporary file left behind
    assert {name for name in after if after[name] != before[name]} == {"basics.yml", "readings.yml"}


def test_repeats_are_skipped_in_any_file_case_and_spacing(nlu_dir: Path) -> None:
    (nlu_dir / "welcome.yml").write_text(
        HEADER + "  - intent: greet\n    examples: |\n      - Слава Героям\n"
    )
    report = add_to_project(
        nlu_dir,
        [
            Example("greet", "слава   ГЕРОЯМ"),  # in welcome.yml, though greet's examples go to basics.yml
            Example("greet", "ДОБРИЙ ДЕНЬ"),  # basics.yml has "Добрий день"
            Example("inform_number", "О/Р [12345](account_number)"),  # markup is compared too
            Example("greet", "здоров, бот"),
            Example("greet", "Здоров,  бот"),  # twice in one batch
            Example("inform_number", "о/р 12345"),  # the same words without markup are a new example
        ],
    )
    assert [e.text for e in report.duplicates] == [
        "слава   ГЕРОЯМ",
        "ДОБРИЙ ДЕНЬ",
        "О/Р [12345](account_number)",
        "Здоров,  бот",
    ]
    assert {path.name: [e.text for e in added] for path, added in report.added.items()} == {
        "basics.yml": ["здоров, бот"],
        "readings.yml": ["о/р 12345"],
    }
    assert str(report) == (
        "Додано прикладів: 2 (basics.yml: 1, readings.yml: 1); пропущено повторів: 4; "
        "пропущено, бо вже є з іншим наміром: 0."
    )


def test_words_another_intent_has_are_skipped_as_a_conflict(nlu_dir: Path) -> None:
    before = contents(nlu_dir)
    greet_thanks = Example("greet", "Дякую")
    bare_reading = Example("inform_number", "показання 123.45")  # submit_reading has it with markup
    report = add_to_project(nlu_dir, [greet_thanks, bare_reading])
    assert report.conflicts == [(greet_thanks, "thank"), (bare_reading, "submit_reading")]
    assert report.added == {} and contents(nlu_dir) == before


def test_an_intent_in_no_file_goes_to_the_inbox_file(nlu_dir: Path) -> None:
    add_to_project(nlu_dir, [Example("complaint", "мене не чують"), Example("complaint", "жах")])
    add_to_project(nlu_dir, [Example("praise", "ви молодці"), Example("complaint", "знову не чують")])
    assert (nlu_dir / "inbox.yml").read_text(encoding="utf-8") == HEADER + (
        "  - intent: complaint\n"
        "    examples: |\n"
        "      - мене не чують\n"
        "      - жах\n"
        "      - знову не чують\n"
        "\n"
        "  - intent: praise\n"
        "    examples: |\n"
        "      - ви молодці\n"
    )
    assert (nlu_dir / "inbox.yml").stat().st_mode & 0o777 == 0o644


def test_a_block_ends_where_yaml_ends_it(nlu_dir: Path) -> None:
    praise = HEADER + (
        '  - intent: "praise"  # quoted, with a comment\n'
        "    examples: |\n"
        "        - ви молодці\n"
        "\n"
        "        - дякую вам щиро\n"
        "    metadata:\n"
        "      source: console\n"
        "  - intent: complaint\n"
        "    examples: |\n"
    )
    (nlu_dir / "praise.yml").write_text(praise)
    add_to_project(nlu_dir, [Example("praise", "ви супер"), Example("complaint", "ви не супер")])
    assert (nlu_dir / "praise.yml").read_text() == praise.replace("щиро\n", "щиро\n        - ви супер\n") + (
        "      - ви не супер\n"
    )


def test_labellers_at_the_same_moment_lose_nothing(nlu_dir: Path) -> None:
    texts = [f"привіт від вікна номер {number}" for number in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda text: add_to_project(nlu_dir, [Example("greet", text)]), texts))
    assert set(examples_in(nlu_dir / "basics.yml")["greet"][-8:]) == set(texts)


def test_a_block_it_cannot_extend_safely_is_left_alone(nlu_dir: Path) -> None:
    stripped = HEADER + "  - intent: praise\n    examples: |-\n      - ви молодці\n"
    (nlu_dir / "praise.yml").write_text(stripped)
    before = contents(nlu_dir)
    with pytest.raises(NluFileError, match=r"praise\.yml"):
        add_to_project(nlu_dir, [Example("greet", "агов"), Example("praise", "дякую, що ви є")])
    assert contents(nlu_dir) == before


# --- read back by Rasa ------------------------------------------------------------------------


def test_rasa_reads_back_exactly_what_was_labelled(tmp_path: Path, nlu_dir: Path) -> None:
    annotated = [Example(intent, text) for text, (intent, _, _) in ANNOTATED.items()]
    hostile = [Example("out_of_scope", text) for text in HOSTILE]
    report = add_to_project(nlu_dir, [*annotated, *hostile])
    assert report.duplicates == [] and report.conflicts == []
    download, ascii_only, empty = tmp_path / "download", tmp_path / "ascii", tmp_path / "empty"
    for directory in (download, ascii_only, empty):
        directory.mkdir()
    (download / "inbox.yml").write_text(nlu_yaml([*annotated, *hostile]), encoding="utf-8")
    # Rasa reads a file without a non-ASCII character another way (raw_unicode_escape)
    ascii_examples = [example for example in hostile if example.text.isascii()]
    (ascii_only / "inbox.yml").write_text(nlu_yaml(ascii_examples), encoding="utf-8")
    (empty / "inbox.yml").write_text(nlu_yaml([]), encoding="utf-8")

    read = read_by_rasa(NLU, nlu_dir, download, ascii_only, empty)

    expected = [[*ANNOTATED[e.text]] for e in annotated] + [[e.intent, e.text, []] for e in hostile]
    original = read[str(NLU)]
    assert len(read[str(nlu_dir)]) == len(original) + len(expected)
    assert same([e for e in read[str(nlu_dir)] if e not in original], expected)
    assert same(read[str(download)], expected)
    assert same(read[str(ascii_only)], [[e.intent, e.text, []] for e in ascii_examples])
    assert read[str(empty)] == []


def same(read: list[list[Any]], expected: list[list[Any]]) -> bool:
    """The same examples, in any order."""
    return sorted(json.dumps(e, ensure_ascii=False, sort_keys=True) for e in read) == sorted(
        json.dumps(e, ensure_ascii=False, sort_keys=True) for e in expected
    )


def read_by_rasa(*directories: Path) -> dict[str, list[list[Any]]]:
    ran = subprocess.run(
        [str(RASA_PYTHON), "-c", READ_BY_RASA, *map(str, directories)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    read: dict[str, list[list[Any]]] = json.loads(ran.stdout.strip().splitlines()[-1])
    return read
