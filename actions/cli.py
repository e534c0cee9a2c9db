"""`otke`: the operators' door to the register (import, export, demo data, migrations)."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import OperationalError

from actions import db
from actions.billing import ImportFileError, ImportReport, export_readings, import_accounts
from actions.demo import DEMO_METERS, seed_demo
from actions.reading import is_period

EXIT_INVALID_ROWS = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
SHOWN_ERRORS = 50


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except OperationalError as error:
        print(f"otke: база даних недоступна ({db.redacted_url()}): {error.orig}", file=sys.stderr)
        return EXIT_DATABASE
    except KeyboardInterrupt:
        print("otke: перервано, нічого не записано", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otke",
        description="Операторські команди АТ «ОТКЕ»: імпорт рахунків і лічильників, "
        "експорт показань, демо-дані, міграції. База даних: змінна DATABASE_URL.",
    )
    commands = parser.add_subparsers(title="команди", required=True, metavar="КОМАНДА")

    imp = commands.add_parser(
        "import-accounts",
        help="імпорт рахунків і лічильників з CSV білінгу",
        description="Імпорт з CSV (UTF-8) із заголовком account_number,address,meter_number,"
        "meter_kind[,last_reading,last_period], рядок на лічильник. Повторний імпорт того ж "
        "файлу нічого не змінює. Якщо є хоч один некоректний рядок, нічого не записується "
        "(хіба що задано --skip-invalid).",
    )
    imp.add_argument("file", metavar="FILE.csv", help="шлях до файлу, або - для стандартного вводу")
    imp.add_argument(
        "--skip-invalid", action="store_true", help="записати коректні рядки, пропустивши некоректні"
    )
    imp.set_defaults(run=_import_accounts)

    exp = commands.add_parser(
        "export-readings",
        help="експорт прийнятих показань за період у CSV для білінгу",
        description="CSV: account_number,meter_number,meter_kind,period,reading,"
        "previous_reading,consumption,submitted_at,channel.",
    )
    exp.add_argument("--period", required=True, metavar="YYYY-MM", help="розрахунковий період")
    exp.add_argument("--out", metavar="FILE", help="файл для запису (типово стандартний вивід)")
    exp.set_defaults(run=_export_readings)

    demo = commands.add_parser(
        "seed-demo", help="завантажити демо-рахунки й лічильники", description=_demo_description()
    )
    demo.set_defaults(run=_seed_demo)

    database = commands.add_parser("db", help="міграції схеми бази даних (Alembic)")
    db_commands = database.add_subparsers(title="дії", required=True, metavar="ДІЯ")
    up = db_commands.add_parser("upgrade", help="оновити схему (типово до head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(run=_db_upgrade)
    down = db_commands.add_parser("downgrade", help="відкотити схему до ревізії (base: усе)")
    down.add_argument("revision")
    down.set_defaults(run=_db_downgrade)
    return parser


def _db_upgrade(args: argparse.Namespace) -> int:
    db.upgrade(args.revision)
    print(f"Схему оновлено до {args.revision} ({db.redacted_url()})")
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    db.downgrade(args.revision)
    print(f"Схему відкочено до {args.revision} ({db.redacted_url()})")
    return 0


def _demo_description() -> str:
    meters = "; ".join(f"о/р {a}, лічильник {m} ({k})" for a, _, m, k, _ in DEMO_METERS)
    return f"Демо-дані (повторний запуск нічого не змінює): {meters}."


class _NothingWritten(Exception):
    """Raised inside the import transaction to roll it back."""


def _import_accounts(args: argparse.Namespace) -> int:
    try:
        with ExitStack() as stack:
            source: TextIO = (
                _stdin(stack)
                if args.file == "-"
                else stack.enter_context(open(args.file, encoding="utf-8-sig", newline=""))
            )
            with db.transaction() as session:
                report = import_accounts(session, source, skip_invalid=args.skip_invalid)
                if report.errors and not args.skip_invalid:
                    raise _NothingWritten
    except OSError as error:
        print(f"otke: не вдається прочитати {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except ImportFileError as error:
        print(f"otke: {args.file}: {error}; нічого не записано", file=sys.stderr)
        return EXIT_USAGE
    except _NothingWritten:
        _print_errors(report)
        print(f"Нічого не записано. {report.summary()}", file=sys.stderr)
        return EXIT_INVALID_ROWS
    _print_errors(report)
    print(report.summary())
    return 0


def _stdin(stack: ExitStack) -> TextIO:
    """Standard input read like a file: strict UTF-8 (BOM optional), newlines left to csv."""
    if not hasattr(sys.stdin, "buffer"):
        return sys.stdin
    source = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
    stack.callback(source.detach)
    return source


def _print_errors(report: ImportReport) -> None:
    for error in report.errors[:SHOWN_ERRORS]:
        print(error, file=sys.stderr)
    if len(report.errors) > SHOWN_ERRORS:
        print(f"... і ще {len(report.errors) - SHOWN_ERRORS} помилок", file=sys.stderr)


def _export_readings(args: argparse.Namespace) -> int:
    if not is_period(args.period):
        print(f"otke: період має бути у форматі РРРР-ММ: {args.period!r}", file=sys.stderr)
        return EXIT_USAGE
    if not args.out:
        with db.transaction() as session:
            count = export_readings(session, args.period, sys.stdout)
    else:
        # Written beside the target and renamed: the file is complete or untouched.
        target = Path(args.out)
        partial = target.with_name(f".{target.name}.partial")
        try:
            with open(partial, "w", encoding="utf-8", newline="") as out, db.transaction() as session:
                count = export_readings(session, args.period, out)
            partial.replace(target)
        except OSError as error:
            print(f"otke: не вдається записати {args.out}: {error.strerror}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            partial.unlink(missing_ok=True)
    print(f"показань за {args.period}: {count}", file=sys.stderr)
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    with db.transaction() as session:
        report = seed_demo(session)
    print(f"Демо-дані: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
