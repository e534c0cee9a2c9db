"""A conversation from Rasa's tracker store as a test story for tests/, which `rasa test` reads.

The file is meant for git, so no subscriber's data goes in: every number's digits become 1, 2, 3,
... 9, 0 from its first digit ("о/р 48213" is "о/р 12345", "128,50" is "123,45") and e-mails
become one made-up address, in the texts, in entity values and in slot values alike, so a
story keeps the shape the NLU and the forms react to.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from actions.console.masking import EMAIL

VERSION = "3.1"
DEFAULT_NAME = "Розмова з консолі"
LONGEST_NAME = 120
MADE_UP_EMAIL = "abonent@example.com"
# Not a thing said or done in the conversation: Rasa adds them around every turn and session.
SKIPPED_ACTIONS = frozenset({"action_listen", "action_session_start"})
# Set by action_session_start from the channel's metadata (the subscriber's Viber profile).
SKIPPED_SLOTS = frozenset({"session_started_metadata"})
# Non-ASCII on purpose: Rasa reads an all-ASCII file through "raw_unicode_escape" (emoji support),
# which would turn a typed "\u0041" into "A" and fail on "\user".
HEADER = "# Збережено з консолі: цифри й адреси e-mail абонента замінено вигаданими.\n"

_NUMBER = re.compile(r"\d+(?:[.,\u00a0\u202f \-–]\d+)*")
_LINE_BREAK = re.compile(r"\r\n?|[\x85\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ENTITY_NAME = re.compile(r"\w+")
_PLAIN_VALUE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf"})
# Rasa reads "[text](entity)", "[text]{...}" and "[text][...]" in a story's user text as entity
# annotations and has no escape for them; the full-width brackets look the same to a reader.
_BRACKETS = str.maketrans({"[": "［", "]": "］"})


def pseudonymise(text: str) -> str:
    """Digits replaced by 1, 2, ... 9, 0 restarting with each number, e-mails by one made-up one."""
    return _NUMBER.sub(_cycle, EMAIL.sub(MADE_UP_EMAIL, text))


def _cycle(number: re.Match[str]) -> str:
    out: list[str] = []
    count = 0
    for char in number.group():
        if char.isdigit():
            count += 1
            # the same script's digit: "٤٨" stays Arabic-Indic, which the NLU treats differently
            out.append(chr(ord(char) - unicodedata.decimal(char) + count % 10))
        else:
            out.append(char)
    return "".join(out)


def test_story(events: Sequence[Mapping[str, Any]], name: str) -> str:
    """The conversation as a YAML document with one test story called ``name``.

    User turns keep their text (entities annotated inline) and intent, or only the intent for
    button payloads; actions, form (de)activations and slots follow as Rasa logged them, without
    `action_listen` and session starts. Rewinds and undos are applied as Rasa applies them; the
    sessions of a conversation follow each other without the slot resets a new session brings.

    Raises:
        ValueError: the events hold no step of a story.
    """
    steps = [step for event in _applied(events) if (step := _step(event)) is not None]
    if not steps:
        raise ValueError("the conversation has no user turn, action or slot to save")
    yaml = _yaml()
    document = io.StringIO()
    document.write(HEADER)
    yaml.dump({"version": DoubleQuotedScalarString(VERSION)}, document)
    document.write("\n")
    yaml.dump({"stories": [{"story": story_name(name), "steps": steps}]}, document)
    return document.getvalue()


def story_name(name: str) -> str:
    """One line of printed characters, pseudonymised like the texts."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    return pseudonymise(cleaned)[:LONGEST_NAME].strip() or DEFAULT_NAME


