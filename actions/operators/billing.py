"""Exchange with the billing system: accounts and meters come in, a period's readings go out.

Both directions stream: the import validates and writes in chunks inside one transaction, the
export writes rows as the database yields them. Messages are for the operator, in Ukrainian.

The import trusts nothing about the file: bytes are decoded line by line (a bad byte is reported
with its line), a line or a field is never held beyond a fixed size, whole-file problems raise
ImportFileError (the caller rolls back), and at most KEPT_ERRORS row errors are kept.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO, TextIO

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from actions.register import clock
from actions.register.account import is_account_number
from actions.register.meter import METER_NUMBER
from actions.register.models import Account, Meter, MeterKind, Reading, ReadingStatus
from actions.register.period import KYIV, is_period
from actions.register.reading import ReadingRefused, consumption, format_value, parse_reading

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
# A billing row is well under 1 KiB; a longer line is a binary file or a file without line ends.
MAX_LINE_BYTES = 64 * 1024
KEPT_ERRORS = 1000
# Cells starting with these become formulas in Excel and LibreOffice (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_READING_REASONS = {
    "empty": "порожнє показання",
    "not_a_number": "показання не є числом",
    "negative": "від'ємне показання",
    "too_many_decimals": "більше двох знаків після коми",
    "too_many_digits": "більше цифр, ніж має лічильник (до 999.99)",
}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (empty, wrong header, wrong encoding, not CSV)."""


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
    errors: list[RowError] = field(default_factory=list)  # the first KEPT_ERRORS of error_count
    error_count: int = 0
    notices: list[str] = field(default_factory=list)
    accounts_created: int = 0
    accounts_updated: int = 0
    meters_created: int = 0
    meters_updated: int = 0
    readings_created: int = 0
    readings_updated: int = 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append(error)

    def summary(self) -> str:
        return (
            f"рядків: {self.rows}, з помилками: {self.error_count}; "
            f"рахунки: створено {self.accounts_created}, оновлено {self.accounts_updated}; "
            f"лічильники: створено {self.meters_created}, оновлено {self.meters_updated}; "
            f"показання: створено {self.readings_created}, оновлено {self.readings_updated}"
        )


def decoded_lines(source: BinaryIO) -> Iterator[str]:
    """The file's physical lines as text: strict UTF-8, a leading BOM dropped, line ends kept.

    At most MAX_LINE_BYTES + 1 bytes are read at a time, so a file without line ends is refused
    after its first 64 KiB instead of being loaded. Problems raise ImportFileError naming the line.
    """
    number = 0
    while line := source.readline(MAX_LINE_BYTES + 1):
        number += 1
        if number == 1:
            _refuse_known_binary(line)
            line = line.removeprefix(codecs.BOM_UTF8)
        if b"\x00" in line:
            raise ImportFileError(
                f"рядок {number}: нульовий байт (NUL); це не текстовий CSV "
                "(двійковий файл або UTF-16), збережіть його як «CSV UTF-8»"
            )
        if len(line) > MAX_LINE_BYTES:
            raise ImportFileError(
                f"рядок {number} довший за {MAX_LINE_BYTES // 1024} КіБ; це не CSV білінгу "
                "(двійковий файл або файл без кінців рядків), далі не читається"
            )
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportFileError(
                f"рядок {number}: файл не в кодуванні UTF-8{_encoding_hint(line)}; "
                "збережіть його як «CSV UTF-8»"
            ) from None
        yield text


_SIGNATURES = (
    (codecs.BOM_UTF32_LE, "файл у кодуванні UTF-32"),
    (codecs.BOM_UTF32_BE, "файл у кодуванні UTF-32"),
    (codecs.BOM_UTF16_LE, "файл у кодуванні UTF-16"),
    (codecs.BOM_UTF16_BE, "файл у кодуванні UTF-16"),
    (b"PK\x03\x04", "це книга Excel (.xlsx) чи інший ZIP-архів, а не CSV"),
    (b"\xd0\xcf\x11\xe0", "це книга Excel 97-2003 (.xls), а не CSV"),
)


def _refuse_known_binary(first_line: bytes) -> None:
    for signature, what in _SIGNATURES:
        if first_line.startswith(signature):
            raise ImportFileError(f"{what}; збережіть його як «CSV UTF-8»")


def _encoding_hint(line: bytes) -> str:
    """Why a line is not UTF-8, when it is plain which: Windows-1251 text, or binary data."""
    if any(byte < 0x20 and byte not in b"\t\r\n" for byte in line):
        return ", схоже на двійковий файл"
    high = [byte for byte in line if byte >= 0x80]
    # Ukrainian in Windows-1251: А-я at 0xC0-0xFF, plus Ґ ґ Є є І і Ї ї.
    letters = sum(byte >= 0xC0 or byte in b"\xa5\xb4\xaa\xba\xb2\xb3\xaf\xbf" for byte in high)
    if len(high) >= 3 and letters >= 0.9 * len(high):
        return ", схоже на Windows-1251"
    return ""


