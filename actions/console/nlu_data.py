"""Examples labelled in the console's NLU inbox: checked against domain.yml and Rasa's entity markup,
then written as a data/nlu-style YAML file or appended to the project's own data/nlu files.

Files and text only (no Flask, no database): the inbox pages call it. Nothing here imports Rasa, which
lives in the other environment; the markup grammar below is Rasa 3.6's, and the tests load what this
module writes with Rasa's own loader.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

# sent by the channels for events (custom_channels/viber.py), never typed
CHANNEL_INTENTS = frozenset({"conversation_started", "subscribed", "unsubscribed", "non_text_message"})
# Rasa's FallbackClassifier predicts it; it names no meaning an example could have
FALLBACK_INTENT = "nlu_fallback"
# set by a button's payload (/intent{"meter_id":"7"}), never read from text
BUTTON_ENTITIES = frozenset({"meter_id"})

MAX_LENGTH = 200
INBOX_FILE = "inbox.yml"
HEADER = (
    'version: "3.1"\n\n'
    "# Labelled in the staff console's NLU inbox; move each intent to its feature's file in data/nlu/.\n"
    "nlu:\n"
)

# Rasa 3.6's annotation grammar (ENTITY_REGEX of rasa/shared/nlu/training_data/entities_parser.py):
# [text](entity), [text](entity:value), [text]{"entity": "e", "value": "v"} and [text][{...}, {...}]
ANNOTATION = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\]"
    r"(\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
MARKUP_SIGNS = frozenset("[]{}")
# where str.splitlines(), and so Rasa reading an examples block, starts a new example
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
# control, format (zero-width, bidi, BOM), surrogate; YAML refuses the noncharacters U+FFFE and U+FFFF
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
NONCHARACTERS = frozenset("\ufffe\uffff")
INTENT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
INTENT_LINE = re.compile(r" *- intent: *(?P<name>[^\s#]+) *(?:#.*)?")
EXAMPLES_LINE = re.compile(r" *examples: *\| *(?:#.*)?")
# the keys of an nlu entry, in the order Rasa's RasaYAMLReader looks for them
KINDS = ("intent", "synonym", "regex", "lookup")


class Item(NamedTuple):
    """An entry of a file's nlu list as Rasa reads it."""

    kind: str  # intent, synonym, regex or lookup
    name: str
    texts: list[str]


class LabelError(ValueError):
    """A label the console refuses; the message (Ukrainian) is shown to the designer as it is."""


class NluFileError(RuntimeError):
    """A data/nlu file this module cannot change safely; nothing was written. Ukrainian message."""


@dataclass(frozen=True)
class Example:
    """One labelled example: an intent and one line of text in Rasa's entity markup."""

    intent: str
    text: str

    def __post_init__(self) -> None:
        # both writers put intent and text unquoted on a line of YAML: nothing may end or break it
        if not INTENT_NAME.fullmatch(self.intent):
            raise LabelError(f"Недопустима назва наміру «{self.intent}».")
        _check_characters(self.text)
        if not self.text or self.text != self.text.strip():
            raise LabelError("Текст прикладу порожній або починається чи закінчується пробілом.")
        if len(self.text) > MAX_LENGTH:
            raise LabelError(f"Приклад задовгий: {len(self.text)} символів, можна до {MAX_LENGTH}.")

    @property
    def key(self) -> str:
        return _folded(self.text)

    @property
    def plain_key(self) -> str:
        return _folded(_plain(self.text))


@dataclass(frozen=True)
class AddReport:
    added: dict[Path, list[Example]] = field(default_factory=dict)
    duplicates: list[Example] = field(default_factory=list)
    # each with the other intent that already has the same words
    conflicts: list[tuple[Example, str]] = field(default_factory=list)

    def __str__(self) -> str:
        files = ", ".join(f"{path.name}: {len(examples)}" for path, examples in self.added.items())
        count = sum(len(examples) for examples in self.added.values())
        return (
            f"Додано прикладів: {count}"
            + (f" ({files})" if files else "")
            + f"; пропущено повторів: {len(self.duplicates)}"
            + f"; пропущено, бо вже є з іншим наміром: {len(self.conflicts)}."
        )


# --- checking a label -------------------------------------------------------------------------


