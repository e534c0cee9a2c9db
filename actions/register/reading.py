"""Meter readings: the value rules and the register of submissions.

The value and period rules are plain functions (no database, no Rasa); the query functions
below them take a session and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.register import clock
from actions.register.models import Meter, Reading, ReadingStatus
from actions.register.period import period_of
from actions.register.typed import suspicious, typed

CENT = Decimal("0.01")
DEFAULT_DIAL_DIGITS = 3

# ASCII digits only: \d would also take Arabic-Indic and full-width digits.
_NUMBER = re.compile(r"([0-9]*)(?:[.,]([0-9]*))?")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


class ReadingRefused(ValueError):
    """A reading value that cannot enter the register; ``reason`` names the rule it broke."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text!r}")
        self.reason = reason


def parse_reading(text: str, dial_digits: int = DEFAULT_DIAL_DIGITS, *, among_words: bool = True) -> Decimal:
    """A typed reading as an exact decimal with two places: "123,45", " 123.45 ", "123" -> 123.00, ",5" -> 0.50.

    Raises ReadingRefused with reason ``empty``, ``not_a_number``, ``negative``,
    ``too_many_decimals`` or ``too_many_digits`` (more integer digits than the register has).
    With ``among_words`` (what a subscriber typed) full-width digits count ("１２３．４５", see
    actions.register.typed) and a single number in a short text counts ("показання 123,45 м³"); files
    from billing are read without it: ASCII only, the number alone.
    """
    original = text
    if among_words:
        text = typed(text)
    compact = _SPACES.sub("", text)
    if not compact:
        raise ReadingRefused("empty", original)
    if among_words and suspicious(text):
        raise ReadingRefused("not_a_number", original)
    if (
        among_words
        and _NUMBER.fullmatch(compact.lstrip("+-\u2212")) is None
        and (only := single_number(text))
    ):
        # "показання 123,45", "123.45 м³": the one number among words is the reading.
        compact = _SPACES.sub("", only)
    if compact[0] in "-\u2212" and _digits(_NUMBER.fullmatch(compact[1:])):
        raise ReadingRefused("negative", original)
    match = _NUMBER.fullmatch(compact.removeprefix("+"))
    if match is None or not _digits(match):
        raise ReadingRefused("not_a_number", original)
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > 2:
        raise ReadingRefused("too_many_decimals", original)
    if len(whole.lstrip("0")) > dial_digits:
        raise ReadingRefused("too_many_digits", original)
    return Decimal(f"{whole or '0'}.{fraction or '0'}").quantize(CENT)


# A number as people type it among words: optional sign, digits, optional decimal part.
_NUMBER_IN_TEXT = re.compile(r"(?<![0-9.,])[-\u2212+]?[0-9]+(?:[.,][0-9]+)?(?![0-9]|[.,][0-9])")
_HAS_LETTER_NUMBER_MIX = re.compile(r"[0-9][^\W\d_]|[^\W\d_][0-9]")
# Signs of code or a template rather than words: "{0.__class__}", "${7}", "<b>5</b>", "1_000".
_CODE_LIKE = re.compile(r"[{}\[\]<>$%=*_\\|^~`]")


def single_number(text: str) -> str | None:
    """The one number in a short text of words and a number, or None if there is not exactly one.

    Letters glued to digits ("12з.45", "1e3", "0x1F") never count: that is a typo, not a reading;
    nor does a text with digits of another script ("12٣.45") or reordering marks (actions.register.typed),
    or one that looks like code ("{0.__class__}" is no reading of 0).
    """
    text = typed(text)
    if _HAS_LETTER_NUMBER_MIX.search(text) or suspicious(text) or _CODE_LIKE.search(text):
        return None
    numbers = _NUMBER_IN_TEXT.findall(text)
    return numbers[0] if len(numbers) == 1 else None


def _digits(match: re.Match[str] | None) -> bool:
    return match is not None and bool(match.group(1) or match.group(2))


def dial_limit(dial_digits: int = DEFAULT_DIAL_DIGITS) -> Decimal:
    """The largest value the register shows: 999.99 for XXX.XX."""
    return Decimal(10) ** dial_digits - CENT


