"""The console's Period page: who registered, readings by day, coverage, refusals, meters still to read.

Every number is counted by the database (GROUP BY, COUNT), and the meters without a reading come a page
at a time, so the page stays quick at 20,000 meters and 100,000 conversations. Days and months are
Kyiv's, cut by the same zoneinfo as actions.register.period, never by the database's time zone data.
A meter counts as registered in a period when someone enrolled on it before the period's end.

The page's billing file is actions.operators.billing.export_readings (`otke export-readings`).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TextIO
from xml.sax.saxutils import escape

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from actions.console.models import Refusal
from actions.operators.billing import IMPORT_CHANNEL, spreadsheet_cell
from actions.register import clock
from actions.register.meter import KIND_TITLE
from actions.register.models import (
    Account,
    Meter,
    MeterKind,
    Reading,
    ReadingStatus,
    Subscriber,
    subscriber_meters,
)
from actions.register.period import KYIV, is_period, period_of, period_title, previous_period, reading_window
from actions.register.reading import format_value

# The bot's answers that refuse what a subscriber typed, with what staff call the reason.
# The conversation index takes its list of refusals from here.
REFUSAL_REASONS: dict[str, str] = {
    "utter_account_not_digits": "Рахунок: не лише цифри",
    "utter_account_wrong_length": "Рахунок: не 5 цифр",
    "utter_account_unknown": "Рахунок не знайдено",
    "utter_meter_number_invalid": "Некоректний номер лічильника",
    "utter_meter_not_on_account": "Лічильника немає на рахунку",
    "utter_registration_failed": "Реєстрація: лічильник не знайдено",
    "utter_registration_blocked": "Реєстрацію заблоковано: забагато спроб",
    "utter_meter_choice_unknown": "Вибрано не свій лічильник",
    "utter_reading_empty": "Порожнє показання",
    "utter_reading_not_a_number": "Показання не є числом",
    "utter_reading_negative": "Від’ємне показання",
    "utter_reading_too_many_decimals": "Більше двох знаків після крапки",
    "utter_reading_too_many_digits": "Забагато цифр до крапки",
    "utter_reading_below_previous": "Менше за попереднє показання",
    "utter_reading_window_closed": "Поза вікном передачі показань",
    "utter_meter_not_available": "Лічильник не зареєстровано в абонента",
    "utter_reading_not_confirmed": "Абонент не підтвердив показання",
    "utter_only_text": "Не текстове повідомлення",
}

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
CSV_CHUNK = 2000
MISSING_COLUMNS = (
    "Особовий рахунок",
    "Адреса",
    "Лічильник",
    "Вид",
    "Канали абонентів",
    "Останній період",
    "Останнє показання",
)
MONTHS_GENITIVE = (
    "січня", "лютого", "березня", "квітня", "травня", "червня",
    "липня", "серпня", "вересня", "жовтня", "листопада", "грудня",
)  # fmt: skip


@dataclass(frozen=True)
class ChannelRegistrations:
    channel: str
    meters: int
    subscribers: int


@dataclass(frozen=True)
class Registrations:
    by_channel: tuple[ChannelRegistrations, ...]
    # Distinct over all channels: a meter enrolled on Viber and in the web chat counts once.
    meters: int
    subscribers: int
    register_meters: int


@dataclass(frozen=True)
class DayCount:
    date: dt.date
    count: int

    @property
    def day(self) -> int:
        return self.date.day


@dataclass(frozen=True)
class DailyReadings:
    days: tuple[DayCount, ...]
    previous: tuple[DayCount, ...]
    window: tuple[int, int]

    @property
    def received(self) -> int:
        return sum(day.count for day in self.days)

    @property
    def previous_received(self) -> int:
        return sum(day.count for day in self.previous)


@dataclass(frozen=True)
class Coverage:
    registered: int
    with_reading: int

    @property
    def without_reading(self) -> int:
        return self.registered - self.with_reading

    @property
    def percent(self) -> Decimal | None:
        """The share with an accepted reading, to 0.1 %; None when no meter is registered."""
        if not self.registered:
            return None
        return (Decimal(100 * self.with_reading) / self.registered).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class RefusalCount:
    reason: str
    label: str
    count: int


@dataclass(frozen=True)
class MissingMeter:
    account_number: str
    address: str
    meter_number: str
    kind: MeterKind
    channels: tuple[str, ...]
    last_period: str | None
    last_value: Decimal | None


@dataclass(frozen=True)
class MissingPage:
    meters: tuple[MissingMeter, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass(frozen=True)
class PeriodPage:
    period: str
    title: str
    registrations: Registrations
    daily: DailyReadings
    coverage: Coverage
    refusals: tuple[RefusalCount, ...]
    missing: MissingPage

    @property
    def chart(self) -> str:
        return chart_svg(self.daily.days, self.daily.previous, self.daily.window)


def current_period() -> str:
    return period_of(clock.now())


def period_page(
    session: Session, period: str | None = None, *, page: int = 1, page_size: int = PAGE_SIZE
) -> PeriodPage:
    """Everything the Period page shows; the current period (Kyiv calendar) unless told otherwise."""
    period = period or current_period()
    return PeriodPage(
        period=period,
        title=period_title(_checked(period)),
        registrations=registrations(session, period),
        daily=daily_readings(session, period),
        coverage=coverage(session, period),
        refusals=refusals_by_reason(session, period),
        missing=missing_readings(session, period, page=page, page_size=page_size),
    )


def registrations(session: Session, period: str) -> Registrations:
    """Registered meters and subscribers by the subscribers' channel, as at the period's end."""
    _, end = _month(period)
    enrolled = subscriber_meters.c
    by_channel = session.execute(
        select(
            Subscriber.channel, func.count(enrolled.meter_id.distinct()), func.count(Subscriber.id.distinct())
        )
        .join(Subscriber, Subscriber.id == enrolled.subscriber_id)
        .where(enrolled.enrolled_at < end)
        .group_by(Subscriber.channel)
        .order_by(Subscriber.channel)
    )
    totals = select(func.count(enrolled.meter_id.distinct()), func.count(enrolled.subscriber_id.distinct()))
    meters, subscribers = session.execute(totals.where(enrolled.enrolled_at < end)).one()
    return Registrations(
        by_channel=tuple(ChannelRegistrations(*row) for row in by_channel),
        meters=meters,
        subscribers=subscribers,
        register_meters=session.scalar(select(func.count()).select_from(Meter)) or 0,
    )


def daily_readings(session: Session, period: str) -> DailyReadings:
    """Readings received per day of the period and of the one before it, with the window's days."""
    first, last = reading_window(_checked(period))
    return DailyReadings(
        days=received_by_day(session, period),
        previous=received_by_day(session, previous_period(period)),
        window=(first.day, last.day),
    )


