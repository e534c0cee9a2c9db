"""Subscribers' personal data hidden in the console: account and meter numbers, phones, e-mails,
names and addresses, in what subscribers typed, in the bot's answers and in slot values.

Masking is not escaping: pages still escape what they show. Every pattern here runs in time
linear in the text (no ambiguous repetition), because the texts are the subscribers' own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from actions.register.period import MONTHS

HIDDEN = "•••"
DOT = "•"

# Placeholders of domain.yml whose values name a subscriber, a meter or a place (actions/dialogue,
# actions/operators/reminder.py): a title is "Гаряча вода · №222222 · о/р 12345".
PERSONAL = frozenset({"account_number", "meter_number", "address", "title", "meters"})
# Placeholders filled with readings, periods, counts and meter kinds, or with a subscriber's own text
# ({text}, and {value} when a typed reading is refused): shown through mask_text.
FREE = frozenset(
    {
        "kind",
        "value",
        "previous",
        "previous_value",
        "consumption",
        "limit",
        "period",
        "digits",
        "registration_retry_minutes",
        "text",
    }
)
# One line per meter or reading, each line itself a response of domain.yml.
LINES = "lines"
# Slots whose values are the names of other slots or of meter kinds.
IDENTIFIER_SLOTS = frozenset({"requested_slot", "meter_kind"})
# Rasa sets it at each session start from the channel's metadata: the subscriber's Viber name and profile.
PROFILE_SLOTS = frozenset({"session_started_metadata"})
# The key of a bot event's metadata that names the response Rasa uttered.
UTTERED_RESPONSE = "utter_action"
# Database ids in button payloads: internal, needed to follow a conversation, never personal.
INTERNAL_IDS = frozenset({"meter_id"})

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A number with its decimal or grouping marks: "128,50", "067.123.45.67", "12345".
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LONG_RUN = re.compile(r"\d{4,}")
# What people put between the groups of a phone or account number: "+38 (067) 123-45-67", "12 345".
_GROUP_GAP = frozenset(
    " \t\u00a0\u2009\u202f-\u2010\u2011\u2012\u2013\u2014()\u00ad\u200b\u200c\u200d\u2060\ufeff"
)
_LONGEST_GAP = 4
_ALNUM = re.compile(r"[^\W_]+")
# "листопад 2026" is how periods are shown (actions/register/period.py), not a meter number.
_YEAR_OF_MONTH = re.compile(rf"(?<!\w)(?:{'|'.join(MONTHS)}) ((?:19|20)\d\d)(?!\d)", re.IGNORECASE)
# A label a subscriber or the bot puts before personal data; what follows on the line is hidden.
_LABEL = re.compile(
    r"(?<![^\W\d_])(?:адрес[^\W\d_]{0,3}|прізвищ[^\W\d_]{0,3}|піб|ім['’ʼ]?я|телефон[^\W\d_]{0,3}|тел\.?)"
    r"[ \t]{0,3}:",
    re.IGNORECASE,
)
# A street or square marker and up to three words of its name: "вул. Героїв Чорнобиля".
_STREET = re.compile(
    r"(?<![^\W\d_])(?:вул|вулиц[яіюе]|просп|проспект[аіу]?|пров|провул(?:ок|ку|ка)|бульв|бульвар[аіу]?"
    r"|пл|площ[аіею]|узвіз|шосе|майдан[аіу]?|мікрорайон[аіу]?|мкр)\.?[ \t\u00a0]{1,3}"
    r"(?P<name>[^\W\d_][\w'’ʼ-]*+(?:\.?[ \t\u00a0][^\W\d_][\w'’ʼ-]*+){0,2})",
    re.IGNORECASE,
)
_KEEP, _DIGIT, _COLLAPSED = 0, 1, 2


def mask_text(text: str) -> str:
    """Free text with personal data hidden.

    Numbers of four or more digits, also when grouped like "067 123 45 67", "+38 (067) 123-45-67" or
    "0 800-50-50-51", lose their digits one by one ("•••••"); shorter numbers and decimals such as
    readings ("128", "128,50") stay, and so do years after a month ("листопад 2026"). A word mixing
    letters and at least three digits ("AB123", a meter number) loses its digits. E-mails, street names
    and whatever follows "адреса:", "ПІБ:", "телефон:" on its line become "•••".
    """
    marks = bytearray(len(text))
    _mark_numbers(text, marks)
    for word in _ALNUM.finditer(text):
        token = word.group()
        if sum(c.isdigit() for c in token) >= 3 and any(c.isalpha() for c in token):
            _mark_digits(text, word.start(), word.end(), marks)
    for email in EMAIL.finditer(text):
        marks[email.start() : email.end()] = bytes([_COLLAPSED]) * (email.end() - email.start())
    for street in _STREET.finditer(text):
        marks[street.start("name") : street.end("name")] = bytes([_COLLAPSED]) * len(street.group("name"))
    _mark_labelled(text, marks)
    return _apply(text, marks)


def _mark_numbers(text: str, marks: bytearray) -> None:
    years = {m.start(1) for m in _YEAR_OF_MONTH.finditer(text)}
    group: list[re.Match[str]] = []
    for number in _NUMBER.finditer(text):
        if group and _groups_with(text, group[-1], number):
            group.append(number)
            continue
        _mark_group(text, group, years, marks)
        group = [number]
    _mark_group(text, group, years, marks)


def _is_decimal(number: re.Match[str]) -> bool:
    """ "128,50" or "123.45": one mark between digits, as readings are written."""
    return sum(c in ".," for c in number.group()) == 1


def _groups_with(text: str, before: re.Match[str], number: re.Match[str]) -> bool:
    gap = text[before.end() : number.start()]
    return (
        not _is_decimal(before)
        and not _is_decimal(number)
        and len(gap) <= _LONGEST_GAP
        and all(c in _GROUP_GAP for c in gap)
    )


def _mark_group(text: str, group: list[re.Match[str]], years: set[int], marks: bytearray) -> None:
    if not group:
        return
    if len(group) == 1 and _is_decimal(group[0]):
        for run in _LONG_RUN.finditer(text, group[0].start(), group[0].end()):
            _mark_digits(text, run.start(), run.end(), marks)
        return
    digits = sum(sum(c.isdigit() for c in number.group()) for number in group)
    if digits < 4 or (len(group) == 1 and group[0].start() in years and digits == 4):
        return
    _mark_digits(text, group[0].start(), group[-1].end(), marks)


def _mark_digits(text: str, start: int, end: int, marks: bytearray) -> None:
    for index in range(start, end):
        if text[index].isdigit() and marks[index] == _KEEP:
            marks[index] = _DIGIT


def _mark_labelled(text: str, marks: bytearray) -> None:
    for label in _LABEL.finditer(text):
        line_end = text.find("\n", label.end())
        line_end = len(text) if line_end < 0 else line_end
        value = text[label.end() : line_end]
        start = label.end() + len(value) - len(value.lstrip())
        end = label.end() + len(value.rstrip())
        if end > start and text[end - 1] == ".":
            end -= 1  # the sentence's own full stop
        if end > start:
            marks[start:end] = bytes([_COLLAPSED]) * (end - start)


def _apply(text: str, marks: bytearray) -> str:
    if not any(marks):
        return text
    out: list[str] = []
    for index, char in enumerate(text):
        mark = marks[index]
        if mark == _KEEP:
            out.append(char)
        elif mark == _DIGIT:
            out.append(DOT)
        elif index == 0 or marks[index - 1] != _COLLAPSED:
            out.append(HIDDEN)
    return "".join(out)


# --- slots and senders ----------------------------------------------------------------------


def mask_slot(name: str, value: object, categorical: Mapping[str, Collection[str]] | None = None) -> str:
    """A slot's value as a transcript shows it: "null", "true", a categorical value or a slot's name
    as it is, account and meter numbers and the channel's profile as "•••", anything else through
    mask_text."""
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if value is None or isinstance(value, bool) or shown == "":
        return shown
    if name in PERSONAL or name in PROFILE_SLOTS:
        return HIDDEN
    if isinstance(value, str):
        if name in IDENTIFIER_SLOTS and re.fullmatch(r"[a-z_]{1,64}", value):
            return value
        allowed = (categorical or {}).get(name, ())
        if value.casefold() in {option.casefold() for option in allowed}:
            return value
    return mask_text(shown)


def pseudonym(sender_id: str, secret: str | bytes, length: int = 8) -> str:
    """ "абонент 3f9a1c0b": the same label for the same sender, which cannot be turned back into the
    Viber id without the secret."""
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("pseudonym needs a non-empty secret")
    digest = hmac.new(key, sender_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"абонент {digest[:length]}"


# --- the bot's answers ----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)\}")
# Templates with fewer letters of their own ("{title}, {address}") match too much to be guessed
# for a message that does not name its response.
_DISTINCTIVE_LETTERS = 4
_PAYLOAD = re.compile(r"/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.*\})?", re.DOTALL)


@dataclass(frozen=True)
class Template:
    """One text variant of a response, as str.format reads it: literals around placeholders."""

    response: str
    literals: tuple[str, ...]
    placeholders: tuple[str, ...]
    pattern: re.Pattern[str]

    @classmethod
    def compile(cls, response: str, text: str) -> Template:
        literals: list[str] = []
        placeholders: list[str] = []
        literal: list[str] = []
        position = 0
        for token in _PLACEHOLDER.finditer(text):
            literal.append(text[position : token.start()])
            position = token.end()
            if token.group(1) is None:
                literal.append(token.group()[0])
                continue
            literals.append("".join(literal))
            placeholders.append(token.group(1))
            literal = []
        literal.append(text[position:])
        literals.append("".join(literal))
        # Each placeholder ends at the first occurrence of the literal after it, never retried
        # (atomic groups): matching stays linear, and an earlier value never swallows a later one.
        parts = [r"\A", re.escape(literals[0])]
        for index, following in enumerate(literals[1:]):
            if index < len(placeholders) - 1:
                parts.append(f"(?>(?P<p{index}>.*?){re.escape(following)})")
            else:
                parts.append(f"(?P<p{index}>.*?){re.escape(following)}" + r"\Z")
        if not placeholders:
            parts.append(r"\Z")
        return cls(response, tuple(literals), tuple(placeholders), re.compile("".join(parts), re.DOTALL))

    @property
    def letters(self) -> int:
        return sum(c.isalpha() for literal in self.literals for c in literal)

    def match(self, text: str) -> list[str] | None:
        found = self.pattern.match(text)
        if found is None:
            return None
        return [found.group(f"p{index}") for index in range(len(self.placeholders))]


class BotMasker:
    """Masks the bot's messages by the responses of a domain.yml.

    A message is matched against its response's text variants (the event's metadata names it when
    Rasa uttered the response) and then against every distinctive template, since the actions utter
    filled texts without naming them; the template's own words stay, PERSONAL placeholders become
    "•••", the others go through mask_text. A message no template matches goes through mask_text.
    """

    def __init__(self, domain_path: Path) -> None:
        domain = YAML(typ="safe").load(domain_path.read_text(encoding="utf-8")) or {}
        self._by_response: dict[str, list[Template]] = {}
        for response, variants in (domain.get("responses") or {}).items():
            self._by_response[response] = [
                Template.compile(response, variant["text"])
                for variant in variants or []
                if isinstance(variant, dict) and isinstance(variant.get("text"), str)
            ]
        every = [template for templates in self._by_response.values() for template in templates]
        # Longest own text first; on a tie the template that hides more.
        every.sort(key=lambda t: (-t.letters, -sum(name in PERSONAL for name in t.placeholders)))
        self._distinctive = [t for t in every if t.letters >= _DISTINCTIVE_LETTERS]
        self._line_templates = [t for t in every if LINES not in t.placeholders]
        self.categorical: dict[str, frozenset[str]] = {
            name: frozenset(str(option) for option in slot.get("values") or [])
            for name, slot in (domain.get("slots") or {}).items()
            if isinstance(slot, dict) and slot.get("type") == "categorical"
        }

    def mask(self, text: str, utter_action: str | None = None) -> str:
        """A bot message's text; ``utter_action`` is the response Rasa uttered, when it says."""
        named = self._by_response.get(utter_action, []) if utter_action else []
        return self._masked_by(text, [*named, *self._distinctive])

    def mask_slot(self, name: str, value: object) -> str:
        return mask_slot(name, value, self.categorical)

    def mask_buttons(self, buttons: Sequence[object]) -> list[object]:
        """Buttons' titles as bot messages, payloads with their ids kept (`/intent{"meter_id":"7"}`)."""
        masked: list[object] = []
        for button in buttons:
            if not isinstance(button, Mapping):
                masked.append(mask_json(button))
                continue
            copy = {key: mask_json(value) for key, value in button.items()}
            if isinstance(button.get("title"), str):
                copy["title"] = self.mask(button["title"])
            if isinstance(button.get("payload"), str):
                copy["payload"] = mask_payload(button["payload"])
            masked.append(copy)
        return masked

    def mask_bot_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a `bot` event with its text, buttons, other data and metadata masked."""
        metadata = event.get("metadata") if isinstance(event.get("metadata"), Mapping) else {}
        utter_action = metadata.get(UTTERED_RESPONSE) if metadata else None
        masked = dict(event)
        if isinstance(event.get("text"), str):
            masked["text"] = self.mask(event["text"], utter_action if isinstance(utter_action, str) else None)
        data = event.get("data")
        if isinstance(data, Mapping):
            masked["data"] = {
                key: self.mask_buttons(value)
                if key in ("buttons", "quick_replies") and isinstance(value, list)
                else mask_json(value)
                for key, value in data.items()
            }
        if metadata:
            masked["metadata"] = {
                key: value if key == UTTERED_RESPONSE else mask_json(value) for key, value in metadata.items()
            }
        return masked

    def _masked_by(self, text: str, templates: Sequence[Template]) -> str:
        for template in templates:
            values = template.match(text)
            if values is not None:
                return self._filled(template, values)
        return mask_text(text)

    def _filled(self, template: Template, values: list[str]) -> str:
        parts = [template.literals[0]]
        for name, value, literal in zip(template.placeholders, values, template.literals[1:], strict=True):
            parts.append(self._value(name, value))
            parts.append(literal)
        return "".join(parts)

    def _value(self, name: str, value: str) -> str:
        if name == LINES:
            return "\n".join(self._masked_by(line, self._line_templates) for line in value.split("\n"))
        if name in FREE:
            return mask_text(value)
        # PERSONAL, and placeholders added to domain.yml after this list was written
        return HIDDEN if value.strip() else value


def mask_payload(payload: str) -> str:
    """A button's payload: `/intent{...}` keeps its intent and internal ids, the rest is masked."""
    found = _PAYLOAD.fullmatch(payload)
    if found is None or found.group("entities") is None:
        return mask_text(payload)
    try:
        entities = json.loads(found.group("entities"))
    except ValueError:
        return mask_text(payload)
    if not isinstance(entities, dict):
        return mask_text(payload)
    masked = {
        key: value if key in INTERNAL_IDS and _is_id(value) else mask_json(value)
        for key, value in entities.items()
    }
    if masked == entities:
        return payload
    prefix = f"/{mask_text(found.group('intent'))}{found.group('confidence') or ''}"
    return prefix + json.dumps(masked, ensure_ascii=False, separators=(",", ":"))


def _is_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value) is not None
    )


def mask_json(value: object) -> object:
    """Every string (and every number mask_text would change) in decoded JSON, masked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: mask_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        shown = json.dumps(value)
        masked = mask_text(shown)
        return value if masked == shown else masked
    return value