def consumption(previous: Decimal, current: Decimal, dial_digits: int = DEFAULT_DIAL_DIGITS) -> Decimal:
    """Consumption between two readings; a lower reading means the dial rolled over."""
    if current >= previous:
        return current - previous
    return current + Decimal(10) ** dial_digits - previous


def format_value(value: Decimal) -> str:
    """Two decimals with a dot, as in "Прийнято 123.45 до обробки"."""
    return f"{value.quantize(CENT):f}"


@dataclass(frozen=True)
class Submission:
    reading: Reading
    superseded: Reading | None
    # The same channel message was already saved (a redelivery): nothing new was written.
    duplicate: bool = False


def submit_reading(
    session: Session,
    meter_id: int,
    value: Decimal,
    *,
    channel: str,
    subscriber_id: int | None = None,
    message_id: str | None = None,
    period: str | None = None,
    submitted_at: dt.datetime | None = None,
) -> Submission:
    """Record an accepted reading; an accepted one for the same meter and period is superseded.

    The value must already be a reading (parse_reading): NaN, infinities, negative values and
    fractions of a cent raise ReadingRefused here rather than enter the register (PostgreSQL's
    NUMERIC takes 'NaN', and NaN passes the CHECK value >= 0).
    """
    if not value.is_finite():
        raise ReadingRefused("not_a_number", str(value))
    if value < 0:
        raise ReadingRefused("negative", str(value))
    if value != value.quantize(CENT):
        raise ReadingRefused("too_many_decimals", str(value))
    submitted_at = submitted_at or clock.now()
    period = period or period_of(submitted_at)
    # Serialise submissions for one meter, so supersede-then-insert cannot interleave.
    session.execute(select(Meter.id).where(Meter.id == meter_id).with_for_update()).one()
    if message_id is not None:
        earlier = session.scalars(
            select(Reading).where(Reading.channel == channel, Reading.message_id == message_id)
        ).one_or_none()
        if earlier is not None:
            return Submission(earlier, None, duplicate=True)
    current = accepted_reading(session, meter_id, period)
    if current is not None:
        current.status = ReadingStatus.SUPERSEDED
        session.flush()
    reading = Reading(
        meter_id=meter_id,
        period=period,
        value=value.quantize(CENT),
        submitted_at=submitted_at,
        channel=channel,
        subscriber_id=subscriber_id,
        message_id=message_id,
        status=ReadingStatus.ACCEPTED,
    )
    session.add(reading)
    session.flush()
    return Submission(reading, current)


def accepted_reading(session: Session, meter_id: int, period: str) -> Reading | None:
    return session.scalars(
        select(Reading).where(
            Reading.meter_id == meter_id,
            Reading.period == period,
            Reading.status == ReadingStatus.ACCEPTED,
        )
    ).one_or_none()


def previous_accepted(session: Session, meter_id: int, period: str) -> Reading | None:
    """The latest accepted reading of an earlier period: the base for consumption."""
    return session.scalars(
        select(Reading)
        .where(
            Reading.meter_id == meter_id,
            Reading.period < period,
            Reading.status == ReadingStatus.ACCEPTED,
        )
        .order_by(Reading.period.desc())
        .limit(1)
    ).one_or_none()


@dataclass(frozen=True)
class PeriodReading:
    period: str
    value: Decimal
    consumption: Decimal | None


def recent_readings(session: Session, meter: Meter, periods: int = 3) -> list[PeriodReading]:
    """The accepted readings of the last ``periods`` periods, newest first, with consumption."""
    rows = session.scalars(
        select(Reading)
        .where(Reading.meter_id == meter.id, Reading.status == ReadingStatus.ACCEPTED)
        .order_by(Reading.period.desc())
        .limit(periods + 1)
    ).all()
    result = []
    for newer, older in zip(rows[:periods], [*rows[1:], None], strict=False):
        used = None if older is None else consumption(older.value, newer.value, meter.dial_digits)
        result.append(PeriodReading(newer.period, newer.value, used))
    return result