def read_import_rows(
    lines: Iterable[str], notices: list[str] | None = None
) -> Iterator[ImportRow | RowError]:
    """Parse and check the CSV row by row; whole-file problems raise ImportFileError.

    Unknown columns are ignored and named in ``notices``; a missing or misspelt known one refuses
    the file.
    """
    reader = csv.reader(lines, strict=True)
    columns: list[tuple[int, str]] | None = None  # (position, name) of the columns read
    width = rows = 0
    seen_meters: dict[tuple[str, str], tuple[int, str, Decimal | None, str]] = {}
    addresses: dict[str, tuple[str, int]] = {}
    start = 1  # a quoted field may span lines: a row is known by the line it starts on
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            # Blank lines anywhere (also before the header) are skipped, like rows of blank cells.
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns, ignored = _check_header(cells)
                width = len(cells)
                if ignored and notices is not None:
                    notices.append(f"стовпці не використовуються й пропущені: {_names(ignored)}")
                continue
            rows += 1
            if len(cells) != width:
                yield RowError(line, f"очікується полів: {width}, знайдено: {len(cells)}")
                continue
            yield _check_row(line, {name: cells[i] for i, name in columns}, seen_meters, addresses)
    except csv.Error as error:
        raise ImportFileError(_csv_problem(str(error), start, reader.line_num)) from None
    except UnicodeDecodeError:  # a text stream opened by the caller
        raise ImportFileError("файл не в кодуванні UTF-8 (збережіть його як «CSV UTF-8»)") from None
    if columns is None:
        raise ImportFileError("файл порожній: немає рядка заголовка")
    if rows == 0:
        raise ImportFileError("у файлі лише заголовок, рядків з даними немає")


def _csv_problem(message: str, start: int, line: int) -> str:
    """csv's own English message, told in the operator's words."""
    if message.startswith("field larger than field limit"):
        return (
            f"рядок {start}: поле довше за {csv.field_size_limit()} символів "
            "(мабуть, лапка відкрита й не закрита); далі не читається"
        )
    if message == "unexpected end of data":
        return f"рядок {start}: лапка відкрита й не закрита до кінця файлу"
    if message.startswith("new-line character seen in unquoted field"):
        return f"рядок {line}: символ CR посеред рядка (кінці рядків мають бути LF або CRLF)"
    if "expected after" in message:
        return f'рядок {line}: після закривної лапки має бути кома (лапка всередині поля пишеться як "")'
    return f"рядок {line}: файл не є коректним CSV ({message})"


def _check_header(header: list[str]) -> tuple[list[tuple[int, str]], list[str]]:
    """Positions of the known columns, and the names of the ignored ones; or ImportFileError."""
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    expected = ",".join(known)
    names = [cell.strip().lstrip("\ufeff").strip() for cell in header]
    present = {name for name in names if name in known}
    absent = [column for column in known if column not in present]
    unknown = [(position, name) for position, name in enumerate(names) if name not in known]
    guesses = {name: guess for _, name in unknown if (guess := _resembles(name, absent)) is not None}
    for separator, called in ((";", "крапка з комою"), ("\t", "табуляція")):
        if not present and any(part.strip() in known for part in ",".join(header).split(separator)):
            raise ImportFileError(
                f"розділювач стовпців - {called}, а має бути кома: збережіть файл як «CSV UTF-8 (розділювач - кома)»"
            )
    if not present and not guesses:
        raise ImportFileError(
            f"немає рядка заголовка: перший рядок {_shown(','.join(header))} не містить назв стовпців "
            f"(очікується {expected})"
        )
    problems = []
    missing = [column for column in REQUIRED_COLUMNS if column not in present]
    if missing:
        problems.append("бракує стовпців " + ", ".join(missing))
    problems += [f"{_shown(name)} - можливо, {guess}?" for name, guess in guesses.items()]
    repeated = sorted(name for name, count in Counter(names).items() if name in known and count > 1)
    if repeated:
        problems.append("стовпці повторюються: " + ", ".join(repeated))
    pair = [column for column in OPTIONAL_COLUMNS if column in present]
    if len(pair) == 1:
        problems.append("last_reading і last_period задаються лише разом")
    if problems:
        strangers = list(dict.fromkeys(name for _, name in unknown if name not in guesses))
        if strangers:
            problems.append("невідомі стовпці " + _names(strangers))
        raise ImportFileError(f"заголовок: {'; '.join(problems)} (очікується {expected})")
    columns = [(position, name) for position, name in enumerate(names) if name in known]
    return columns, list(dict.fromkeys(name or f"№{position + 1} без назви" for position, name in unknown))


def _resembles(name: str, candidates: list[str]) -> str | None:
    """The absent known column a header cell is probably a misspelling of ("Meter Kind", "adress")."""
    if not name:
        return None
    normal = re.sub(r"[\s-]+", "_", name.lower())
    close = difflib.get_close_matches(normal, candidates, n=1, cutoff=0.8)
    return close[0] if close else None