def received_by_day(session: Session, period: str) -> tuple[DayCount, ...]:
    """Every day of the period's month with the readings of the period sent that day (Kyiv date).

    Superseded readings were received too, so they count. Readings from billing's import are not
    received from subscribers, and a reading sent outside its period's month has no day here.
    """
    midnights = _midnights(period)
    day = case(
        *((Reading.submitted_at < end, number) for number, end in enumerate(midnights[1:-1], start=1)),
        else_=len(midnights) - 1,
    )
    sent = (
        select(day.label("day"))
        .where(
            Reading.period == period,
            Reading.channel != IMPORT_CHANNEL,
            Reading.submitted_at >= midnights[0],
            Reading.submitted_at < midnights[-1],
        )
        .subquery()
    )
    # Grouped outside: PostgreSQL takes the CASE's parameters in SELECT and GROUP BY as different.
    counts: dict[int, int] = dict(
        session.execute(select(sent.c.day, func.count()).group_by(sent.c.day)).all()
    )
    return tuple(DayCount(moment.date(), counts.get(moment.day, 0)) for moment in midnights[:-1])


def coverage(session: Session, period: str) -> Coverage:
    """Registered meters and how many of them have an accepted reading for the period."""
    _, end = _month(period)
    accepted = and_(
        Reading.meter_id == Meter.id, Reading.period == period, Reading.status == ReadingStatus.ACCEPTED
    )
    registered, with_reading = session.execute(
        select(func.count(Meter.id), func.count(Reading.id))
        .select_from(Meter)
        .outerjoin(Reading, accepted)
        .where(_registered(end))
    ).one()
    return Coverage(registered, with_reading)


