"""`otke` as operators run it: a subprocess with DATABASE_URL of the test's choosing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from actions.register import db

OTKE = Path(sys.executable).with_name("otke")
CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test"
HEADER = "account_number,address,meter_number,meter_kind,last_reading,last_period"
GOOD = [
    HEADER,
    '12345,"м. Чернігів, вул. Шевченка, 12, кв. 3",111111,heat,475.10,2026-02',
    '12345,"м. Чернігів, вул. Шевченка, 12, кв. 3",222222,hot_water,,',
    "23456,вул. Миру 5,333333,hot_water,41.00,2026-02",
]
GOOD_SUMMARY = (
    "рядків: 3, з помилками: 0; рахунки: створено 2, оновлено 0; "
    "лічильники: створено 3, оновлено 0; показання: створено 2, оновлено 0"
)
EXPORT_HEADER = (
    "account_number,meter_number,meter_kind,period,reading,previous_reading,consumption,submitted_at,channel"
)


def otke(*args: str, url: str | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if url is not None:
        env["DATABASE_URL"] = url
    result = subprocess.run(
        [str(OTKE), *args], input=stdin, capture_output=True, env=env, timeout=60, check=False
    )
    completed = subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


def write(path: Path, lines: list[str], *, encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def counts() -> tuple[int, int, int]:
    with db.engine().connect() as connection:
        row = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM meters), "
                "(SELECT count(*) FROM readings)"
            )
        ).one()
    return (row[0], row[1], row[2])
