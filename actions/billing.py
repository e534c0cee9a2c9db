"""Exchange with the billing system: accounts and meters come in, a period's readings go out.

Both directions stream: the import validates and writes in chunks inside one transaction, the
export writes rows as the database yields them. Messages are for the operator, in Ukrainian.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TextIO

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from actions.account import is_account_number
from actions.meter import METER_NUMBER
from actions.models import Account, Meter, MeterKind, Reading, ReadingStatus, utcnow
from actions.reading import (
    KYIV,
    ReadingRefused,
    consumption,
    format_value,
    is_period,
    parse_reading,
)

IMPORT_CHANNEL = "import"
REQUIRED_COLUMNS = ("account_number", "address", "meter_number", "meter_kind")
OPTIONAL_COLUMNS = ("last_reading", "last_period")
EXPORT_COLUMNS = (
    "account_number",
    "meter_number",
    "meter_kind",
    "period",
    "reading",
    "previous_reading",
    "consumption",
    "submitted_at",
    "channel",
)
CHUNK_ROWS = 5000
MAX_ADDRESS = 255

_READING_REASONS = {
    "empty": "порожнє показання",
    "not_a_number": "показання не є числом",
    "negative": "від'ємне показання",
    "too_many_decimals": "більше двох знаків після коми",
    "too_many_digits": "більше цифр, ніж має лічильник (до 999.99)",
}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (empty, wrong header, wrong encoding)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"рядок {self.line}: {self.reason}"


@dataclass(frozen=True)
class ImportRow:
    line: int
    account_number: str
    address: str
    meter_number: str
    meter_kind: MeterKind
    last_reading: Decimal | None
    last_period: str | None


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    accounts_created: int = 0
    accounts_updated: int = 0
    meters_created: int = 0
    meters_updated: int = 0
    readings_created: int = 0
    readings_updated: int = 0

    def summary(self) -> str:
        return (
            f"рядків: {self.rows}, з помилками: {len(self.errors)}; "
            f"рахунки: створено {self.accounts_created}, оновлено {self.accounts_updated}; "
            f"лічильники: створено {self.meters_created}, оновлено {self.meters_updated}; "
            f"показання: створено {self.readings_created}, оновлено {self.readings_updated}"
        )


def read_import_rows(lines: Iterable[str]) -> Iterator[ImportRow | RowError]:
    """Parse and check the CSV row by row; whole-file problems raise ImportFileError."""
    reader = csv.reader(lines, strict=True)
    try:
        # Blank lines before the header are skipped, like blank rows after it.
        header = next((cells for cells in reader if any(cell.strip() for cell in cells)), None)
        if header is None:
            raise ImportFileError("файл порожній: немає рядка заголовка")
        columns = _check_header(header)
        seen_meters: dict[tuple[str, str], int] = {}
        addresses: dict[str, tuple[str, int]] = {}
        # A quoted field may span lines: a row is known by the line it starts on.
        next_line = reader.line_num + 1
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                yield RowError(line, f"очікується полів: {len(columns)}, знайдено: {len(cells)}")
                continue
            yield _check_row(line, dict(zip(columns, cells, strict=True)), seen_meters, addresses)
    except csv.Error as error:
        raise ImportFileError(f"рядок {reader.line_num}: файл не є коректним CSV ({error})") from None
    except UnicodeDecodeError:
        raise ImportFileError("файл не в кодуванні UTF-8 (збережіть його як «CSV UTF-8»)") from None


def _check_header(header: list[str]) -> list[str]:
    columns = [cell.strip().lstrip("\ufeff").strip() for cell in header]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if missing:
        problems.append("бракує стовпців " + ", ".join(missing))
    if unknown:
        problems.append("невідомі стовпці " + ", ".join(repr(c) for c in unknown))
    if repeated:
        problems.append("стовпці повторюються: " + ", ".join(repeated))
    if problems:
        expected = ",".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
        raise ImportFileError(f"заголовок: {'; '.join(problems)} (очікується {expected})")
    return columns


def _check_row(
    line: int,
    cells: dict[str, str],
    seen_meters: dict[tuple[str, str], int],
    addresses: dict[str, tuple[str, int]],
) -> ImportRow | RowError:
    account_number = cells["account_number"].strip()
    address = " ".join(cells["address"].split())
    meter_number = cells["meter_number"].strip()
    kind = cells["meter_kind"].strip()
    reading_text = cells.get("last_reading", "").strip()
    period = cells.get("last_period", "").strip()

    if not is_account_number(account_number):
        return RowError(line, f"номер особового рахунку має бути з п'яти цифр: {account_number!r}")
    if not address or not address.isprintable():
        return RowError(line, "порожня або некоректна адреса")
    if len(address) > MAX_ADDRESS:
        return RowError(line, f"адреса довша за {MAX_ADDRESS} символів")
    if METER_NUMBER.fullmatch(meter_number) is None:
        return RowError(
            line, f"некоректний номер лічильника {meter_number!r} (1-32 літери, цифри, '-', '/', '.')"
        )
    if kind not in {known.value for known in MeterKind}:
        return RowError(line, f"невідомий вид лічильника {kind!r} (heat або hot_water)")
    if bool(reading_text) != bool(period):
        return RowError(line, "last_reading і last_period задаються лише разом")
    value = None
    if reading_text:
        try:
            value = parse_reading(reading_text, among_words=False)
        except ReadingRefused as refusal:
            return RowError(line, f"{_READING_REASONS[refusal.reason]}: {reading_text!r}")
        if not is_period(period):
            return RowError(line, f"період має бути у форматі РРРР-ММ: {period!r}")

    key = (account_number, meter_number)
    if key in seen_meters:
        return RowError(
            line,
            f"лічильник {meter_number} рахунку {account_number} уже є в рядку {seen_meters[key]}",
        )
    known = addresses.get(account_number)
    if known is not None and known[0] != address:
        return RowError(line, f"рахунок {account_number} має іншу адресу в рядку {known[1]}: {known[0]!r}")
    seen_meters[key] = line
    addresses.setdefault(account_number, (address, line))
    return ImportRow(line, account_number, address, meter_number, MeterKind(kind), value, period or None)


def import_accounts(session: Session, lines: Iterable[str], *, skip_invalid: bool = False) -> ImportReport:
    """Upsert accounts, meters and seed readings. Writes into the caller's transaction.

    With any invalid row and no ``skip_invalid`` the report has errors and the caller must
    roll back; rows are still read to the end so every error is reported at once.
    """
    report = ImportReport()
    chunk: list[ImportRow] = []
    for item in read_import_rows(lines):
        report.rows += 1
        if isinstance(item, RowError):
            report.errors.append(item)
            continue
        if report.errors and not skip_invalid:
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK_ROWS:
            _write_chunk(session, chunk, report)
            chunk = []
    if chunk and (skip_invalid or not report.errors):
        _write_chunk(session, chunk, report)
    return report


def _write_chunk(session: Session, rows: list[ImportRow], report: ImportReport) -> None:
    accounts = _upsert_accounts(session, rows, report)
    meters = _upsert_meters(session, rows, accounts, report)
    _seed_readings(session, rows, accounts, meters, report)


def _upsert_accounts(session: Session, rows: list[ImportRow], report: ImportReport) -> dict[str, int]:
    wanted = {row.account_number: row.address for row in rows}
    existing = session.execute(
        select(Account.number, Account.id, Account.address).where(Account.number.in_(wanted))
    ).all()
    ids = {number: account_id for number, account_id, _ in existing}
    changed = [
        {"id": account_id, "address": wanted[number]}
        for number, account_id, address in existing
        if address != wanted[number]
    ]
    if changed:
        session.execute(update(Account), changed)
        report.accounts_updated += len(changed)
    new = [{"number": n, "address": a} for n, a in wanted.items() if n not in ids]
    if new:
        created = session.execute(insert(Account).returning(Account.number, Account.id), new)
        ids.update({number: account_id for number, account_id in created})
        report.accounts_created += len(new)
    return ids


def _upsert_meters(
    session: Session, rows: list[ImportRow], accounts: dict[str, int], report: ImportReport
) -> dict[tuple[int, str], int]:
    existing = session.execute(
        select(Meter.account_id, Meter.number, Meter.id, Meter.kind).where(
            Meter.account_id.in_(set(accounts.values()))
        )
    ).all()
    ids = {(account_id, number): meter_id for account_id, number, meter_id, _ in existing}
    kinds = {meter_id: kind for _, _, meter_id, kind in existing}
    changed, new = [], []
    for row in rows:
        key = (accounts[row.account_number], row.meter_number)
        meter_id = ids.get(key)
        if meter_id is None:
            new.append({"account_id": key[0], "number": row.meter_number, "kind": row.meter_kind})
        elif kinds[meter_id] != row.meter_kind:
            changed.append({"id": meter_id, "kind": row.meter_kind})
    if changed:
        session.execute(update(Meter), changed)
        report.meters_updated += len(changed)
    if new:
        created = session.execute(insert(Meter).returning(Meter.account_id, Meter.number, Meter.id), new)
        ids.update({(account_id, number): meter_id for account_id, number, meter_id in created})
        report.meters_created += len(new)
    return ids


def _seed_readings(
    session: Session,
    rows: list[ImportRow],
    accounts: dict[str, int],
    meters: dict[tuple[int, str], int],
    report: ImportReport,
) -> None:
    seeds = {
        meters[(accounts[row.account_number], row.meter_number)]: (row.last_period, row.last_reading)
        for row in rows
        if row.last_reading is not None and row.last_period is not None
    }
    if not seeds:
        return
    current = {
        (meter_id, period): (reading_id, value)
        for meter_id, period, reading_id, value in session.execute(
            select(Reading.meter_id, Reading.period, Reading.id, Reading.value).where(
                Reading.meter_id.in_(seeds),
                Reading.period.in_({period for period, _ in seeds.values()}),
                Reading.status == ReadingStatus.ACCEPTED,
            )
        )
    }
    superseded, new = [], []
    now = utcnow()
    for meter_id, (period, value) in seeds.items():
        accepted = current.get((meter_id, period))
        if accepted is not None and accepted[1] == value:
            continue
        if accepted is not None:
            # The billing system is the authority on the periods it exports.
            superseded.append({"id": accepted[0], "status": ReadingStatus.SUPERSEDED})
        new.append(
            {
                "meter_id": meter_id,
                "period": period,
                "value": value,
                "submitted_at": now,
                "channel": IMPORT_CHANNEL,
                "status": ReadingStatus.ACCEPTED,
            }
        )
    if superseded:
        session.execute(update(Reading), superseded)
        report.readings_updated += len(superseded)
    if new:
        session.execute(insert(Reading), new)
        report.readings_created += len(new) - len(superseded)


def export_readings(session: Session, period: str, out: TextIO) -> int:
    """Write the period's accepted readings as CSV for billing; returns the number of rows."""
    previous = (
        select(Reading.value)
        .where(
            Reading.meter_id == Meter.id,
            Reading.status == ReadingStatus.ACCEPTED,
            Reading.period < period,
        )
        .order_by(Reading.period.desc())
        .limit(1)
        .correlate(Meter)
        .scalar_subquery()
    )
    query = (
        select(
            Account.number,
            Meter.number,
            Meter.kind,
            Meter.register_digits,
            Reading.value,
            previous,
            Reading.submitted_at,
            Reading.channel,
        )
        .join(Reading.meter)
        .join(Meter.account)
        .where(Reading.period == period, Reading.status == ReadingStatus.ACCEPTED)
        .order_by(Account.number, Meter.number)
        .execution_options(yield_per=2000)
    )
    rows = session.execute(query)  # before the header: a database error leaves no half-file
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for account, meter, kind, digits, value, before, submitted_at, channel in rows:
        writer.writerow(
            (
                account,
                meter,
                kind.value,
                period,
                format_value(value),
                "" if before is None else format_value(before),
                "" if before is None else format_value(consumption(before, value, digits)),
                submitted_at.astimezone(KYIV).isoformat(timespec="seconds"),
                channel,
            )
        )
        count += 1
    return count
