"""Benchmark `otke import-accounts`: a generated billing CSV into a fresh PostgreSQL schema.

    .venv/bin/python bench/import_accounts.py [--rows 100000] [--database-url URL]

Generates ROWS rows (two meters per account, each with last_reading/last_period), creates a
schema of its own in the database, migrates it, times the first import and the idempotent
re-import (and, for scale, the export of the seeded period) as `otke` subprocesses, drops the
schema, prints a table and writes bench/results/import_accounts.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

from actions.register import db, schema

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
OTKE = Path(sys.executable).with_name("otke")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PERIOD = "2026-02"
TARGET_SECONDS = 30.0


def generate_csv(path: Path, rows: int) -> None:
    """Two meters per account (heat and hot water), each with a last reading for PERIOD."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("account_number,address,meter_number,meter_kind,last_reading,last_period\n")
        for row in range(rows):
            account, meter = divmod(row, 2)
            kind = "heat" if meter == 0 else "hot_water"
            value = f"{(account * 37 + meter * 11) % 1000}.{row % 100:02d}"
            address = f"м. Чернігів, вул. Довга, {account // 40 + 1}, кв. {account % 40 + 1}"
            out.write(f'{10000 + account:05d},"{address}",{100000 + row},{kind},{value},{PERIOD}\n')


def schema_url(admin_url: str, schema: str) -> str:
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def run_timed(args: list[str], url: str) -> dict[str, Any]:
    """Run `otke ARGS` with DATABASE_URL=url: wall time, exit code, last line of output."""
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    process = subprocess.Popen([str(OTKE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"otke {' '.join(args)} failed ({process.returncode}):\n{stderr.decode()}")
    lines = (stdout.decode() or stderr.decode()).strip().splitlines()
    return {"seconds": round(seconds, 3), "exit": process.returncode, "output": lines[-1] if lines else ""}


def count_rows(url: str) -> dict[str, int]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
                for table in ("accounts", "meters", "readings")
            }
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows (meters) in the CSV; default 100000")
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help=f"PostgreSQL to use; default {DEFAULT_URL}"
    )
    args = parser.parse_args()
    if args.rows < 2 or args.rows % 2:
        parser.error("--rows must be an even number of at least 2 (two meters per account)")

    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    schema_name = f"bench_{secrets.token_hex(6)}"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="otke-bench-") as tmp:
        csv_path = Path(tmp) / "accounts.csv"
        started = time.perf_counter()
        generate_csv(csv_path, args.rows)
        generate_seconds = time.perf_counter() - started
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema_name}"'))
        url = schema_url(args.database_url, schema_name)
        try:
            engine = db.make_engine(url)
            with engine.begin() as connection:
                schema.upgrade("head", connection)
            engine.dispose()
            startup = run_timed(["--help"], url)
            first = run_timed(["import-accounts", str(csv_path)], url)
            after_first = count_rows(url)
            again = run_timed(["import-accounts", str(csv_path)], url)
            after_again = count_rows(url)
            export = run_timed(
                ["export-readings", "--period", PERIOD, "--out", str(Path(tmp) / "out.csv")], url
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
            admin.dispose()
        csv_bytes = csv_path.stat().st_size
    expected = {"accounts": args.rows // 2, "meters": args.rows, "readings": args.rows}
    if after_first != expected or after_again != expected:
        sys.exit(
            f"wrong row counts: expected {expected}, "
            f"after the import {after_first}, after the re-import {after_again}"
        )

    results = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "accounts": args.rows // 2,
        "csv_mb": round(csv_bytes / 1e6, 2),
        "database": make_url(args.database_url).render_as_string(hide_password=True),
        "python": platform.python_version(),
        "generate_csv_seconds": round(generate_seconds, 3),
        "otke_startup_seconds": startup["seconds"],
        "first_import": {
            **first,
            "rows_per_second": round(args.rows / first["seconds"]),
            "tables": after_first,
        },
        "reimport": {**again, "rows_per_second": round(args.rows / again["seconds"]), "tables": after_again},
        "export": {**export, "rows_per_second": round(args.rows / export["seconds"])},
        "target_seconds": TARGET_SECONDS,
    }
    results["within_target"] = first["seconds"] < TARGET_SECONDS and again["seconds"] < TARGET_SECONDS

    table = [
        "| step | seconds | rows/s | result |",
        "|---|---:|---:|---|",
        f"| `otke --help` (start-up) | {startup['seconds']:.2f} | | |",
        f"| first import | {first['seconds']:.2f} | {results['first_import']['rows_per_second']:,} "
        f"| {first['output']} |",
        f"| re-import (idempotent) | {again['seconds']:.2f} | {results['reimport']['rows_per_second']:,} "
        f"| {again['output']} |",
        f"| export-readings {PERIOD} | {export['seconds']:.2f} | {results['export']['rows_per_second']:,} "
        f"| {export['output']} |",
    ]
    heading = (
        f"`otke import-accounts`, {args.rows:,} rows ({args.rows // 2:,} accounts x 2 meters, "
        f"{results['csv_mb']} MB), {results['date']}, Python {results['python']}; "
        f"target < {TARGET_SECONDS:.0f} s: {'met' if results['within_target'] else 'MISSED'}"
    )
    print(heading)
    print("\n".join(table))
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "import_accounts.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2) + "\n"
    )
    (RESULTS_DIR / "import_accounts.md").write_text(f"{heading}\n\n" + "\n".join(table) + "\n")
    return 0 if results["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
