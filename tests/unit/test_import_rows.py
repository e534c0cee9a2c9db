"""Reading and checking the billing CSV (read_import_rows): pure, no database."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from actions.operators.billing import (
    MAX_LINE_BYTES,
    ImportFileError,
    ImportRow,
    RowError,
    decoded_lines,
    read_import_rows,
)
from actions.register.models import MeterKind

HEADER = "account_number,address,meter_number,meter_kind,last_reading,last_period"
SHORT_HEADER = "account_number,address,meter_number,meter_kind"
EXPECTED = "(очікується account_number,address,meter_number,meter_kind,last_reading,last_period)"


def read(text: str) -> list[ImportRow | RowError]:
    return list(read_import_rows(io.StringIO(text, newline="")))


def errors(text: str) -> list[tuple[int, str]]:
    return [(item.line, item.reason) for item in read(text) if isinstance(item, RowError)]


def only_error(row: str, header: str = HEADER) -> tuple[int, str]:
    """The one error of a file made of the header and one data row (line 2)."""
    items = read(f"{header}\n{row}\n")
    assert len(items) == 1
    assert isinstance(items[0], RowError)
    return items[0].line, items[0].reason


# --- the header --------------------------------------------------------------------------------------


def test_full_header_and_rows() -> None:
    items = read(
        f"{HEADER}\n12345,вул. Шевченка 1,111111,heat,475.10,2026-02\n12345,вул. Шевченка 1,M-2,hot_water,,\n"
    )
    assert items == [
        ImportRow(2, "12345", "вул. Шевченка 1", "111111", MeterKind.HEAT, Decimal("475.10"), "2026-02"),
        ImportRow(3, "12345", "вул. Шевченка 1", "M-2", MeterKind.HOT_WATER, None, None),
    ]
    assert isinstance(items[0], ImportRow)
    assert str(items[0].last_reading) == "475.10"


def test_optional_columns_absent() -> None:
    assert read(f"{SHORT_HEADER}\n23456,addr,9,hot_water\n") == [
        ImportRow(2, "23456", "addr", "9", MeterKind.HOT_WATER, None, None)
    ]


def test_columns_in_any_order() -> None:
    text = (
        "meter_kind,last_period,meter_number,address,last_reading,account_number\n"
        "heat,2026-01,7,a,1.5,34567\n"
    )
    assert read(text) == [ImportRow(2, "34567", "a", "7", MeterKind.HEAT, Decimal("1.50"), "2026-01")]


def test_header_with_bom_and_spaces() -> None:
    text = f"\ufeff{HEADER}\n12345,a,1,heat,,\n"
    assert read(text) == [ImportRow(2, "12345", "a", "1", MeterKind.HEAT, None, None)]
    spaced = " account_number , address,meter_number ,meter_kind\n12345,a,1,heat\n"
    assert read(spaced) == [ImportRow(2, "12345", "a", "1", MeterKind.HEAT, None, None)]


def test_bom_read_through_utf8_sig(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(f"{SHORT_HEADER}\r\n12345,адреса,1,heat\r\n".encode("utf-8-sig"))
    with open(path, encoding="utf-8-sig", newline="") as source:
        assert list(read_import_rows(source)) == [
            ImportRow(2, "12345", "адреса", "1", MeterKind.HEAT, None, None)
        ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "файл порожній: немає рядка заголовка"),
        (
            "account_number,address,meter_number\n12345,a,1\n",
            f"заголовок: бракує стовпців meter_kind {EXPECTED}",
        ),
        (
            "account_number,address\n",
            f"заголовок: бракує стовпців meter_number, meter_kind {EXPECTED}",
        ),
        (
            "account_number,adress,meter_number,meter_kind\n",
            f"заголовок: бракує стовпців address; 'adress' - можливо, address? {EXPECTED}",
        ),
        (
            "Account Number,address,meter_number,meter_kind\n",
            f"заголовок: бракує стовпців account_number; 'Account Number' - можливо, account_number? {EXPECTED}",
        ),
        (
            f"{SHORT_HEADER},last_reding,last_period\n",
            f"заголовок: 'last_reding' - можливо, last_reading?; "
            f"last_reading і last_period задаються лише разом {EXPECTED}",
        ),
        (
            f"{SHORT_HEADER},last_reading\n",
            f"заголовок: last_reading і last_period задаються лише разом {EXPECTED}",
        ),
        (
            f"{SHORT_HEADER},meter_kind,extra,extra\n",
            f"заголовок: стовпці повторюються: meter_kind; невідомі стовпці 'extra' {EXPECTED}",
        ),
        (
            "account_number,address,meter_number,kind\n",
            f"заголовок: бракує стовпців meter_kind; невідомі стовпці 'kind' {EXPECTED}",
        ),
        (
            f"{SHORT_HEADER},address\n",
            f"заголовок: стовпці повторюються: address {EXPECTED}",
        ),
        (
            "12345,a,1,heat\n",
            f"немає рядка заголовка: перший рядок '12345,a,1,heat' не містить назв стовпців {EXPECTED}",
        ),
        (
            "account_number;address;meter_number;meter_kind\n12345;a;1;heat\n",
            "розділювач стовпців - крапка з комою, а має бути кома: "
            "збережіть файл як «CSV UTF-8 (розділювач - кома)»",
        ),
        (
            "account_number\taddress\tmeter_number\tmeter_kind\n12345\ta\t1\theat\n",
            "розділювач стовпців - табуляція, а має бути кома: збережіть файл як «CSV UTF-8 (розділювач - кома)»",
        ),
        ("\n \n,,\n", "файл порожній: немає рядка заголовка"),
        (f"{HEADER}\n", "у файлі лише заголовок, рядків з даними немає"),
        (HEADER, "у файлі лише заголовок, рядків з даними немає"),
        (f"{HEADER}\r\n\r\n,,,,,\r\n", "у файлі лише заголовок, рядків з даними немає"),
    ],
)
def test_bad_header(text: str, message: str) -> None:
    with pytest.raises(ImportFileError) as error:
        read(text)
    assert str(error.value) == message


def test_unknown_columns_are_ignored_with_a_notice() -> None:
    notices: list[str] = []
    text = (
        f"owner,{SHORT_HEADER},,balance,last_period,last_reading\nІваненко,12345,a,1,heat,x,=1+2,2026-01,5\n"
    )
    rows = list(read_import_rows(io.StringIO(text, newline=""), notices))
    assert rows == [ImportRow(2, "12345", "a", "1", MeterKind.HEAT, Decimal("5.00"), "2026-01")]
    assert notices == ["стовпці не використовуються й пропущені: 'owner', '№6 без назви', 'balance'"]


def test_a_known_column_beside_a_lookalike_is_not_a_misspelling() -> None:
    # account_name resembles account_number, but account_number is there: an extra column.
    notices: list[str] = []
    text = f"account_name,{SHORT_HEADER}\nПетренко,12345,a,1,heat\n"
    assert [row.line for row in read_import_rows(io.StringIO(text), notices)] == [2]
    assert notices == ["стовпці не використовуються й пропущені: 'account_name'"]


def test_a_wide_header_names_ten_ignored_columns() -> None:
    notices: list[str] = []
    extra = ",".join(f"x{i}" for i in range(25))
    text = f"{SHORT_HEADER},{extra}\n12345,a,1,heat{',' * 25}\n"
    assert len(list(read_import_rows(io.StringIO(text), notices))) == 1
    assert notices == [
        "стовпці не використовуються й пропущені: " + ", ".join(repr(f"x{i}") for i in range(10)) + " і ще 15"
    ]


# --- one bad row at a time ------------------------------------------------------------------------


def account_error(number: str) -> str:
    return f"номер особового рахунку має бути з п'яти цифр: {number!r}"


def meter_error(number: str) -> str:
    return f"некоректний номер лічильника {number!r} (1-32 літери, цифри, '-', '/', '.')"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("1234,a,1,heat,,", account_error("1234")),
        ("123456,a,1,heat,,", account_error("123456")),
        ("1234a,a,1,heat,,", account_error("1234a")),
        ("abcde,a,1,heat,,", account_error("abcde")),
        ("１２３４５,a,1,heat,,", account_error("１２３４５")),  # full-width digits
        ("١٢٣٤٥,a,1,heat,,", account_error("١٢٣٤٥")),  # Arabic-Indic digits
        ("12 345,a,1,heat,,", account_error("12 345")),
        (",a,1,heat,,", account_error("")),
        ("12345,,1,heat,,", "порожня або некоректна адреса"),
        ("12345,   ,1,heat,,", "порожня або некоректна адреса"),
        ("12345,a\x07b,1,heat,,", "порожня або некоректна адреса"),
        ("12345,a\x00b,1,heat,,", "порожня або некоректна адреса"),
        ("12345," + "x" * 256 + ",1,heat,,", "адреса довша за 255 символів"),
        ("12345,a,,heat,,", meter_error("")),
        ("12345,a,   ,heat,,", meter_error("")),
        ("12345,a,12 34,heat,,", meter_error("12 34")),
        ("12345,a," + "1" * 33 + ",heat,,", meter_error("1" * 33)),
        ("12345,a,12\x0034,heat,,", meter_error("12\x0034")),
        ("12345,a,12\x1b34,heat,,", meter_error("12\x1b34")),
        ("12345,a,12_34,heat,,", meter_error("12_34")),
        ("12345,a,1,gas,,", "невідомий вид лічильника 'gas' (heat або hot_water)"),
        ("12345,a,1,Heat,,", "невідомий вид лічильника 'Heat' (heat або hot_water)"),
        ("12345,a,1,,,", "невідомий вид лічильника '' (heat або hot_water)"),
        ("12345,a,1,heat,12.5,", "last_reading і last_period задаються лише разом"),
        ("12345,a,1,heat,,2026-01", "last_reading і last_period задаються лише разом"),
        ("12345,a,1,heat,abc,2026-01", "показання не є числом: 'abc'"),
        ("12345,a,1,heat,12.3.4,2026-01", "показання не є числом: '12.3.4'"),
        ("12345,a,1,heat,1e3,2026-01", "показання не є числом: '1e3'"),
        ("12345,a,1,heat,-5,2026-01", "від'ємне показання: '-5'"),
        ("12345,a,1,heat,1.234,2026-01", "більше двох знаків після коми: '1.234'"),
        ("12345,a,1,heat,1000,2026-01", "більше цифр, ніж має лічильник (до 999.99): '1000'"),
        ("12345,a,1,heat,1000.00,2026-01", "більше цифр, ніж має лічильник (до 999.99): '1000.00'"),
        ("12345,a,1,heat,1.5,2026-13", "період має бути у форматі РРРР-ММ: '2026-13'"),
        ("12345,a,1,heat,1.5,2026-00", "період має бути у форматі РРРР-ММ: '2026-00'"),
        ("12345,a,1,heat,1.5,26-01", "період має бути у форматі РРРР-ММ: '26-01'"),
        ("12345,a,1,heat,1.5,2026/01", "період має бути у форматі РРРР-ММ: '2026/01'"),
        ("12345,a,1,heat,1.5,2026-1", "період має бути у форматі РРРР-ММ: '2026-1'"),
        ("12345,a,1,heat,,,", "очікується полів: 6, знайдено: 7"),
        ("12345,a,1,heat", "очікується полів: 6, знайдено: 4"),
    ],
)
def test_row_error(row: str, reason: str) -> None:
    assert only_error(row) == (2, reason)


def test_row_error_without_optional_columns() -> None:
    assert only_error("12345,a,1", SHORT_HEADER) == (2, "очікується полів: 4, знайдено: 3")
    assert only_error("12345,a,1,heat,1.5", SHORT_HEADER) == (2, "очікується полів: 4, знайдено: 5")


@pytest.mark.parametrize(
    ("row", "value"),
    [
        ('12345,a,1,heat,"123,45",2026-01', "123.45"),
        ("12345,a,1,heat, 0 ,2026-01", "0.00"),
        ("12345,a,1,heat,999.99,2026-01", "999.99"),
        ("12345,a,1,heat,007.5, 2026-01 ", "7.50"),
    ],
)
def test_reading_values(row: str, value: str) -> None:
    (item,) = read(f"{HEADER}\n{row}\n")
    assert isinstance(item, ImportRow)
    assert str(item.last_reading) == value
    assert item.last_period == "2026-01"


def test_cells_are_trimmed_and_address_spaces_collapsed() -> None:
    (item,) = read(f'{HEADER}\n 12345 ,"  вул.   Миру,\t5 ", А-17/2.1 , hot_water ,,\n')
    assert item == ImportRow(2, "12345", "вул. Миру, 5", "А-17/2.1", MeterKind.HOT_WATER, None, None)


# --- rows in relation to each other ---------------------------------------------------------------


def test_duplicate_meter_names_the_first_line() -> None:
    text = f"{HEADER}\n12345,a,111,heat,,\n12345,a,222,heat,,\n12345,a,111,hot_water,,\n12345,a,111,heat,,\n"
    assert errors(text) == [
        (4, "лічильник 111 рахунку 12345 уже є в рядку 2, але інші: вид"),
        (5, "повторює рядок 2 (лічильник 111 рахунку 12345)"),
    ]


def test_duplicate_meter_says_what_differs() -> None:
    text = (
        f"{HEADER}\n"
        "12345,вул. Миру 1,111,heat,10.00,2026-01\n"  # 2
        "12345,вул.  Миру 1,111,heat,10,2026-01\n"  # 3: the same once normalised
        "12345,вул. Миру 1,111,heat,11.00,2026-01\n"  # 4
        "12345,вул. Миру 1,111,heat,10.00,2026-02\n"  # 5
        "12345,вул. Миру 2,111,hot_water,,\n"  # 6
    )
    assert errors(text) == [
        (3, "повторює рядок 2 (лічильник 111 рахунку 12345)"),
        (4, "лічильник 111 рахунку 12345 уже є в рядку 2, але інші: показання або період"),
        (5, "лічильник 111 рахунку 12345 уже є в рядку 2, але інші: показання або період"),
        (6, "лічильник 111 рахунку 12345 уже є в рядку 2, але інші: адреса, вид, показання або період"),
    ]


def test_same_meter_number_on_two_accounts_is_fine() -> None:
    text = f"{HEADER}\n12345,a,111,heat,,\n23456,b,111,heat,,\n"
    assert [item.line for item in read(text) if isinstance(item, ImportRow)] == [2, 3]


def test_conflicting_addresses() -> None:
    text = f"{HEADER}\n12345,вул. Миру 1,1,heat,,\n12345,вул.  Миру 1,2,heat,,\n12345,вул. Миру 2,3,heat,,\n"
    assert errors(text) == [(4, "рахунок 12345 має іншу адресу в рядку 2: 'вул. Миру 1'")]


def test_rejected_row_does_not_claim_its_meter_or_address() -> None:
    # Line 2 is invalid, so line 3 is the first with this meter and this address.
    text = f"{HEADER}\n12345,a,111,gas,,\n12345,b,111,heat,,\n12345,b,111,heat,,\n"
    assert errors(text) == [
        (2, "невідомий вид лічильника 'gas' (heat або hot_water)"),
        (4, "повторює рядок 3 (лічильник 111 рахунку 12345)"),
    ]


def test_every_error_with_its_line() -> None:
    text = (
        f"{HEADER}\n"
        "12345,a,1,heat,,\n"  # 2 ok
        "1234,a,2,heat,,\n"  # 3
        "\n"  # 4 blank
        "12345,a,3,steam,,\n"  # 5
        "   ,  ,  ,  ,  ,  \n"  # 6 blank cells
        "23456,b,4,heat,-1,2026-01\n"  # 7
        ",,,,,\n"  # 8 blank cells
        "23456,b,5,heat,1,2026-01\n"  # 9 ok
    )
    items = read(text)
    assert [(type(item).__name__, item.line) for item in items] == [
        ("ImportRow", 2),
        ("RowError", 3),
        ("RowError", 5),
        ("RowError", 7),
        ("ImportRow", 9),
    ]
    assert [str(item) for item in items if isinstance(item, RowError)] == [
        "рядок 3: номер особового рахунку має бути з п'яти цифр: '1234'",
        "рядок 5: невідомий вид лічильника 'steam' (heat або hot_water)",
        "рядок 7: від'ємне показання: '-1'",
    ]


def test_quoted_fields_with_commas_and_newlines_keep_line_numbers() -> None:
    text = (
        f"{HEADER}\n"
        '12345,"м. Чернігів, вул. Миру, 1",1,heat,,\n'  # 2
        '23456,"м. Чернігів,\nвул. Шевченка,\n12",2,heat,,\n'  # 3-5
        "1234,a,3,heat,,\n"  # 6
        '34567,"a\r\n\r\nb",4,gas,,\n'  # 7-9
        "\n"  # 10
        "45678,c,5,heat,x,2026-01\n"  # 11
        '23456,"м. Чернігів, вул. Шевченка, 12",2,heat,,\n'  # 12
    )
    items = read(text)
    assert [(type(item).__name__, item.line) for item in items] == [
        ("ImportRow", 2),
        ("ImportRow", 3),
        ("RowError", 6),
        ("RowError", 7),
        ("RowError", 11),
        ("RowError", 12),
    ]
    assert items[0] == ImportRow(2, "12345", "м. Чернігів, вул. Миру, 1", "1", MeterKind.HEAT, None, None)
    assert items[1] == ImportRow(
        3, "23456", "м. Чернігів, вул. Шевченка, 12", "2", MeterKind.HEAT, None, None
    )
    assert str(items[5]) == "рядок 12: повторює рядок 3 (лічильник 2 рахунку 23456)"


def test_crlf_line_endings() -> None:
    text = f"{HEADER}\r\n12345,a,1,heat,,\r\n\r\n1234,a,2,heat,,\r\n"
    assert errors(text) == [(4, account_error("1234"))]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f'{HEADER}\n12345,a,1,heat,,\n12345,"a"b,2,heat,,\n',
            'рядок 3: після закривної лапки має бути кома (лапка всередині поля пишеться як "")',
        ),
        (f'{HEADER}\n12345,"a,1,heat,,\n', "рядок 2: лапка відкрита й не закрита до кінця файлу"),
        (
            f'{HEADER}\n12345,a,1,heat,,\n23456,"{"x" * 70_000}\n{"x" * 70_000}\n',
            "рядок 3: поле довше за 131072 символів (мабуть, лапка відкрита й не закрита); далі не читається",
        ),
    ],
)
def test_broken_csv(text: str, message: str) -> None:
    with pytest.raises(ImportFileError) as error:
        read(text)
    assert str(error.value) == message


UTF8_MESSAGE = "файл не в кодуванні UTF-8 (збережіть його як «CSV UTF-8»)"


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cp1251.csv"
    path.write_bytes(f"{SHORT_HEADER}\n12345,".encode() + "вул. Миру".encode("cp1251") + b",1,heat\n")
    with open(path, encoding="utf-8-sig", newline="") as source, pytest.raises(ImportFileError) as error:
        list(read_import_rows(source))
    assert str(error.value) == UTF8_MESSAGE


def test_invalid_utf8_after_many_good_lines(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    good = "".join(f"{10000 + i},addr,{i},heat\n" for i in range(2000))
    path.write_bytes(f"{SHORT_HEADER}\n{good}".encode() + b"99999,\xff,1,heat\n")
    seen = []
    with open(path, encoding="utf-8-sig", newline="") as source, pytest.raises(ImportFileError) as error:
        for item in read_import_rows(source):
            seen.append(item)
    assert all(isinstance(item, ImportRow) for item in seen)
    assert len(seen) < 2001
    assert str(error.value) == UTF8_MESSAGE


def test_blank_lines_before_the_header_are_skipped() -> None:
    assert read(f"\n  \n{SHORT_HEADER}\n12345,адреса,1,heat\n") == [
        ImportRow(4, "12345", "адреса", "1", MeterKind.HEAT, None, None)
    ]


# --- bytes as they come from the file (decoded_lines) ------------------------------------------------


def read_bytes(data: bytes) -> list[ImportRow | RowError]:
    return list(read_import_rows(decoded_lines(io.BytesIO(data))))


def file_error(data: bytes) -> str:
    with pytest.raises(ImportFileError) as error:
        read_bytes(data)
    return str(error.value)


def test_bytes_with_bom_crlf_and_a_newline_in_quotes() -> None:
    data = f'{SHORT_HEADER}\r\n12345,"вул. Миру,\r\nбуд. 5",1,heat\r\n1234,a,2,heat\r\n'.encode("utf-8-sig")
    items = read_bytes(data)
    assert items[0] == ImportRow(2, "12345", "вул. Миру, буд. 5", "1", MeterKind.HEAT, None, None)
    assert items[1] == RowError(4, account_error("1234"))


def test_a_bom_alone_is_an_empty_file() -> None:
    assert file_error(b"\xef\xbb\xbf") == "файл порожній: немає рядка заголовка"
    assert file_error(b"") == "файл порожній: немає рядка заголовка"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            f"{SHORT_HEADER}\n12345,вул. Миру,1,heat\n".encode("cp1251"),
            "рядок 2: файл не в кодуванні UTF-8, схоже на Windows-1251; збережіть його як «CSV UTF-8»",
        ),
        (
            f"{SHORT_HEADER}\n12345,a,1,heat\n".encode() + b"23456,\xd0\x01\xff\x80,2,heat\n",
            "рядок 3: файл не в кодуванні UTF-8, схоже на двійковий файл; збережіть його як «CSV UTF-8»",
        ),
        (
            f"{SHORT_HEADER}\n12345,a,1,heat\n".encode("utf-16"),
            "файл у кодуванні UTF-16; збережіть його як «CSV UTF-8»",
        ),
        (
            f"{SHORT_HEADER}\n12345,a,1,heat\n".encode("utf-16-le"),
            "рядок 1: нульовий байт (NUL); це не текстовий CSV (двійковий файл або UTF-16), "
            "збережіть його як «CSV UTF-8»",
        ),
        (
            f"{SHORT_HEADER}\n12345,a\x00,1,heat\n".encode(),
            "рядок 2: нульовий байт (NUL); це не текстовий CSV (двійковий файл або UTF-16), "
            "збережіть його як «CSV UTF-8»",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00",
            "це книга Excel (.xlsx) чи інший ZIP-архів, а не CSV; збережіть його як «CSV UTF-8»",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1",
            "це книга Excel 97-2003 (.xls), а не CSV; збережіть його як «CSV UTF-8»",
        ),
        (
            f"{SHORT_HEADER}\n12345,a,1,heat\r23456,b,2,heat\r".encode(),
            "рядок 2: символ CR посеред рядка (кінці рядків мають бути LF або CRLF)",
        ),
    ],
    ids=["cp1251", "binary", "utf-16", "utf-16-no-bom", "nul", "xlsx", "xls", "cr-only"],
)
def test_bytes_refused(data: bytes, message: str) -> None:
    assert file_error(data) == message


def test_invalid_utf8_far_into_the_file_names_its_line() -> None:
    good = "".join(f"{10000 + i},addr,{i},heat\n" for i in range(3000)).encode()
    data = f"{SHORT_HEADER}\n".encode() + good + "99999,Чернігів,1,heat\n".encode("cp1251")
    assert file_error(data).startswith("рядок 3002: файл не в кодуванні UTF-8")


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.requested = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        line = super().readline(size)
        self.requested += len(line)
        return line


@pytest.mark.parametrize("where", [1, 3])
def test_an_overlong_line_is_refused_before_it_is_read(where: int) -> None:
    lines = [f"{SHORT_HEADER}\n".encode(), b"12345,a,1,heat\n", b"12345,a,2,heat\n"]
    lines.insert(where - 1, b"x" * (10 * MAX_LINE_BYTES))
    source = CountingReader(b"".join(lines))
    with pytest.raises(ImportFileError) as error:
        list(read_import_rows(decoded_lines(source)))
    assert str(error.value) == (
        f"рядок {where} довший за 64 КіБ; це не CSV білінгу "
        "(двійковий файл або файл без кінців рядків), далі не читається"
    )
    assert source.requested <= 2 * MAX_LINE_BYTES


def test_a_line_of_exactly_the_limit_is_read() -> None:
    address = "x" * (MAX_LINE_BYTES - len("12345,,1,heat\n"))
    (item,) = read_bytes(f"{SHORT_HEADER}\n12345,{address},1,heat\n".encode())
    assert item == RowError(2, "адреса довша за 255 символів")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            '12345,"=HYPERLINK(""http://x"",""клік"")",1,heat',
            "адреса починається з '=', як формула таблиці: '=HYPERLINK(\"http://x\",\"клік\")'",
        ),
        ("12345,+cmd,1,heat", "адреса починається з '+', як формула таблиці: '+cmd'"),
        ("12345,@SUM(A1),1,heat", "адреса починається з '@', як формула таблиці: '@SUM(A1)'"),
        ("12345,-2+3,1,heat", "адреса починається з '-', як формула таблиці: '-2+3'"),
        ("12345,a,-A1,heat", "номер лічильника починається з '-', як формула таблиці: '-A1'"),
        ("12345,a,=1+2,heat", meter_error("=1+2")),
        ("=1+2,a,1,heat", account_error("=1+2")),
        ("12345,a,1,@SUM", "невідомий вид лічильника '@SUM' (heat або hot_water)"),
    ],
)
def test_formula_looking_values_are_refused(row: str, reason: str) -> None:
    assert only_error(row, SHORT_HEADER) == (2, reason)


def test_long_values_are_cut_short_in_messages() -> None:
    (line, reason) = only_error("9" * 50_000 + ",a,1,heat", SHORT_HEADER)
    assert (line, reason) == (2, account_error("9" * 40 + "…"))