def refusals_by_reason(session: Session, period: str) -> tuple[RefusalCount, ...]:
    """The bot's refusals in the period's Kyiv month by reason, most frequent first."""
    start, end = _month(period)
    rows = session.execute(
        select(Refusal.reason, func.count().label("refusals"))
        .where(Refusal.at >= start, Refusal.at < end)
        .group_by(Refusal.reason)
        .order_by(func.count().desc(), Refusal.reason)
    )
    return tuple(RefusalCount(reason, REFUSAL_REASONS.get(reason, reason), count) for reason, count in rows)


def missing_readings(
    session: Session, period: str, *, page: int = 1, page_size: int = PAGE_SIZE
) -> MissingPage:
    """One page of the registered meters without an accepted reading, by account and meter number."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page {page} of {page_size} rows: pages start at 1, 1-{MAX_PAGE_SIZE} rows a page")
    _, end = _month(period)
    total = session.scalar(select(func.count()).select_from(Meter).where(*_missing_where(period, end))) or 0
    meters = _rows(session, _missing(period).limit(page_size).offset((page - 1) * page_size))
    return MissingPage(meters, total, page, page_size)


def write_missing_csv(session: Session, period: str, out: TextIO) -> int:
    """All the registered meters without an accepted reading, as CSV for staff; returns the rows.

    Cells are written as billing's export writes them: a text that a spreadsheet would run as a
    formula is made plain text. The caller opens ``out`` (UTF-8, newline="").
    """
    query = _missing(period)
    meters = _rows(session, query.limit(CSV_CHUNK))  # before the header, as billing's export does
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MISSING_COLUMNS)
    count = 0
    while True:
        writer.writerows(_csv_row(meter) for meter in meters)
        count += len(meters)
        if len(meters) < CSV_CHUNK:
            return count
        after = tuple_(Account.number, Meter.number) > (meters[-1].account_number, meters[-1].meter_number)
        meters = _rows(session, query.where(after).limit(CSV_CHUNK))


def _csv_row(meter: MissingMeter) -> tuple[str, ...]:
    return (
        spreadsheet_cell(meter.account_number),
        spreadsheet_cell(meter.address),
        spreadsheet_cell(meter.meter_number),
        KIND_TITLE[meter.kind],
        spreadsheet_cell(", ".join(meter.channels)),
        meter.last_period or "",
        "" if meter.last_value is None else format_value(meter.last_value),
    )


# A registered meter has a channel; the last period and value are NULL without an earlier accepted reading.
Missing = Select[str, str, str, MeterKind, str, str, Decimal]


def _missing(period: str) -> Missing:
    """Registered meters without an accepted reading, in order, with their last accepted one before it."""
    _, end = _month(period)
    earlier = aliased(Reading)
    # In the select list, PostgreSQL runs the subqueries only for the rows that the LIMIT keeps.
    latest = (
        select(earlier.period, earlier.value)
        .where(
            earlier.meter_id == Meter.id, earlier.status == ReadingStatus.ACCEPTED, earlier.period < period
        )
        .order_by(earlier.period.desc())
        .limit(1)
        .correlate(Meter)
    )
    enrolled = subscriber_meters.c
    channels = (
        select(Subscriber.channel)
        .join(subscriber_meters, Subscriber.id == enrolled.subscriber_id)
        .where(enrolled.meter_id == Meter.id, enrolled.enrolled_at < end)
        .distinct()
        .correlate(Meter)
        .subquery()
    )
    query = (
        select(
            Account.number,
            Account.address,
            Meter.number,
            Meter.kind,
            select(func.aggregate_strings(channels.c.channel, ",")).scalar_subquery(),
            latest.with_only_columns(earlier.period).scalar_subquery(),
            latest.with_only_columns(earlier.value).scalar_subquery(),
        )
        .join(Meter.account)
        .where(*_missing_where(period, end))
        .order_by(Account.number, Meter.number)
    )
    return query


def _missing_where(period: str, end: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    accepted = exists().where(
        Reading.meter_id == Meter.id, Reading.period == period, Reading.status == ReadingStatus.ACCEPTED
    )
    return _registered(end), ~accepted


def _rows(session: Session, query: Missing) -> tuple[MissingMeter, ...]:
    return tuple(
        MissingMeter(account, address, number, kind, tuple(sorted(channels.split(","))), period, value)
        for account, address, number, kind, channels, period, value in session.execute(query)
    )


def _registered(end: dt.datetime) -> ColumnElement[bool]:
    return exists().where(subscriber_meters.c.meter_id == Meter.id, subscriber_meters.c.enrolled_at < end)


def _checked(period: str) -> str:
    if not is_period(period):
        raise ValueError(f"a period is YYYY-MM, not {period!r}")
    return period


def _month(period: str) -> tuple[dt.datetime, dt.datetime]:
    """The period's first moment and the next period's first, by the calendar in Kyiv."""
    midnights = _midnights(period)
    return midnights[0], midnights[-1]


def _midnights(period: str) -> list[dt.datetime]:
    """Kyiv's midnights from the period's first day to the next month's first."""
    year, month = (int(part) for part in _checked(period).split("-"))
    days = calendar.monthrange(year, month)[1]
    local = [dt.datetime(year, month, day, tzinfo=KYIV) for day in range(1, days + 1)]
    local.append(dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=KYIV))
    return local


