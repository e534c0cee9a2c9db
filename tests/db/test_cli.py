"""`otke` as operators run it: a subprocess on a schema of the test's own, real commits."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url, text

from actions.register import db, schema
from actions.register.meter import find_meter
from actions.register.models import Base
from actions.register.reading import submit_reading
from tests.support.otke import (
    CLOSED_PORT_URL,
    EXPORT_HEADER,
    GOOD,
    GOOD_SUMMARY,
    HEADER,
    OTKE,
    counts,
    otke,
    write,
)
from tests.support.tcp_proxy import TcpProxy


def test_otke_is_installed() -> None:
    assert OTKE.is_file(), f"{OTKE} is missing: install the project into the venv"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["import-accounts"],
        ["export-readings"],
        ["seed-demo"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
    ],
    ids=lambda command: " ".join(command) or "otke",
)
def test_help(command: list[str]) -> None:
    result = otke(*command, "--help", url=CLOSED_PORT_URL)
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: otke {' '.join(command)}".rstrip() + " ")
    assert result.stderr == ""


def test_no_command_is_a_usage_error() -> None:
    result = otke(url=CLOSED_PORT_URL)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: otke ")
    result = otke("export-readings", url=CLOSED_PORT_URL)
    assert result.returncode == 2
    assert "--period" in result.stderr


def test_import_happy_path_then_again(committed_db: str, tmp_path: Path) -> None:
    path = write(tmp_path / "accounts.csv", GOOD)
    result = otke("import-accounts", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (0, GOOD_SUMMARY + "\n", "")
    assert counts() == (2, 3, 2)
    again = otke("import-accounts", str(path))
    assert again.returncode == 0
    assert again.stdout == (
        "рядків: 3, з помилками: 0; рахунки: створено 0, оновлено 0; "
        "лічильники: створено 0, оновлено 0; показання: створено 0, оновлено 0\n"
    )
    assert counts() == (2, 3, 2)


BAD = [*GOOD[:2], "1234,вул. Миру 5,444444,heat,,", *GOOD[2:]]


def test_import_with_an_invalid_row_writes_nothing(committed_db: str, tmp_path: Path) -> None:
    result = otke("import-accounts", str(write(tmp_path / "bad.csv", BAD)))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "рядок 3: номер особового рахунку має бути з п'яти цифр: '1234'\n"
        "Нічого не записано. рядків: 4, з помилками: 1; рахунки: створено 0, оновлено 0; "
        "лічильники: створено 0, оновлено 0; показання: створено 0, оновлено 0\n"
    )
    assert counts() == (0, 0, 0)


def test_invalid_row_after_a_written_chunk_writes_nothing(committed_db: str, tmp_path: Path) -> None:
    lines = [HEADER] + [f"{10000 + i},вул. Довга {i},{i},heat,{i % 1000}.5,2026-02" for i in range(5200)]
    lines[5100] = lines[5100].replace(",heat,", ",steam,")
    result = otke("import-accounts", str(write(tmp_path / "late.csv", lines)))
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[0] == "рядок 5101: невідомий вид лічильника 'steam' (heat або hot_water)"
    )
    assert counts() == (0, 0, 0)


def test_import_skip_invalid(committed_db: str, tmp_path: Path) -> None:
    result = otke("import-accounts", "--skip-invalid", str(write(tmp_path / "bad.csv", BAD)))
    assert result.returncode == 0
    assert result.stderr == "рядок 3: номер особового рахунку має бути з п'яти цифр: '1234'\n"
    assert result.stdout == (
        "рядків: 4, з помилками: 1; рахунки: створено 2, оновлено 0; "
        "лічильники: створено 3, оновлено 0; показання: створено 2, оновлено 0\n"
    )
    assert counts() == (2, 3, 2)


def test_many_errors_are_cut_short(committed_db: str, tmp_path: Path) -> None:
    lines = [HEADER] + [f"{10000 + i},a,{i},gas,," for i in range(60)]
    result = otke("import-accounts", str(write(tmp_path / "gas.csv", lines)))
    assert result.returncode == 1
    shown = result.stderr.splitlines()
    assert len(shown) == 52
    assert shown[0] == "рядок 2: невідомий вид лічильника 'gas' (heat або hot_water)"
    assert shown[49] == "рядок 51: невідомий вид лічильника 'gas' (heat або hot_water)"
    assert shown[50] == "... і ще 10 помилок"
    assert shown[51].startswith("Нічого не записано. рядків: 60, з помилками: 60;")


def test_import_missing_file(committed_db: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    result = otke("import-accounts", str(missing))
    assert result.returncode == 2
    assert result.stderr == f"otke: не вдається прочитати {missing}: No such file or directory\n"
    assert result.stdout == ""


def test_import_directory(committed_db: str, tmp_path: Path) -> None:
    result = otke("import-accounts", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == f"otke: не вдається прочитати {tmp_path}: Is a directory\n"


def test_import_invalid_utf8(committed_db: str, tmp_path: Path) -> None:
    path = write(tmp_path / "cp1251.csv", GOOD, encoding="cp1251")
    result = otke("import-accounts", str(path))
    assert result.returncode == 2
    assert (
        result.stderr == f"otke: {path}: рядок 2: файл не в кодуванні UTF-8, схоже на Windows-1251; "
        "збережіть його як «CSV UTF-8»; нічого не записано\n"
    )
    assert counts() == (0, 0, 0)


def test_import_bad_header(committed_db: str, tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", ["account,address,meter_number,meter_kind", "12345,a,1,heat"])
    result = otke("import-accounts", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"otke: {path}: заголовок: бракує стовпців account_number; невідомі стовпці 'account' "
        "(очікується account_number,address,meter_number,meter_kind,last_reading,last_period); "
        "нічого не записано\n"
    )


def test_import_bom_file(committed_db: str, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(("\r\n".join(GOOD) + "\r\n").encode("utf-8-sig"))
    result = otke("import-accounts", str(path))
    assert (result.returncode, result.stdout) == (0, GOOD_SUMMARY + "\n")
    assert counts() == (2, 3, 2)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_import_from_stdin(committed_db: str, bom: bytes) -> None:
    result = otke("import-accounts", "-", stdin=bom + ("\n".join(GOOD) + "\n").encode())
    assert (result.returncode, result.stdout, result.stderr) == (0, GOOD_SUMMARY + "\n", "")
    assert counts() == (2, 3, 2)


def test_import_invalid_utf8_from_stdin(committed_db: str) -> None:
    # Standard input is read like a file: the encoding is a whole-file error, not a row error.
    result = otke("import-accounts", "-", stdin=("\n".join(GOOD) + "\n").encode("cp1251"))
    assert result.returncode == 2
    assert (
        result.stderr == "otke: -: рядок 2: файл не в кодуванні UTF-8, схоже на Windows-1251; "
        "збережіть його як «CSV UTF-8»; нічого не записано\n"
    )
    assert counts() == (0, 0, 0)


def test_import_from_stdin_keeps_line_numbers(committed_db: str) -> None:
    lines = [HEADER, '12345,"вул. Миру,\r\nбуд. 5",1,heat,,', "1234,a,2,heat,,"]
    result = otke("import-accounts", "-", stdin=("\r\n".join(lines) + "\r\n").encode())
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "рядок 4: номер особового рахунку має бути з п'яти цифр: '1234'"


def test_export_bad_period(committed_db: str) -> None:
    for period in ["2026-13", "2026-3", "26-03", ""]:
        result = otke("export-readings", "--period", period)
        assert result.returncode == 2
        assert result.stderr == f"otke: період має бути у форматі РРРР-ММ: {period!r}\n"
        assert result.stdout == ""


def add_history() -> None:
    with db.transaction() as session:
        meter = find_meter(session, "12345", "111111")
        assert meter is not None
        when = dt.datetime(2026, 3, 26, 8, 15, tzinfo=dt.UTC)
        submit_reading(
            session, meter.id, Decimal("470.00"), channel="viber", period="2026-03", submitted_at=when
        )
        submit_reading(
            session, meter.id, Decimal("476.25"), channel="viber", period="2026-03", submitted_at=when
        )


EXPORTED = f"{EXPORT_HEADER}\n12345,111111,heat,2026-03,476.25,475.10,1.15,2026-03-26T10:15:00+02:00,viber\n"


def test_export_to_file_and_stdout(committed_db: str, tmp_path: Path) -> None:
    assert otke("import-accounts", str(write(tmp_path / "a.csv", GOOD))).returncode == 0
    add_history()
    out = tmp_path / "out" / "readings-2026-03.csv"
    out.parent.mkdir()
    result = otke("export-readings", "--period", "2026-03", "--out", str(out))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "показань за 2026-03: 1\n")
    assert out.read_bytes().decode() == EXPORTED
    result = otke("export-readings", "--period", "2026-03")
    assert (result.returncode, result.stdout, result.stderr) == (0, EXPORTED, "показань за 2026-03: 1\n")
    result = otke("export-readings", "--period", "2026-02")
    assert result.stdout.splitlines()[0] == EXPORT_HEADER
    assert [line.split(",")[:7] for line in result.stdout.splitlines()[1:]] == [
        ["12345", "111111", "heat", "2026-02", "475.10", "", ""],
        ["23456", "333333", "hot_water", "2026-02", "41.00", "", ""],
    ]


def test_seed_demo_twice(committed_db: str) -> None:
    first = otke("seed-demo")
    assert first.returncode == 0
    assert first.stdout == (
        "Демо-дані: рядків: 5, з помилками: 0; рахунки: створено 3, оновлено 0; "
        "лічильники: створено 5, оновлено 0; показання: створено 15, оновлено 0\n"
    )
    second = otke("seed-demo")
    assert second.returncode == 0
    assert second.stdout == (
        "Демо-дані: рядків: 5, з помилками: 0; рахунки: створено 0, оновлено 0; "
        "лічильники: створено 0, оновлено 0; показання: створено 0, оновлено 0\n"
    )
    assert counts() == (3, 5, 15)


def test_db_downgrade_and_upgrade(committed_db: str) -> None:
    down = otke("db", "downgrade", "base")
    assert down.returncode == 0
    assert down.stdout.startswith("Схему відкочено до base (postgresql+psycopg://postgres@127.0.0.1")
    engine = db.make_engine(committed_db)
    try:
        with engine.connect() as connection:
            assert inspect(connection).get_table_names() == ["alembic_version"]
        up = otke("db", "upgrade")
        assert up.returncode == 0
        assert up.stdout.startswith("Схему оновлено до head (")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version", *Base.metadata.tables}
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            assert versions == [ScriptDirectory.from_config(schema.alembic_config()).get_current_head()]
        again = otke("db", "upgrade", "head")
        assert again.returncode == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "command",
    [
        ["db", "upgrade"],
        ["db", "downgrade", "base"],
        ["import-accounts", "-"],
        ["export-readings", "--period", "2026-03"],
        ["seed-demo"],
    ],
    ids=" ".join,
)
def test_database_down(command: list[str]) -> None:
    result = otke(*command, url=CLOSED_PORT_URL, stdin="\n".join(GOOD).encode())
    assert result.returncode == 3
    assert result.stderr.startswith(f"otke: база даних недоступна ({CLOSED_PORT_URL}): connection failed: ")
    assert "Connection refused" in result.stderr
    assert result.stdout == ""  # not even the CSV header: nothing half-written


def test_export_to_a_file_is_complete_or_untouched(tmp_path: Path) -> None:
    target = tmp_path / "readings.csv"
    target.write_text("the previous export\n", encoding="utf-8")
    result = otke("export-readings", "--period", "2026-03", "--out", str(target), url=CLOSED_PORT_URL)
    assert result.returncode == 3
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["readings.csv"]  # no partial file left


def test_export_to_an_unwritable_place(committed_db: str, tmp_path: Path) -> None:
    result = otke("export-readings", "--period", "2026-03", "--out", str(tmp_path / "missing" / "r.csv"))
    assert result.returncode == 2
    assert result.stderr.startswith("otke: не вдається записати ")
    assert "Traceback" not in result.stderr


def test_an_export_to_stdout_cut_off_mid_stream_writes_nothing(committed_db: str) -> None:
    """The database goes away after the first batch of a streamed export: standard output stays
    empty (no half CSV for billing) and the command fails with code 3 and a message."""
    rows = 5000  # more than one batch of the streamed query (yield_per=2000)
    with db.engine().begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (number, address) "
                "SELECT lpad(n::text, 5, '0'), 'a' FROM generate_series(1, :rows) AS n"
            ),
            {"rows": rows},
        )
        connection.execute(
            text("INSERT INTO meters (account_id, number, kind) SELECT id, number, 'heat' FROM accounts")
        )
        connection.execute(
            text(
                "INSERT INTO readings (meter_id, period, value, submitted_at, channel, status) "
                "SELECT id, '2026-03', 1.00, now(), 'viber', 'accepted' FROM meters"
            )
        )
    url = make_url(committed_db)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        whole = otke("export-readings", "--period", "2026-03", url=through_proxy)
        assert (whole.returncode, len(whole.stdout.splitlines())) == (0, rows + 1)
        # The second batch is fetched only after the first was written out.
        proxy.cut_on(b"FETCH FORWARD", b"FETCH FORWARD")
        cut = otke("export-readings", "--period", "2026-03", url=through_proxy)
        assert proxy.tripped.is_set()
    assert cut.returncode == 3, cut.stderr
    assert cut.stdout == ""
    assert cut.stderr.startswith("otke: база даних недоступна (")


def test_the_production_profile_never_falls_back_to_the_embedded_file(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run(
        [str(OTKE), "db", "upgrade"],
        env={**env, "OTKE_PROFILE": "production"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.startswith("otke: не задано DATABASE_URL;")
    assert "Traceback" not in done.stderr
