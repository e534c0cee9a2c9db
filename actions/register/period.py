"""Billing periods (YYYY-MM) by the calendar in Kyiv, and the window for sending readings."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")
# The recommended days to send readings: the 25th to the month's last day.
WINDOW_FIRST_DAY = 25

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def is_period(text: str) -> bool:
    return _PERIOD.fullmatch(text) is not None


def period_of(moment: dt.datetime) -> str:
    """The billing period (YYYY-MM) a moment falls in, by the calendar in Kyiv."""
    local = moment.astimezone(KYIV)
    return f"{local.year:04d}-{local.month:02d}"


MONTHS = (
    "січень", "лютий", "березень", "квітень", "травень", "червень",
    "липень", "серпень", "вересень", "жовтень", "листопад", "грудень",
)  # fmt: skip


def period_title(period: str) -> str:
    """ "2026-11" as subscribers say it: "листопад 2026"."""
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def previous_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"


def reading_window(period: str) -> tuple[dt.date, dt.date]:
    """The recommended days to send readings: the 25th to the last day of the month."""
    year, month = (int(part) for part in period.split("-"))
    return dt.date(year, month, WINDOW_FIRST_DAY), dt.date(year, month, calendar.monthrange(year, month)[1])


def in_reading_window(moment: dt.datetime) -> bool:
    first, last = reading_window(period_of(moment))
    return first <= moment.astimezone(KYIV).date() <= last