# --- the chart ---------------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 44, 30
_BAR, _PREVIOUS, _WINDOW, _AXIS = "#1f6fb2", "#6b6b6b", "#fdf1c7", "#9a9a9a"


def chart_svg(days: Sequence[DayCount], previous: Sequence[DayCount], window: tuple[int, int]) -> str:
    """The period's readings per day as bars, the previous period's as a dashed line, day by day.

    Self-contained inline SVG: no script, no style sheet, no style attribute (a strict CSP allows
    it), sized by its viewBox. Each bar and point carries data-day and data-count.
    """
    slots = max((day.day for day in (*days, *previous)), default=31)
    highest = max((day.count for day in (*days, *previous)), default=0)
    plot_width, plot_height = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot, base = plot_width / slots, _TOP + plot_height

    def left(day: int) -> float:
        return _LEFT + (day - 1) * slot

    def height(count: int) -> float:
        return plot_height * count / max(highest, 1)

    this_title, previous_title = _title_of(days), _title_of(previous)
    first, last = window
    window_text = f"Вікно передачі показань: {first}–{last} число"
    title = f"Показання за днями: {this_title}"
    summary = f"{title}. Отримано {_readings(sum(day.count for day in days))}"
    if previous:
        summary += f"; {previous_title}: {_readings(sum(day.count for day in previous))}"
    summary += f". Найбільше за день: {_readings(highest)}. {window_text}."

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{_attr(summary)}" font-family="sans-serif" font-size="11">',
        f"<title>{_text(title)}</title>",
        f"<desc>{_text(summary)}</desc>",
    ]
    if 1 <= first <= last <= slots:
        parts.append(
            f'<rect class="window" x="{_n(left(first))}" y="{_TOP}" width="{_n((last - first + 1) * slot)}" '
            f'height="{plot_height}" fill="{_WINDOW}"><title>{_text(window_text)}</title></rect>'
        )
    parts += [
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{WIDTH - _RIGHT}" y2="{_TOP}" stroke="#e2e2e2"/>',
        f'<line x1="{_LEFT}" y1="{base}" x2="{WIDTH - _RIGHT}" y2="{base}" stroke="{_AXIS}"/>',
        f'<text class="max" x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end">{highest}</text>',
        f'<text x="{_LEFT - 6}" y="{base + 4}" text-anchor="end">0</text>',
        f'<g class="current" fill="{_BAR}">',
    ]
    for day in days:
        bar = height(day.count)
        parts.append(
            f'<rect class="bar" data-day="{day.day}" data-count="{day.count}" x="{_n(left(day.day) + slot * 0.2)}" '
            f'y="{_n(base - bar)}" width="{_n(slot * 0.6)}" height="{_n(bar)}"><title>{_text(_tip(day))}</title></rect>'
        )
    parts.append("</g>")
    if previous:
        points = " ".join(
            f"{_n(left(day.day) + slot / 2)},{_n(base - height(day.count))}" for day in previous
        )
        parts += [
            f'<g class="previous" fill="{_PREVIOUS}">',
            f'<polyline points="{points}" fill="none" stroke="{_PREVIOUS}" stroke-width="1.5" stroke-dasharray="4 3"/>',
        ]
        parts += [
            f'<circle class="point" data-day="{day.day}" data-count="{day.count}" cx="{_n(left(day.day) + slot / 2)}" '
            f'cy="{_n(base - height(day.count))}" r="2.5"><title>{_text(_tip(day))}</title></circle>'
            for day in previous
        ]
        parts.append("</g>")
    parts.append('<g class="days" text-anchor="middle" fill="#444" font-size="10">')
    parts += [
        f'<text x="{_n(left(number) + slot / 2)}" y="{base + 14}"{_bold(first <= number <= last)}>{number}</text>'
        for number in range(1, slots + 1)
    ]
    parts += ["</g>", *_legend(this_title, previous_title if previous else ""), "</svg>"]
    return "".join(parts)