def _names(names: list[str], shown: int = 10) -> str:
    listed = ", ".join(_shown(name) for name in names[:shown])
    return listed if len(names) <= shown else f"{listed} і ще {len(names) - shown}"


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted for a message, cut short: a cell may be 100,000 characters long."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _check_row(
    line: int,
    cells: dict[str, str],
    seen_meters: dict[tuple[str, str], tuple[int, str, Decimal | None, str]],
    addresses: dict[str, tuple[str, int]],
) -> ImportRow | RowError:
    account_number = cells["account_number"].strip()
    address = " ".join(cells["address"].split())
    meter_number = cells["meter_number"].strip()
    kind = cells["meter_kind"].strip()
    reading_text = cells.get("last_reading", "").strip()
    period = cells.get("last_period", "").strip()

    if not is_account_number(account_number):
        return RowError(line, f"номер особового рахунку має бути з п'яти цифр: {_shown(account_number)}")
    if not address or not address.isprintable():
        return RowError(line, "порожня або некоректна адреса")
    if len(address) > MAX_ADDRESS:
        return RowError(line, f"адреса довша за {MAX_ADDRESS} символів")
    if address.startswith(FORMULA_START):
        return RowError(line, f"адреса починається з {address[0]!r}, як формула таблиці: {_shown(address)}")
    if METER_NUMBER.fullmatch(meter_number) is None:
        return RowError(
            line, f"некоректний номер лічильника {_shown(meter_number)} (1-32 літери, цифри, '-', '/', '.')"
        )
    if meter_number.startswith(FORMULA_START):
        return RowError(
            line, f"номер лічильника починається з {meter_number[0]!r}, як формула таблиці: {meter_number!r}"
        )
    if kind not in {known.value for known in MeterKind}:
        return RowError(line, f"невідомий вид лічильника {_shown(kind)} (heat або hot_water)")
    if bool(reading_text) != bool(period):
        return RowError(line, "last_reading і last_period задаються лише разом")
    value = None
    if reading_text:
        try:
            value = parse_reading(reading_text, among_words=False)
        except ReadingRefused as refusal:
            return RowError(line, f"{_READING_REASONS[refusal.reason]}: {_shown(reading_text)}")
        if not is_period(period):
            return RowError(line, f"період має бути у форматі РРРР-ММ: {_shown(period)}")

    key = (account_number, meter_number)
    first = seen_meters.get(key)
    if first is not None:
        first_line, first_kind, first_value, first_period = first
        differences = [
            what
            for what, differs in (
                ("адреса", addresses[account_number][0] != address),
                ("вид", first_kind != kind),
                ("показання або період", (first_value, first_period) != (value, period)),
            )
            if differs
        ]
        if not differences:
            return RowError(
                line, f"повторює рядок {first_line} (лічильник {meter_number} рахунку {account_number})"
            )
        return RowError(
            line,
            f"лічильник {meter_number} рахунку {account_number} уже є в рядку {first_line}, "
            f"але інші: {', '.join(differences)}",
        )
    known = addresses.get(account_number)
    if known is not None and known[0] != address:
        return RowError(line, f"рахунок {account_number} має іншу адресу в рядку {known[1]}: {known[0]!r}")
    seen_meters[key] = (line, kind, value, period)
    addresses.setdefault(account_number, (address, line))
    return ImportRow(line, account_number, address, meter_number, MeterKind(kind), value, period or None)


def import_accounts(session: Session, lines: Iterable[str], *, skip_invalid: bool = False) -> ImportReport:
    """Upsert accounts, meters and seed readings. Writes into the caller's transaction.

    With any invalid row and no ``skip_invalid`` the report has errors and the caller must
    roll back; rows are still read to the end so every error is counted at once. An
    ImportFileError may come after chunks were written: the caller rolls back then too.
    """
    report = ImportReport()
    _custom_plans(session)
    chunk: list[ImportRow] = []
    for item in read_import_rows(lines, report.notices):
        report.rows += 1
        if isinstance(item, RowError):
            report.add_error(item)
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


def _custom_plans(session: Session) -> None:
    """Plan each chunk's queries for their own values, in this transaction only.

    psycopg prepares a statement run five times, and PostgreSQL then may switch to a generic
    plan: for the chunk queries (IN lists of 5,000 values, against tables this very transaction
    is filling) that plan took 4-5 s a query instead of milliseconds, 14 s of a 100,000-row import.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


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
    now = clock.now()
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
            Meter.dial_digits,
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
                spreadsheet_cell(account),
                spreadsheet_cell(meter),
                spreadsheet_cell(kind.value),
                period,
                format_value(value),
                "" if before is None else format_value(before),
                "" if before is None else format_value(consumption(before, value, digits)),
                submitted_at.astimezone(KYIV).isoformat(timespec="seconds"),
                spreadsheet_cell(channel),
            )
        )
        count += 1
    return count


def spreadsheet_cell(text: str) -> str:
    """A text cell that a spreadsheet shows as text, never runs as a formula.

    The importer refuses such values, but the register may hold older or hand-made ones. Numbers
    we format ourselves are left alone: billing reads them as numbers.
    """
    return "'" + text if text.startswith(FORMULA_START) else text
