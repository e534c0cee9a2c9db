"""Personal accounts (особові рахунки): the five-digit number on the receipt."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.models import Account

ACCOUNT_NUMBER = re.compile(r"[0-9]{5}")


def is_account_number(text: str) -> bool:
    """Exactly five ASCII digits, as stored in the register."""
    return ACCOUNT_NUMBER.fullmatch(text) is not None


def find_account(session: Session, number: str) -> Account | None:
    return session.scalars(select(Account).where(Account.number == number)).one_or_none()
