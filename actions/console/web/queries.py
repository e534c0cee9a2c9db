"""Query parameters as the pages accept them: anything else is refused with a message, never guessed."""

from __future__ import annotations

import datetime as dt
import re

from flask import request

from actions.console.web import refuse
from actions.register.period import is_period

PAGE_SIZE = 50
MAX_PAGE = 2000
_CHANNEL = re.compile(r"[a-z][a-z0-9_]{0,31}")


def page() -> int:
    raw = request.args.get("page", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:6]) <= MAX_PAGE or len(raw) > 6:
        refuse(f"Номер сторінки має бути числом від 1 до {MAX_PAGE}.")
    return int(raw)


def choice(name: str, allowed: dict[str, str]) -> str:
    raw = request.args.get(name, "")
    if raw and raw not in allowed:
        refuse(f"Невідоме значення фільтра «{name}».")
    return raw


def channel() -> str:
    raw = request.args.get("channel", "")
    if raw and not _CHANNEL.fullmatch(raw):
        refuse("Канал: латинські малі літери, як viber або socketio.")
    return raw


def date(name: str) -> dt.date | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        refuse("Дата має бути у форматі РРРР-ММ-ДД, наприклад 2026-12-25.")


def period(default: str) -> str:
    raw = request.args.get("period", "") or default
    if not is_period(raw) or not "2000-01" <= raw <= "2100-12":
        refuse("Період має бути у форматі РРРР-ММ, наприклад 2026-12.")
    return raw