def _legend(this_title: str, previous_title: str) -> Iterable[str]:
    yield f'<g class="legend" fill="#333"><rect x="{_LEFT}" y="10" width="12" height="12" fill="{_BAR}"/>'
    yield f'<text x="{_LEFT + 18}" y="20">{_text(this_title)}</text>'
    x = _LEFT + 180
    if previous_title:
        yield (
            f'<line x1="{x}" y1="16" x2="{x + 16}" y2="16" stroke="{_PREVIOUS}" stroke-width="1.5" '
            f'stroke-dasharray="4 3"/><text x="{x + 22}" y="20">{_text(previous_title)}</text>'
        )
        x += 180
    yield f'<rect x="{x}" y="10" width="12" height="12" fill="{_WINDOW}" stroke="#e0c97a"/>'
    yield f'<text x="{x + 18}" y="20">вікно передачі показань</text></g>'


def _title_of(days: Sequence[DayCount]) -> str:
    return period_title(f"{days[0].date.year:04d}-{days[0].date.month:02d}") if days else ""


def _tip(day: DayCount) -> str:
    return f"{day.date.day} {MONTHS_GENITIVE[day.date.month - 1]}: {_readings(day.count)}"


def _readings(count: int) -> str:
    """ "1 показання", "42 показання", "25 показань": Ukrainian plurals after a number."""
    many = count % 10 == 0 or count % 10 >= 5 or 11 <= count % 100 <= 14
    return f"{count} {'показань' if many else 'показання'}"


def _bold(bold: bool) -> str:
    return ' font-weight="bold"' if bold else ""


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _text(text: str) -> str:
    return escape(text)


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;", "\n": "&#10;"})
