"""Account numbers, meter numbers and reading values in what a subscriber types.

A number's role depends on the words around it ("о/р 23456", "лічильник 333333", "128,50 м3"),
which lookup tables and regexes cannot express, so the rules are written out here. Values are the
number as typed, without unit or marker. Meter kinds come before this component, from
RegexEntityExtractor and EntitySynonymMapper (data/nlu/meter_kinds.yml), and are used as context:
"ГВП 128" is a reading, "лічильник гарячої води 333333" a meter number.

Every pattern runs in time linear in the message (no ambiguous repetition), and a message with
digits of another script or bidi reordering marks yields nothing: the forms then take the free
text, which the action server checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from custom_components.ukrainian_tokenizer import NUMBER

ACCOUNT_NUMBER = "account_number"
METER_NUMBER = "meter_number"
READING_VALUE = "reading_value"
METER_KIND = "meter_kind"

LONGEST_VALUE = 32
DECIMAL_PLACES = 3

L = r"[^\W\d_]"  # a letter of any script
# What may stand between a marker and its number: "о/р: 23456", "рахунок № 41555", "ліч. - 333333".
GAP = re.compile(r"[\s:=№#\-–—]{0,16}")
ACCOUNT_MARKERS = (
    rf"(?:номер\s+)?(?:особов{L}*\s+)?рахун{L}*",
    rf"(?:номер\s+)?ос(?:об)?\.?\s*рах(?:{L}+|\.)?",
    r"рах\.?",
    rf"особов{L}*",
    r"[оo]\s*/\s*[рpr]\.?",
    r"[оo]\.\s*[рpr]\.?",
    r"[оo]с\s*/\s*[рpr]\.?",
    r"ор",
    r"[лl]\s*/\s*[рсrsc]\.?",
    r"л\.\s*с\.?",
    rf"(?:номер\s+)?лицев{L}*(?:\s+сч[её]т{L}*)?",
    r"(?:номер\s+)?сч[её]т[ау]?",
    rf"osobov{L}*(?:\s+rak?h{L}*)?",
    rf"rak?hun{L}*",
    rf"account{L}*",
    r"acc\.?",
)
METER_MARKERS = (
    rf"(?:номер\s+)?(?:тепло|водо)?л[іиi][чc][іиi]льн{L}*",
    r"ліч\.?",
    rf"(?:номер\s+)?(?:тепло)?сч[её]тчик{L}*",
    rf"lich[iy]ln[iy]k{L}*",
    r"meter(?:\s+(?:number|no\.?|№))?",
    rf"(?:заводськ{L}*|зав\.?)\s*(?:номер|№|н\.)",
    rf"прилад{L}*\s+обліку",
    r"№",
)
READING_MARKERS = (rf"показ{L}*", rf"pokaz{L}*", rf"reading{L}*")


def _either(fragments: Iterable[str]) -> str:
    return "|".join(fragments)


# A marker stands alone on its left and is not the start of a longer word on its right.
MARKER = re.compile(
    rf"(?<!\w)(?:(?P<{ACCOUNT_NUMBER}>{_either(ACCOUNT_MARKERS)})|(?P<{METER_NUMBER}>{_either(METER_MARKERS)})"
    rf"|(?P<{READING_VALUE}>{_either(READING_MARKERS)}))(?!{L})",
    re.IGNORECASE,
)
# A unit after a number makes it a reading: "19 куб", "128.50м³", "2 гкал", "42,10 m3".
UNIT = re.compile(
    rf"[^\S\n]*(?:м\s?3|м³|m3|m³|куб\.?\s*м(?:етр{L}*)?\.?|куб{L}*|м\.?\s*куб{L}*|гкал{L}*|gcal)(?!{L})",
    re.IGNORECASE,
)
# A number of money, a share or a temperature is no reading: "128,50 грн", "55,5°".
NOT_A_READING = re.compile(rf"[^\S\n]*(?:грн|гривн|гривен|uah|₴|%|°|град{L}*)", re.IGNORECASE)
# Meter numbers as printed on receipts (METER_NUMBER in actions/register/meter.py).
METER_TOKEN = re.compile(r"[0-9A-Za-z\u0400-\u04ff./-]+")
# "12 345": an account number typed in groups of thousands.
GROUPED = re.compile(r"[0-9]{1,3}(?:[ \u00a0][0-9]{3})+(?![0-9])")
# With no marker: two numbers on their own, separated by spaces, a comma, a semicolon, a newline or words.
BETWEEN_PAIR = re.compile(rf"(?=.*[\s,;])(?:[\s,;.:\-–—]|{L})+", re.DOTALL)
# "показання лічильника": a meter word right after a reading word names whose reading it is.
READING_WORD_BEFORE = re.compile(rf"(?:показ|pokaz){L}*\s*$", re.IGNORECASE)
FOREIGN_DIGIT = re.compile(r"(?![0-9])\d")
REORDERING = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Found:
    """An entity this component found: its type and where it is in the text."""

    entity: str
    start: int
    end: int


@dataclass(frozen=True)
class Number:
    """A run of ASCII digits with "." or "," between groups, and what stands around it."""

    start: int
    end: int
    shape: str  # "integer", "decimal" or "other" (a date, too long, too many decimals)
    glued_left: bool  # to a word, a slash or a separator: "кв.5", "AB12", "1/2"
    glued_right: bool  # to a word or a slash ("12abc"); a unit may follow ("128м3")
    signed_or_money: bool  # "-128", "128,50 грн", "55,5°": no reading
    unit: bool  # a unit follows: "128,5 м3"

    @property
    def standalone(self) -> bool:
        return self.shape in ("integer", "decimal") and not (
            self.glued_left or self.glued_right or self.signed_or_money
        )


def _shape(text: str) -> str:
    if len(text) > LONGEST_VALUE:
        return "other"
    groups = re.split(r"[.,]", text)
    if len(groups) == 1:
        return "integer"
    if len(groups) == 2 and len(groups[1]) <= DECIMAL_PLACES:
        return "decimal"
    return "other"


def _number(text: str, match: re.Match[str]) -> Number:
    start, end = match.span()
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    signed = before in "-−+" and (start < 2 or not text[start - 2].isalnum())
    unit = UNIT.match(text, end) is not None
    money = NOT_A_READING.match(text, end) is not None
    return Number(
        start,
        end,
        _shape(match.group()),
        glued_left=re.match(r"[\w/.,]", before) is not None,
        glued_right=not unit and re.match(r"[\w/]", after) is not None,
        signed_or_money=signed or money,
        unit=unit,
    )


def _skip(text: str, position: int, kinds: dict[int, int], meter_words: bool) -> int:
    """Where the value after a marker starts: past the gap, meter kinds and (for readings) meter words."""
    for _ in range(4):
        gap = GAP.match(text, position)
        position = gap.end() if gap is not None else position
        if position in kinds:
            position = kinds[position]
            continue
        word = MARKER.match(text, position) if meter_words else None
        if word is None or word.lastgroup != METER_NUMBER:
            break
        position = word.end()
    return position


def _meter_number_end(text: str, position: int) -> int | None:
    """The end of the meter number at the position, if one is there (METER_NUMBER's characters)."""
    token = METER_TOKEN.match(text, position)
    if token is None or (token.end() < len(text) and re.match(r"\w", text[token.end()])):
        return None
    value = token.group().rstrip("./-")
    if len(value) > LONGEST_VALUE or not re.search("[0-9]", value):
        return None
    return position + len(value)


class _Finder:
    """The rules, applied to one message in order: markers, readings, then the integers left."""

    def __init__(self, text: str, kinds: list[tuple[int, int]]) -> None:
        self.text = text
        self.kinds = dict(kinds)
        self.kind_ends = {end for _, end in kinds}
        self.numbers = [_number(text, match) for match in NUMBER.finditer(text)]
        self.found: list[Found] = []
        self.covered: set[int] = set()
        self.markers = 0

    def run(self) -> list[Found]:
        self.marked()
        self.readings()
        self.one_left()
        self.pair()
        return sorted(self.found, key=lambda found: found.start)

    def claim(self, entity: str, start: int, end: int) -> None:
        self.found.append(Found(entity, start, end))
        self.covered.update(range(start, end))

    def free(self) -> list[Number]:
        return [number for number in self.numbers if number.start not in self.covered]

    def integers(self) -> list[Number]:
        return [number for number in self.free() if number.shape == "integer" and number.standalone]

    def marked(self) -> None:
        """The number right after an account, meter or reading marker."""
        for marker in MARKER.finditer(self.text):
            role = marker.lastgroup
            if role is None or (role == METER_NUMBER and self.after_reading_word(marker.start())):
                # "показання лічильника тепла 234": that meter word belongs to the reading word
                continue
            self.markers += role != READING_VALUE
            start = _skip(self.text, marker.end(), self.kinds, meter_words=role == READING_VALUE)
            end = None if start in self.covered else self.value_end(role, start)
            if end is not None:
                self.claim(role, start, end)

    def value_end(self, role: str, start: int) -> int | None:
        match = NUMBER.match(self.text, start)
        number = _number(self.text, match) if match is not None else None
        if role == ACCOUNT_NUMBER and number is not None and number.shape == "integer":
            grouped = GROUPED.match(self.text, start)
            if grouped is not None:
                return grouped.end()
            return None if number.glued_right else number.end
        if role == METER_NUMBER and not (number is not None and (number.shape == "decimal" or number.unit)):
            return _meter_number_end(self.text, start)
        if role == READING_VALUE and number is not None and number.shape in ("integer", "decimal"):
            return None if number.glued_right or number.signed_or_money else number.end
        return None

    def after_reading_word(self, position: int) -> bool:
        return READING_WORD_BEFORE.search(self.text[max(0, position - 40) : position]) is not None

    def readings(self) -> None:
        """Decimals, numbers with a unit, and numbers right after a meter kind ("опалення 477")."""
        for number in self.free():
            if number.standalone and (
                number.shape == "decimal" or number.unit or self.after_kind(number.start)
            ):
                self.claim(READING_VALUE, number.start, number.end)

    def after_kind(self, position: int) -> bool:
        start = position
        while start > 0 and position - start < 8 and self.text[start - 1] in " \t\u00a0:=-–—":
            start -= 1
        return start in self.kind_ends

    def one_left(self) -> None:
        """One of account and meter marked, and exactly one other integer: that is the other."""
        missing = {ACCOUNT_NUMBER, METER_NUMBER} - {found.entity for found in self.found}
        others = self.integers()
        if len(missing) == 1 and len(others) == 1:
            self.claim(missing.pop(), others[0].start, others[0].end)

    def pair(self) -> None:
        """No marker: "23456, 333333" is an account (five digits) and a meter number."""
        if self.found or self.markers or len(self.numbers) != 2:
            return
        first, second = self.numbers
        if (
            self.integers() == [first, second]
            and first.end - first.start == 5
            and BETWEEN_PAIR.fullmatch(self.text, first.end, second.start)
        ):
            self.claim(ACCOUNT_NUMBER, first.start, first.end)
            self.claim(METER_NUMBER, second.start, second.end)


def find_entities(text: str, kinds: list[tuple[int, int]]) -> list[Found]:
    """Account numbers, meter numbers and readings in the text; ``kinds`` are the meter kinds' spans."""
    if FOREIGN_DIGIT.search(text) or REORDERING.search(text):
        return []
    return _Finder(text, kinds).run()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class RegisterEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Adds account_number, meter_number and reading_value; after RegexEntityExtractor and EntitySynonymMapper."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RegisterEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str):
                continue
            entities: list[dict[str, Any]] = list(message.get(ENTITIES) or [])
            taken = [(entity.get("start"), entity.get("end")) for entity in entities]
            kinds = [
                (entity["start"], entity["end"])
                for entity in entities
                if entity.get("entity") == METER_KIND
                and isinstance(entity.get("start"), int)
                and isinstance(entity.get("end"), int)
            ]
            added = [
                {
                    "entity": found.entity,
                    "start": found.start,
                    "end": found.end,
                    "value": text[found.start : found.end],
                    "confidence_entity": 1.0,
                }
                for found in find_entities(text, kinds)
                if not any(_overlap(found, start, end) for start, end in taken)
            ]
            message.set(ENTITIES, entities + self.add_extractor_name(added), add_to_output=True)
        return messages


def _overlap(found: Found, start: Any, end: Any) -> bool:
    return isinstance(start, int) and isinstance(end, int) and found.start < end and start < found.end
