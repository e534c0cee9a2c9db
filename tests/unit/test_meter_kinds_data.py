"""data/nlu/meter_kinds.yml: every name of a meter kind is looked up and mapped to heat or hot_water."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.paths import ROOT

KINDS = ROOT / "data" / "nlu" / "meter_kinds.yml"
VALUES = {"heat", "hot_water"}
# An annotation in the NLU data: [text]{"entity": "meter_kind", "value": "hot_water"}
ANNOTATED_KIND = re.compile(r'\[([^\]]+)\]\{"entity":\s*"meter_kind",\s*"value":\s*"([^"]+)"\}')


def entries(block: str) -> list[str]:
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


@pytest.fixture(scope="module")
def nlu() -> list[dict[str, Any]]:
    data: dict[str, Any] = YAML(typ="safe").load(KINDS.read_text(encoding="utf-8"))
    items: list[dict[str, Any]] = data["nlu"]
    return items


@pytest.fixture(scope="module")
def lookup(nlu: list[dict[str, Any]]) -> list[str]:
    tables = [item for item in nlu if item.get("lookup") == "meter_kind"]
    assert len(tables) == 1
    return entries(tables[0]["examples"])


@pytest.fixture(scope="module")
def synonyms(nlu: list[dict[str, Any]]) -> dict[str, str]:
    """Each name (case-folded, as EntitySynonymMapper compares) and its value."""
    mapped: dict[str, str] = {}
    for item in nlu:
        if "synonym" in item:
            assert item["synonym"] in VALUES
            for name in entries(item["examples"]):
                assert mapped.setdefault(name.casefold(), item["synonym"]) == item["synonym"], name
    return mapped


def test_every_looked_up_name_has_a_value(lookup: list[str], synonyms: dict[str, str]) -> None:
    assert sorted(name for name in lookup if name.casefold() not in synonyms) == []


def test_every_mapped_name_is_looked_up(lookup: list[str], synonyms: dict[str, str]) -> None:
    looked_up = {name.casefold() for name in lookup}
    assert sorted(name for name in synonyms if name not in looked_up) == []


def test_no_name_twice(lookup: list[str]) -> None:
    twice = [name for name, count in Counter(name.casefold() for name in lookup).items() if count > 1]
    assert twice == []


def test_phrases_come_before_their_first_word(lookup: list[str]) -> None:
    """The lookup is one regex alternation and the first entry that matches wins."""
    folded = [name.casefold() for name in lookup]
    shadowed = [
        (earlier, later)
        for index, earlier in enumerate(folded)
        for later in folded[index + 1 :]
        if later.startswith(earlier + " ")
    ]
    assert shadowed == []


def test_both_kinds_are_named(synonyms: dict[str, str]) -> None:
    assert set(synonyms.values()) == VALUES
    assert synonyms["гвп"] == "hot_water" and synonyms["опалення"] == "heat"


def test_annotated_kinds_agree_with_the_synonyms(synonyms: dict[str, str]) -> None:
    """Every meter kind annotated in the NLU data and the NLU test set is a known name of its value."""
    files = [*sorted((ROOT / "data" / "nlu").glob("*.yml")), ROOT / "tests" / "nlu" / "test_nlu.yml"]
    wrong = [
        (path.name, text, value)
        for path in files
        for text, value in ANNOTATED_KIND.findall(path.read_text(encoding="utf-8"))
        if synonyms.get(text.casefold()) != value
    ]
    assert wrong == []