def labelable(domain_path: Path) -> tuple[list[str], list[str]]:
    """The intents and entities of domain.yml a designer may give typed text, in the domain's order."""
    return _labelable(domain_path, domain_path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _labelable(domain_path: Path, _modified: int) -> tuple[list[str], list[str]]:
    # parsing domain.yml is most of an inbox page's time; the file's mtime keys the cache
    domain = YAML(typ="safe").load(domain_path.read_text(encoding="utf-8")) or {}
    intents = [
        name for name in _names(domain.get("intents")) if name not in CHANNEL_INTENTS | {FALLBACK_INTENT}
    ]
    entities = [name for name in _names(domain.get("entities")) if name not in BUTTON_ENTITIES]
    return intents, entities


def _names(entries: list[Any] | None) -> Iterator[str]:
    """Names of a domain list whose entries are names or one-key mappings (a name and its settings)."""
    for entry in entries or []:
        yield from (entry.keys() if isinstance(entry, dict) else [entry])


def checked_example(intent: str, text: str, *, intents: Sequence[str], entities: Sequence[str]) -> Example:
    """The designer's label, refused with a LabelError unless Rasa reads it back exactly as meant."""
    if intent in CHANNEL_INTENTS or intent == FALLBACK_INTENT:
        raise LabelError(f"Намір «{intent}» ставить канал або Rasa, а не текст повідомлення; оберіть інший.")
    if intent not in intents:
        raise LabelError(f"Невідомий намір «{intent}». Можна: {', '.join(intents)}.")
    _check_characters(text)  # before spaces are collapsed, which would hide a line break
    example = Example(intent, _normalised(text))
    _check_markup(example.text, entities)
    return example


def _check_characters(text: str) -> None:
    for char in text:
        if char in LINE_BREAKS:
            raise LabelError("Приклад має бути одним рядком, без переносів.")
        if unicodedata.category(char) in INVISIBLE_CATEGORIES or char in NONCHARACTERS:
            raise LabelError(
                f"Приклад містить керівний або невидимий символ U+{ord(char):04X}; приберіть його."
            )
        if char == "\\":
            # Rasa reads \u.... in a file without non-ASCII letters as a character code
            raise LabelError("Зворотна скісна риска (\\) у прикладах не підтримується.")


def _normalised(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _folded(text: str) -> str:
    return _normalised(text).casefold()


def _plain(text: str) -> str:
    """The text Rasa trains on: each annotation replaced by its annotated words."""
    return ANNOTATION.sub(lambda match: match["entity_text"], text)


def _check_markup(text: str, entities: Sequence[str]) -> None:
    for match in ANNOTATION.finditer(text):
        _check_annotated_words(match["entity_text"])
        if match["list_entity_dicts"] is not None:
            raise LabelError(
                "Кілька сутностей на одних словах ([слова][{...}, {...}]) консоль не приймає: "
                "позначте слова однією сутністю."
            )
        if match["entity_dict"] is not None:
            _check_entity_dict(match["entity_dict"], entities)
        else:
            _check_entity_name(match["entity"], entities)
            if match["value"] is not None:
                _check_entity_value(match["value"])
    if stray := sorted(MARKUP_SIGNS.intersection(ANNOTATION.sub("", text))):
        raise LabelError(
            f"Дужки {' '.join(stray)} поза розміткою сутності: пишіть [слова](сутність) "
            'або [слова]{"entity": "сутність", "value": "значення"}.'
        )


def _check_annotated_words(words: str) -> None:
    if words != words.strip() or MARKUP_SIGNS.intersection(words):
        raise LabelError(
            f"Розмітка [{words}] має охоплювати слова без пробілів по краях і без дужок усередині."
        )


def _check_entity_name(name: str, entities: Sequence[str]) -> None:
    if name not in entities:
        raise LabelError(f"Невідома сутність «{name}». Можна: {', '.join(entities)}.")


def _check_entity_value(value: str) -> None:
    if not value.strip() or value != value.strip() or MARKUP_SIGNS.union("()").intersection(value):
        raise LabelError(f"Значення сутності «{value}» порожнє, з пробілами по краях або з дужками.")


def _check_entity_dict(content: str, entities: Sequence[str]) -> None:
    try:
        entity = json.loads(f"{{{content}}}", object_pairs_hook=_without_repeated_keys)
    except json.JSONDecodeError:
        raise LabelError(
            f'Не вдалося прочитати {{{content}}}: має бути {{"entity": "сутність", "value": "значення"}}.'
        ) from None
    if not {"entity"} <= entity.keys() <= {"entity", "value"} or not all(
        isinstance(item, str) for item in entity.values()
    ):
        raise LabelError(f'У {{{content}}} потрібні лише рядки "entity" і, за бажанням, "value".')
    _check_entity_name(entity["entity"], entities)
    if "value" in entity:
        _check_entity_value(entity["value"])


def _without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise LabelError(f"Ключ повторюється в розмітці сутності: {', '.join(keys)}.")
    return dict(pairs)


# --- writing YAML -----------------------------------------------------------------------------


def nlu_yaml(examples: Sequence[Example]) -> str:
    """A data/nlu file of the examples: grouped by intent, sorted, each once."""
    groups: dict[str, dict[str, Example]] = defaultdict(dict)
    for example in examples:
        groups[example.intent].setdefault(example.key, example)
    added = {intent: [groups[intent][key] for key in sorted(groups[intent])] for intent in sorted(groups)}
    document = HEADER + "\n".join(_intent_item(intent, group) for intent, group in added.items())
    _check_written(Path(INBOX_FILE), None, document, added)
    return document


def _intent_item(intent: str, examples: Sequence[Example]) -> str:
    return f"  - intent: {intent}\n    examples: |\n" + "".join(f"      - {e.text}\n" for e in examples)


def _check_written(path: Path, before: str | None, after: str, added: dict[str, list[Example]]) -> None:
    """Refuses to write unless the new text reads as the old one plus exactly the added examples."""
    old, new = _document(path, before), _document(path, after)
    expected = _items(old)
    for intent, examples in added.items():
        texts = [example.text for example in examples]
        place = next((item for item in expected if item.kind == "intent" and item.name == intent), None)
        if place is None:
            expected.append(Item("intent", intent, texts))
        else:
            expected[expected.index(place)] = place._replace(texts=place.texts + texts)
    if _items(new) != expected or _other_keys(new) != _other_keys(old):
        raise NluFileError(f"Не вдалося безпечно дописати приклади в {path.name}; файл не змінено.")


def _document(path: Path, text: str | None) -> dict[str, Any]:
    try:
        document = YAML(typ="safe").load(text or HEADER) or {}  # an empty file is a new one
    except YAMLError as error:
        raise NluFileError(f"Файл {path.name} не читається як YAML: {error}") from None
    if not isinstance(document, dict):
        raise NluFileError(f"Файл {path.name} не є файлом даних NLU.")
    return document


def _items(document: dict[str, Any]) -> list[Item]:
    items: list[Item] = []
    for entry in document.get("nlu") or []:
        if not isinstance(entry, dict):
            items.append(Item("", repr(entry), []))
            continue
        kind = next((key for key in KINDS if key in entry), "")
        items.append(Item(kind, str(entry.get(kind, "")), _example_texts(entry.get("examples"))))
    return items


def _example_texts(examples: Any) -> list[str]:
    if isinstance(examples, list):
        return [
            str(example.get("text", "")).strip("\n\r ") for example in examples if isinstance(example, dict)
        ]
    lines = examples.splitlines() if isinstance(examples, str) else []
    # as Rasa's RasaYAMLReader._parse_multiline_example
    return [line[1:].strip("\n\r ") for line in lines if line.startswith("-")]


def _other_keys(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "nlu"}


# --- adding to the project's files ------------------------------------------------------------


def add_to_project(nlu_dir: Path, examples: Sequence[Example]) -> AddReport:
    """Appends each new example to the file that has its intent (else inbox.yml), text line by text line.

    An example already there for its intent (any file, any case or spacing) is a duplicate; one whose
    words another intent already has is a conflict (Rasa's validation warns of it): both are skipped.
    """
    with _locked(nlu_dir):
        texts = {path: path.read_text(encoding="utf-8") for path in _nlu_files(nlu_dir)}
        items = {path: _items(_document(path, text)) for path, text in texts.items()}
        new, duplicates, conflicts = _sorted_out(
            examples, [item for found in items.values() for item in found]
        )
        additions = _by_file(nlu_dir, items, new)
        written = {
            path: _with_examples(path, texts.get(path), _intents(items.get(path, [])), added)
            for path, added in additions.items()
        }
        for path, text in written.items():
            _write_atomically(path, text)
    added = {
        path: [example for group in groups.values() for example in group]
        for path, groups in additions.items()
    }
    return AddReport(added, duplicates, conflicts)


def _sorted_out(
    examples: Sequence[Example], items: list[Item]
) -> tuple[list[Example], list[Example], list[tuple[Example, str]]]:
    """The examples to add, the duplicates and the conflicts, each in the examples' order."""
    keys: dict[str, set[str]] = defaultdict(set)
    intents_of: dict[str, set[str]] = defaultdict(set)
    for item in items:
        if item.kind == "intent":
            keys[item.name].update(_folded(text) for text in item.texts)
            for text in item.texts:
                intents_of[_folded(_plain(text))].add(item.name)
    new: list[Example] = []
    duplicates: list[Example] = []
    conflicts: list[tuple[Example, str]] = []
    for example in examples:
        others = intents_of[example.plain_key] - {example.intent}
        if example.key in keys[example.intent]:
            duplicates.append(example)
        elif others:
            conflicts.append((example, min(others)))
        else:
            new.append(example)
            keys[example.intent].add(example.key)
            intents_of[example.plain_key].add(example.intent)
    return new, duplicates, conflicts


def _intents(items: list[Item]) -> set[str]:
    return {item.name for item in items if item.kind == "intent"}


def _nlu_files(nlu_dir: Path) -> list[Path]:
    return sorted(path for path in nlu_dir.iterdir() if path.suffix in (".yml", ".yaml") and path.is_file())


def _by_file(
    nlu_dir: Path, items: dict[Path, list[Item]], examples: list[Example]
) -> dict[Path, dict[str, list[Example]]]:
    """The examples grouped by the first file with their intent (else inbox.yml), then by intent."""
    intents = {path: _intents(found) for path, found in items.items()}
    additions: dict[Path, dict[str, list[Example]]] = defaultdict(lambda: defaultdict(list))
    for example in examples:
        home = next((path for path in intents if example.intent in intents[path]), nlu_dir / INBOX_FILE)
        additions[home][example.intent].append(example)
    return {path: dict(groups) for path, groups in additions.items()}


def _with_examples(path: Path, before: str | None, present: set[str], added: dict[str, list[Example]]) -> str:
    text = before or HEADER
    for intent, examples in added.items():
        text = (
            _inserted(path, text, intent, examples)
            if intent in present
            else _appended(text, intent, examples)
        )
    _check_written(path, before, text, added)
    return text


def _appended(text: str, intent: str, examples: Sequence[Example]) -> str:
    separator = "" if text.endswith("nlu:\n") else "\n" if text.endswith("\n") else "\n\n"
    return text + separator + _intent_item(intent, examples)


def _inserted(path: Path, text: str, intent: str, examples: Sequence[Example]) -> str:
    """The text with the examples after the last line of the intent's examples block."""
    lines = text.split("\n")
    start = next(
        (
            number
            for number, line in enumerate(lines)
            if (m := INTENT_LINE.fullmatch(line)) and m["name"].strip("'\"") == intent
        ),
        None,
    )
    if start is None:
        raise NluFileError(f"У {path.name} не знайдено рядка «- intent: {intent}»; файл не змінено.")
    key_indent = _indent(lines[start]) + 2
    item_end = _block_end(lines, start, _indent(lines[start]))
    examples_line = next(
        (
            n
            for n in range(start + 1, item_end)
            if _indent(lines[n]) == key_indent and EXAMPLES_LINE.fullmatch(lines[n])
        ),
        None,
    )
    if examples_line is None:
        raise NluFileError(
            f"Приклади наміру {intent} у {path.name} записані не як «examples: |»; файл не змінено."
        )
    block_end = _block_end(lines, examples_line, key_indent)
    content = [n for n in range(examples_line + 1, block_end) if lines[n].strip()]
    indent = " " * (_indent(lines[content[0]]) if content else key_indent + 2)
    at = (content[-1] if content else examples_line) + 1
    return "\n".join(lines[:at] + [f"{indent}- {example.text}" for example in examples] + lines[at:])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The number of the first line after start that is not blank and not indented deeper than indent."""
    return next(
        (n for n in range(start + 1, len(lines)) if lines[n].strip() and _indent(lines[n]) <= indent),
        len(lines),
    )


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # the console's worker processes may add at the same moment: one read-change-write at a time
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _write_atomically(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    # a dot name ending in .tmp: Rasa never loads a half-written file as training data
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
