"""Exchange with billing: the accounts import and the readings export, on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from actions.operators.billing import (
    CHUNK_ROWS,
    KEPT_ERRORS,
    ImportReport,
    RowError,
    export_readings,
    import_accounts,
)
from actions.operators.demo import seed_demo
from actions.register.meter import find_meter
from actions.register.models import Account, Meter, MeterKind
from actions.register.reading import submit_reading

HEADER = "account_number,address,meter_number,meter_kind,last_reading,last_period"
ADDRESS = "м. Чернігів, вул. Шевченка, 12, кв. 3"
BASIC = [
    HEADER,
    f'12345,"{ADDRESS}",111111,heat,475.10,2026-02',
    f'12345,"{ADDRESS}",222222,hot_water,,',
    "23456,вул. Миру 5,333333,hot_water,41.00,2026-02",
]


def counts(report: ImportReport) -> tuple[int, ...]:
    return (
        report.rows,
        len(report.errors),
        report.accounts_created,
        report.accounts_updated,
        report.meters_created,
        report.meters_updated,
        report.readings_created,
        report.readings_updated,
    )


def query(session: Session, statement: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in session.execute(text(statement))]


def register(session: Session) -> list[tuple[object, ...]]:
    return query(
        session,
        "SELECT a.number, a.address, m.number, m.kind, m.dial_digits FROM meters m "
        "JOIN accounts a ON a.id = m.account_id ORDER BY a.number, m.number",
    )


def readings(session: Session) -> list[tuple[object, ...]]:
    return query(
        session,
        "SELECT m.number, r.period, r.value::text, r.status, r.channel FROM readings r "
        "JOIN meters m ON m.id = r.meter_id ORDER BY r.id",
    )


def table_counts(session: Session) -> tuple[object, ...]:
    return query(
        session,
        "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM meters), "
        "(SELECT count(*) FROM readings)",
    )[0]


# --- import ------------------------------------------------------------------------------------------


def test_import_happy_path(session: Session) -> None:
    report = import_accounts(session, BASIC)
    assert counts(report) == (3, 0, 2, 0, 3, 0, 2, 0)
    assert report.summary() == (
        "рядків: 3, з помилками: 0; рахунки: створено 2, оновлено 0; "
        "лічильники: створено 3, оновлено 0; показання: створено 2, оновлено 0"
    )
    assert register(session) == [
        ("12345", ADDRESS, "111111", "heat", 3),
        ("12345", ADDRESS, "222222", "hot_water", 3),
        ("23456", "вул. Миру 5", "333333", "hot_water", 3),
    ]
    assert readings(session) == [
        ("111111", "2026-02", "475.10", "accepted", "import"),
        ("333333", "2026-02", "41.00", "accepted", "import"),
    ]
    meter = find_meter(session, "12345", "222222")
    assert meter is not None
    assert meter.kind is MeterKind.HOT_WATER


def test_reimport_changes_nothing(session: Session) -> None:
    import_accounts(session, BASIC)
    before = (register(session), readings(session))
    again = import_accounts(session, BASIC)
    assert counts(again) == (3, 0, 0, 0, 0, 0, 0, 0)
    assert (register(session), readings(session)) == before


def test_import_accepts_lines_from_a_file_object(session: Session) -> None:
    report = import_accounts(session, io.StringIO("\ufeff" + "\r\n".join(BASIC) + "\r\n", newline=""))
    assert counts(report) == (3, 0, 2, 0, 3, 0, 2, 0)


def test_changed_address_and_kind_are_updates(session: Session) -> None:
    import_accounts(session, BASIC)
    changed = [
        HEADER,
        "12345,вул. Нова 1,111111,hot_water,475.10,2026-02",  # new address, new kind
        "12345,вул. Нова 1,222222,hot_water,,",  # same kind
        "23456,вул. Миру 5,333333,hot_water,41.00,2026-02",  # unchanged
        "23456,вул. Миру 5,333334,heat,,",  # a new meter on an old account
    ]
    report = import_accounts(session, changed)
    assert counts(report) == (4, 0, 0, 1, 1, 1, 0, 0)
    assert register(session) == [
        ("12345", "вул. Нова 1", "111111", "hot_water", 3),
        ("12345", "вул. Нова 1", "222222", "hot_water", 3),
        ("23456", "вул. Миру 5", "333333", "hot_water", 3),
        ("23456", "вул. Миру 5", "333334", "heat", 3),
    ]


def test_seeded_reading_superseded_by_new_value(session: Session) -> None:
    import_accounts(session, BASIC)
    new_value = [HEADER, f'12345,"{ADDRESS}",111111,heat,476.00,2026-02']
    report = import_accounts(session, new_value)
    assert counts(report) == (1, 0, 0, 0, 0, 0, 0, 1)
    next_period = [HEADER, f'12345,"{ADDRESS}",111111,heat,480.00,2026-03']
    report = import_accounts(session, next_period)
    assert counts(report) == (1, 0, 0, 0, 0, 0, 1, 0)
    assert readings(session) == [
        ("111111", "2026-02", "475.10", "superseded", "import"),
        ("333333", "2026-02", "41.00", "accepted", "import"),
        ("111111", "2026-02", "476.00", "accepted", "import"),
        ("111111", "2026-03", "480.00", "accepted", "import"),
    ]


def test_seed_equal_to_a_subscribers_reading_is_kept(session: Session) -> None:
    import_accounts(session, BASIC[:2])
    meter = find_meter(session, "12345", "111111")
    assert meter is not None
    submit_reading(session, meter.id, Decimal("480.5"), channel="viber", period="2026-03")
    report = import_accounts(session, [HEADER, f'12345,"{ADDRESS}",111111,heat,480.50,2026-03'])
    assert counts(report) == (1, 0, 0, 0, 0, 0, 0, 0)
    report = import_accounts(session, [HEADER, f'12345,"{ADDRESS}",111111,heat,481.00,2026-03'])
    assert counts(report) == (1, 0, 0, 0, 0, 0, 0, 1)
    assert readings(session)[1:] == [
        ("111111", "2026-03", "480.50", "superseded", "viber"),
        ("111111", "2026-03", "481.00", "accepted", "import"),
    ]


MIXED = [
    HEADER,
    f'12345,"{ADDRESS}",111111,heat,475.10,2026-02',  # 2
    "1234,вул. Миру 5,333333,hot_water,,",  # 3: bad account number
    f'12345,"{ADDRESS}",222222,steam,,',  # 4: unknown kind
    "23456,вул. Миру 5,333333,hot_water,41.00,2026-02",  # 5
    "23456,вул. Миру 5,444444,heat,1000,2026-02",  # 6: too many digits
]
MIXED_ERRORS = [
    RowError(3, "номер особового рахунку має бути з п'яти цифр: '1234'"),
    RowError(4, "невідомий вид лічильника 'steam' (heat або hot_water)"),
    RowError(6, "більше цифр, ніж має лічильник (до 999.99): '1000'"),
]


def test_skip_invalid_writes_valid_rows_only(session: Session) -> None:
    report = import_accounts(session, MIXED, skip_invalid=True)
    assert report.errors == MIXED_ERRORS
    assert counts(report) == (5, 3, 2, 0, 2, 0, 2, 0)
    assert register(session) == [
        ("12345", ADDRESS, "111111", "heat", 3),
        ("23456", "вул. Миру 5", "333333", "hot_water", 3),
    ]


def test_invalid_rows_reported_all_and_nothing_counted(session: Session) -> None:
    report = import_accounts(session, MIXED)
    assert report.errors == MIXED_ERRORS
    assert counts(report) == (5, 3, 0, 0, 0, 0, 0, 0)
    assert table_counts(session) == (0, 0, 0)


def test_errors_are_counted_all_but_kept_only_first(session: Session) -> None:
    # A garbage file can have millions of bad rows: the report keeps the first KEPT_ERRORS.
    lines = [HEADER] + [f"{'9' * 1000},a,{i},heat,," for i in range(KEPT_ERRORS + 500)] + BASIC[1:]
    report = import_accounts(session, lines)
    assert (report.rows, report.error_count, len(report.errors)) == (
        KEPT_ERRORS + 503,
        KEPT_ERRORS + 500,
        KEPT_ERRORS,
    )
    assert report.errors[0] == RowError(2, f"номер особового рахунку має бути з п'яти цифр: '{'9' * 40}…'")
    assert report.errors[-1].line == KEPT_ERRORS + 1
    assert report.summary().startswith(f"рядків: {KEPT_ERRORS + 503}, з помилками: {KEPT_ERRORS + 500}; ")
    assert table_counts(session) == (0, 0, 0)


def generated(accounts: int, meters_per_account: int, period: str = "2026-02") -> list[str]:
    lines = [HEADER]
    for a in range(accounts):
        for m in range(meters_per_account):
            value = f"{(a * 7 + m) % 1000}.{m:02d}"
            kind = "heat" if m % 2 == 0 else "hot_water"
            lines.append(f'{10000 + a},"вул. Довга, {a}",{a:05d}{m},{kind},{value},{period}')
    return lines


def test_import_more_than_one_chunk(session: Session) -> None:
    # 3 meters per account: the account of rows 5000 and 5001 lies across the chunk boundary.
    lines = generated(4000, 3)
    assert len(lines) - 1 == 12000 > 2 * CHUNK_ROWS
    report = import_accounts(session, lines)
    assert counts(report) == (12000, 0, 4000, 0, 12000, 0, 12000, 0)
    assert table_counts(session) == (4000, 12000, 12000)
    boundary = query(
        session,
        "SELECT count(*) FROM meters m JOIN accounts a ON a.id = m.account_id WHERE a.number = '11666'",
    )
    assert boundary == [(3,)]
    sample = query(
        session,
        "SELECT a.address, m.kind, r.value::text FROM readings r JOIN meters m ON m.id = r.meter_id "
        "JOIN accounts a ON a.id = m.account_id WHERE m.number = '039991'",
    )
    assert sample == [("вул. Довга, 3999", "hot_water", "994.01")]
    again = import_accounts(session, lines)
    assert counts(again) == (12000, 0, 0, 0, 0, 0, 0, 0)
    assert table_counts(session) == (4000, 12000, 12000)


def test_invalid_row_after_a_full_chunk_is_rolled_back_by_the_caller(session: Session) -> None:
    lines = generated(3000, 2)
    lines[5501] = lines[5501].replace(",heat,", ",gas,")
    savepoint = session.begin_nested()
    report = import_accounts(session, lines)
    assert report.errors == [RowError(5502, "невідомий вид лічильника 'gas' (heat або hot_water)")]
    assert counts(report) == (6000, 1, 2500, 0, 5000, 0, 5000, 0)
    assert table_counts(session) == (2500, 5000, 5000)  # the first chunk went in ...
    savepoint.rollback()
    assert table_counts(session) == (0, 0, 0)  # ... and the caller's rollback took it out


# --- export ------------------------------------------------------------------------------------------


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def build_history(session: Session) -> dict[str, int]:
    import_accounts(
        session,
        [
            "account_number,address,meter_number,meter_kind",
            "34567,вул. Реміснича 7,444444,heat",
            "12345,вул. Шевченка 12,222222,hot_water",
            "12345,вул. Шевченка 12,111111,heat",
            "23456,просп. Перемоги 45,333333,hot_water",
            "45678,вул. Тиха 1,555555,heat",
        ],
    )
    meters = {m.number: m.id for m in session.query(Meter).join(Account)}

    def add(meter: str, period: str, value: str, channel: str, when: dt.datetime) -> None:
        submit_reading(
            session, meters[meter], Decimal(value), channel=channel, period=period, submitted_at=when
        )

    add("111111", "2026-01", "450.00", "import", at(1, 0, month=2))
    add("111111", "2026-02", "460.00", "viber", at(25, 9, month=2))
    add("111111", "2026-02", "462.35", "viber", at(26, 9, month=2))  # supersedes 460.00
    add("111111", "2026-03", "475.10", "viber", at(26, 8, 15))  # winter time: 10:15 in Kyiv
    add("111111", "2026-04", "490.00", "rest", at(26, 8, month=4))  # later: not a "previous"
    add("222222", "2026-01", "120.50", "import", at(1, 0, month=2))
    add("222222", "2026-03", "126.00", "rest", at(29, 7))
    add("222222", "2026-03", "127.15", "rest", at(30, 7, 5))  # summer time: 10:05 in Kyiv
    add("444444", "2026-01", "980.40", "import", at(1, 0, month=2))
    add("444444", "2026-02", "991.75", "telegram", at(27, 12, month=2))
    add("444444", "2026-03", "3.60", "telegram", at(31, 21, 30))  # 00:30 on 1 April in Kyiv
    add("333333", "2026-03", "41.00", "rest", at(25, 6))
    add("555555", "2026-02", "10.00", "rest", at(25, 6, month=2))
    return meters


def test_export_figures(session: Session) -> None:
    build_history(session)
    out = io.StringIO()
    assert export_readings(session, "2026-03", out) == 4
    assert out.getvalue() == (
        "account_number,meter_number,meter_kind,period,reading,previous_reading,consumption,submitted_at,channel\n"
        "12345,111111,heat,2026-03,475.10,462.35,12.75,2026-03-26T10:15:00+02:00,viber\n"
        "12345,222222,hot_water,2026-03,127.15,120.50,6.65,2026-03-30T10:05:00+03:00,rest\n"
        "23456,333333,hot_water,2026-03,41.00,,,2026-03-25T08:00:00+02:00,rest\n"
        "34567,444444,heat,2026-03,3.60,991.75,11.85,2026-04-01T00:30:00+03:00,telegram\n"
    )


def test_export_other_periods(session: Session) -> None:
    build_history(session)
    out = io.StringIO()
    assert export_readings(session, "2026-02", out) == 3
    assert out.getvalue().splitlines()[1:] == [
        "12345,111111,heat,2026-02,462.35,450.00,12.35,2026-02-26T11:00:00+02:00,viber",
        "34567,444444,heat,2026-02,991.75,980.40,11.35,2026-02-27T14:00:00+02:00,telegram",
        "45678,555555,heat,2026-02,10.00,,,2026-02-25T08:00:00+02:00,rest",
    ]
    out = io.StringIO()
    assert export_readings(session, "2026-04", out) == 1
    assert out.getvalue().splitlines()[1:] == [
        "12345,111111,heat,2026-04,490.00,475.10,14.90,2026-04-26T11:00:00+03:00,rest"
    ]


def test_export_of_an_empty_period(session: Session) -> None:
    build_history(session)
    out = io.StringIO()
    assert export_readings(session, "2025-12", out) == 0
    assert out.getvalue() == (
        "account_number,meter_number,meter_kind,period,reading,previous_reading,consumption,submitted_at,channel\n"
    )


def test_export_with_a_wider_register(session: Session) -> None:
    meters = build_history(session)
    session.execute(text("UPDATE meters SET dial_digits = 4 WHERE id = :m"), {"m": meters["444444"]})
    session.expire_all()
    out = io.StringIO()
    export_readings(session, "2026-03", out)
    assert out.getvalue().splitlines()[-1] == (
        "34567,444444,heat,2026-03,3.60,991.75,9011.85,2026-04-01T00:30:00+03:00,telegram"
    )


# --- demo data ---------------------------------------------------------------------------------------


def test_seed_demo_twice(session: Session) -> None:
    now = dt.datetime(2026, 4, 10, 9, 0, tzinfo=dt.UTC)
    first = seed_demo(session, now)
    assert counts(first) == (5, 0, 3, 0, 5, 0, 15, 0)
    second = seed_demo(session, now)
    assert counts(second) == (5, 0, 0, 0, 0, 0, 0, 0)
    assert table_counts(session) == (3, 5, 15)
    out = io.StringIO()
    assert export_readings(session, "2026-03", out) == 5
    figures = [line.split(",")[1:7] for line in out.getvalue().splitlines()[1:]]
    assert figures == [
        ["111111", "heat", "2026-03", "475.10", "462.35", "12.75"],
        ["222222", "hot_water", "2026-03", "127.15", "123.80", "3.35"],
        ["333333", "hot_water", "2026-03", "41.00", "38.05", "2.95"],
        ["444444", "heat", "2026-03", "3.60", "991.75", "11.85"],
        ["555555", "hot_water", "2026-03", "218.90", "214.40", "4.50"],
    ]


def test_import_plans_its_chunk_queries_for_their_own_values(session: Session) -> None:
    # A generic plan of the prepared chunk queries took seconds a chunk (actions/operators/billing.py).
    assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
    rows = [HEADER] + [f"{10000 + i},адреса {i},{500000 + i},heat,1.00,2026-02" for i in range(12)]
    for _ in range(2):  # more than psycopg's five executions before it prepares a statement
        assert not import_accounts(session, rows).errors
    assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    session.rollback()  # SET LOCAL: the setting goes with the import's transaction
    assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
