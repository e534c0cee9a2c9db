"""Personal accounts (особові рахунки): the five-digit number on the receipt, and its address."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.register.models import Account
from actions.register.typed import suspicious, typed

ACCOUNT_DIGITS = 5
ACCOUNT_NUMBER = re.compile(r"[0-9]{5}")
# What people type before the number: "№ 12345", "о/р 12345", "ос. рах. 12345", "рахунок: 12345".
_LABEL = re.compile(
    r"^(?:особов\w*\s+рахун\w*|ос\.?\s*рах\.?|о\s*/\s*р\.?|о\.\s*р\.|рахун\w*|o\s*/\s*r|№|no\.?|n|#)"
    r"\s*[:.№]?\s*",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s\u00a0\u202f\-–]+")


class AccountRefused(ValueError):
    """Typed text that is not an account number; ``reason`` says why: not_digits or length."""

    def __init__(self, reason: str, digits: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.digits = digits


def is_account_number(text: str) -> bool:
    """Exactly five ASCII digits, as stored in the register."""
    return ACCOUNT_NUMBER.fullmatch(text) is not None


def parse_account_number(text: str) -> str:
    """The account number in typed text: "№ 12 345", "о/р 12345", "１２３４５" -> "12345".

    Digits of another script ("١٢٣٤٥") are refused, even next to ASCII ones (actions.register.typed).
    """
    text = typed(text)
    if suspicious(text):
        raise AccountRefused("not_digits")
    compact = text.strip()
    while (label := _LABEL.match(compact)) and label.end() > 0:
        compact = compact[label.end() :]
    compact = _SEPARATORS.sub("", compact)
    if not compact or not compact.isascii() or not compact.isdigit():
        # "мій рахунок 12345", "12345 (Шевченка, 12)": one five-digit number among words.
        five = [group for group in _digit_groups(text) if len(group) == ACCOUNT_DIGITS]
        if len(five) == 1:
            return five[0]
        raise AccountRefused("not_digits")
    if len(compact) != ACCOUNT_DIGITS:
        raise AccountRefused("length", len(compact))
    return compact


_DIGIT_GROUP = re.compile(
    r"(?<![0-9A-Za-z\u0400-\u04ff])[0-9]+(?:[ \u00a0-][0-9]+)*(?![0-9A-Za-z\u0400-\u04ff])"
)


def _digit_groups(text: str) -> list[str]:
    """Standalone runs of ASCII digits ("12 345" is one run), not glued to letters."""
    return [_SEPARATORS.sub("", group) for group in _DIGIT_GROUP.findall(text)]


def mask_address(address: str) -> str:
    """The address with names and numbers mostly hidden.

    "вул. Шевченка, 12, кв. 3" becomes "вул. Ш*******, 1*, кв. *".

    The city and abbreviations (вул., кв., м.) stay, so the owner recognises it; a stranger
    learns little.
    """
    parts = []
    for part in address.split(","):
        words = []
        for word in part.split():
            if word.endswith(".") or word.lower() in _KEEP_WORDS:
                words.append(word)
            elif len(word) == 1:
                words.append("*")
            else:
                words.append(word[0] + "*" * (len(word) - 1))
        parts.append(" ".join(words))
    return ", ".join(parts)


_KEEP_WORDS = {"чернігів", "м.", "вул.", "просп.", "пр.", "пров.", "буд.", "кв.", "б-р", "бульв."}


def find_account(session: Session, number: str) -> Account | None:
    return session.scalars(select(Account).where(Account.number == number)).one_or_none()