def _applied(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events without those a rewind or an undo took back (Rasa's tracker.applied_events)."""
    applied: list[Mapping[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "undo":
            _undo_till(applied, "action")
        elif kind == "rewind":
            _undo_till(applied, "user")
            _undo_till(applied, "action")  # the action_listen before the message
        else:
            applied.append(event)
    return applied


def _undo_till(applied: list[Mapping[str, Any]], kind: str) -> None:
    while applied:
        if applied.pop().get("event") == kind:
            return


def _step(event: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = event.get("event")
    if kind == "user":
        return _user_step(event)
    if kind == "action":
        action = event.get("name")
        if not isinstance(action, str) or not action or action in SKIPPED_ACTIONS:
            return None
        return {"action": action}
    if kind == "active_loop":
        loop = event.get("name")
        return {"active_loop": loop if isinstance(loop, str) and loop else None}
    if kind == "slot":
        slot = event.get("name")
        if not isinstance(slot, str) or not slot or slot in SKIPPED_SLOTS:
            return None
        return {"slot_was_set": [{slot: _value(event.get("value"))}]}
    return None


def _user_step(event: Mapping[str, Any]) -> dict[str, Any] | None:
    parse_data = _mapping(event.get("parse_data"))
    intent = _mapping(parse_data.get("intent")).get("name")
    intent = intent if isinstance(intent, str) and intent else None
    entities = [e for e in parse_data.get("entities") or [] if isinstance(e, Mapping)]
    text = event.get("text")
    text = text if isinstance(text, str) else ""
    if not text.strip() or text.strip().startswith("/"):
        # a button's payload (`/submit_reading{"meter_id":"7"}`) or a channel's event: what was meant
        if intent is None:
            return None
        step: dict[str, Any] = {"intent": intent}
        named = [{e["entity"]: _value(e.get("value"))} for e in entities if isinstance(e.get("entity"), str)]
        if named:
            step["entities"] = named
        return step
    step = {"user": _block(_annotated(text, entities).strip())}
    if intent is not None:
        step["intent"] = intent
    return step


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _annotated(text: str, entities: Sequence[Mapping[str, Any]]) -> str:
    """The text, pseudonymised, with its entities in Rasa's markup: "о/р [12345](account_number)"."""
    parts: list[str] = []
    position = 0
    for entity in _placed(text, entities):
        start, end = entity["start"], entity["end"]
        parts.append(_plain(text[position:start]))
        shown = _plain(text[start:end])
        value = entity.get("value")
        value = shown if value is None else pseudonymise(str(value))
        extra = {key: str(entity[key]) for key in ("role", "group") if isinstance(entity.get(key), str)}
        if value == shown and not extra and _ENTITY_NAME.fullmatch(entity["entity"]):
            parts.append(f"[{shown}]({entity['entity']})")
        else:
            parts.append(f"[{shown}]{_entity_dict({'entity': entity['entity'], 'value': value, **extra})}")
        position = end
    parts.append(_plain(text[position:]))
    return "".join(parts)


def _placed(text: str, entities: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Entities with a span of the text, in order, without overlaps (the first found wins)."""
    spanned = [
        e
        for e in entities
        if isinstance(e.get("entity"), str)
        and e["entity"]
        and isinstance(e.get("start"), int)
        and isinstance(e.get("end"), int)
        and 0 <= e["start"] < e["end"] <= len(text)
        and text[e["start"] : e["end"]].strip()
    ]
    placed: list[Mapping[str, Any]] = []
    for entity in sorted(spanned, key=lambda e: int(e["start"])):
        if not placed or entity["start"] >= placed[-1]["end"]:
            placed.append(entity)
    return placed


def _plain(text: str) -> str:
    # YAML reads \r, U+2028 and the like as line breaks anyway
    cleaned = _LINE_BREAK.sub("\n", _SURROGATE.sub("\ufffd", text))
    return pseudonymise(cleaned).translate(_BRACKETS)


def _entity_dict(attributes: Mapping[str, str]) -> str:
    inner = json.dumps(dict(attributes), ensure_ascii=False)
    # Rasa's markup ends the dict at the first "}": one inside a value is written as a JSON escape.
    return "{" + inner[1:-1].replace("}", "\\u007d") + "}"


def _value(value: object) -> object:
    if isinstance(value, str):
        return _scalar(pseudonymise(_SURROGATE.sub("\ufffd", value)))
    if isinstance(value, Mapping):
        return {str(key): _value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_value(item) for item in value]
    return value


def _scalar(value: str) -> str:
    """Words like `ask` stay plain as in the project's stories; anything else is double-quoted."""
    if _PLAIN_VALUE.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    quoted: str = DoubleQuotedScalarString(value)
    return quoted


def _block(text: str) -> str:
    """A `|` block where it reads back exactly; double quotes, with escapes, where it would not."""
    block: str
    if all(line == line.rstrip() and line.isprintable() for line in text.split("\n")):
        block = LiteralScalarString(text + "\n")
    else:
        block = DoubleQuotedScalarString(text)
    return block


class _Representer(RoundTripRepresenter):
    """Writes None as `null`, as the project's stories do, where ruamel writes nothing."""

    def represent_none(self, data: None) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(type(None), _Representer.represent_none)


def _yaml() -> YAML:
    yaml = YAML()
    yaml.Representer = _Representer
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml
