"""`otke`: the operators' door to the register (import, export, demo data, migrations, Viber)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias
from urllib.parse import urlsplit

import httpx
from sqlalchemy.exc import OperationalError

from actions.operators.billing import (
    ImportFileError,
    ImportReport,
    decoded_lines,
    export_readings,
    import_accounts,
)
from actions.operators.demo import DEMO_METERS, seed_demo
from actions.operators.reminder import claim_reminder, due_reminders, finish_reminder, reminder_message
from actions.register import clock, db, schema
from actions.register.period import KYIV, in_reading_window, is_period, period_of, reading_window
from custom_channels import viber_api

EXIT_INVALID_ROWS = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_VIBER = 4
SHOWN_ERRORS = 50


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def main(argv: Sequence[str] | None = None, more: Callable[[Commands], None] | None = None) -> int:
    """Run one `otke` command; ``more`` adds the commands of doors above this layer (the console)."""
    args = _parser(more).parse_args(argv)
    try:
        return int(args.run(args))
    except OperationalError as error:
        print(f"otke: база даних недоступна ({db.redacted_url()}): {error.orig}", file=sys.stderr)
        return EXIT_DATABASE
    except db.DatabaseNotConfigured:
        print(
            "otke: не задано DATABASE_URL; у виробничому профілі (OTKE_PROFILE=production) вбудований "
            "файл SQLite не використовується",
            file=sys.stderr,
        )
        return EXIT_DATABASE
    except KeyboardInterrupt:
        print("otke: перервано, нічого не записано", file=sys.stderr)
        return 130


def _parser(more: Callable[[Commands], None] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otke",
        description="Операторські команди АТ «ОТКЕ»: імпорт рахунків і лічильників, "
        "експорт показань, демо-дані, міграції. База даних: змінна DATABASE_URL.",
    )
    commands = parser.add_subparsers(title="команди", required=True, metavar="КОМАНДА")

    imp = commands.add_parser(
        "import-accounts",
        help="імпорт рахунків і лічильників з CSV білінгу",
        description="Імпорт з CSV (UTF-8, BOM можна) із заголовком account_number,address,meter_number,"
        "meter_kind[,last_reading,last_period], рядок на лічильник; інші стовпці пропускаються з "
        "попередженням. Повторний імпорт того ж файлу нічого не змінює. Якщо є хоч один "
        "некоректний рядок, нічого не записується (хіба що задано --skip-invalid); пошкоджений файл "
        "(кодування, заголовок, не CSV) не записується ніколи. Коди виходу: 1 некоректні рядки, "
        "2 файл чи заголовок, 3 база даних.",
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
    exp.add_argument(
        "--out",
        metavar="FILE",
        help="файл для запису (типово стандартний вивід). Файл або стандартний вивід отримують CSV "
        "лише повністю: якщо база даних стане недоступною посеред експорту, не записується нічого "
        "(файл лишається, яким був), а команда завершується з кодом 3 і повідомленням у stderr",
    )
    exp.set_defaults(run=_export_readings)

    demo = commands.add_parser(
        "seed-demo", help="завантажити демо-рахунки й лічильники", description=_demo_description()
    )
    demo.set_defaults(run=_seed_demo)

    _add_viber_commands(commands)

    database = commands.add_parser("db", help="міграції схеми бази даних (Alembic)")
    db_commands = database.add_subparsers(title="дії", required=True, metavar="ДІЯ")
    up = db_commands.add_parser("upgrade", help="оновити схему (типово до head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(run=_db_upgrade)
    down = db_commands.add_parser("downgrade", help="відкотити схему до ревізії (base: усе)")
    down.add_argument("revision")
    down.set_defaults(run=_db_downgrade)
    if more is not None:
        more(commands)
    return parser


def _add_viber_commands(commands: Commands) -> None:
    viber = commands.add_parser(
        "viber",
        help="паблік-акаунт Viber: вебхук, інформація, нагадування",
        description="Виклики Viber REST Bot API з токеном VIBER_AUTH_TOKEN на VIBER_API_URL "
        f"(типово {viber_api.DEFAULT_API_URL}).",
    )
    actions = viber.add_subparsers(title="дії", required=True, metavar="ДІЯ")
    hook = actions.add_parser(
        "set-webhook",
        help="спрямувати паблік-акаунт на вебхук (лише HTTPS)",
        description="Viber викликає лише HTTPS-адресу з сертифікатом від центру сертифікації, "
        "наприклад https://bot.otke.example/webhooks/viber/webhook.",
    )
    hook.add_argument("url", metavar="URL")
    hook.set_defaults(run=_viber_set_webhook)
    actions.add_parser("unset-webhook", help="від'єднати вебхук").set_defaults(run=_viber_unset_webhook)
    actions.add_parser("account-info", help="дані паблік-акаунта").set_defaults(run=_viber_account_info)
    remind = actions.add_parser(
        "remind",
        help="нагадати передати показання (платні повідомлення Viber)",
        description="У вікні передачі показань (з 25-го до кінця місяця за Києвом) надсилає кожному "
        "підписаному абоненту Viber одне нагадування за період, якщо за його лічильниками ще немає "
        "показань. Повторний запуск нікому не надсилає вдруге. Повідомлення, ініційовані ботом, "
        "Viber тарифікує: команда ніколи не запускається автоматично.",
    )
    remind.add_argument("--dry-run", action="store_true", help="лише показати, кому було б надіслано")
    remind.add_argument(
        "--rate", type=float, default=10.0, metavar="N", help="не більше N повідомлень за секунду (типово 10)"
    )
    remind.add_argument("--now", metavar="ISO", help="вважати цей момент поточним (перевірка вікна, тести)")
    remind.set_defaults(run=_viber_remind)


class _ViberUnavailable(Exception):
    """The Viber API could not be called or refused the call."""


def _viber_token() -> str:
    token = os.environ.get("VIBER_AUTH_TOKEN", "").strip()
    if not token:
        raise _ViberUnavailable("не задано VIBER_AUTH_TOKEN (токен паблік-акаунта)")
    return token


def _viber_call(endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
    token = _viber_token()
    base = (os.environ.get("VIBER_API_URL") or viber_api.DEFAULT_API_URL).rstrip("/")
    try:
        answer = httpx.post(
            f"{base}/{endpoint}", json=payload, headers={"X-Viber-Auth-Token": token}, timeout=15
        )
        body = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise _ViberUnavailable(f"Viber API недоступний ({type(error).__name__})") from None
    if not isinstance(body, dict):
        raise _ViberUnavailable(f"незрозуміла відповідь Viber API (HTTP {answer.status_code})")
    return body


def _viber_checked(endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = _viber_call(endpoint, payload)
    status = body.get("status")
    if status != 0:
        raise _ViberUnavailable(
            f"Viber відповів status {status} ({viber_api.status_meaning(status)}): {body.get('status_message', '')}"
        )
    return body


def _viber_command(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except _ViberUnavailable as error:
            print(f"otke viber: {error}", file=sys.stderr)
            return EXIT_VIBER

    return guarded


@_viber_command
def _viber_set_webhook(args: argparse.Namespace) -> int:
    try:
        url = urlsplit(args.url)
    except ValueError:  # e.g. "https://[::1": not a URL at all
        url = urlsplit("")
    if url.scheme != "https" or not url.hostname:
        print(
            "otke viber: Viber викликає лише HTTPS-адреси: https://<хост>/webhooks/viber/webhook",
            file=sys.stderr,
        )
        return EXIT_USAGE
    body = _viber_checked(
        "set_webhook",
        {
            "url": args.url,
            "event_types": list(viber_api.WEBHOOK_EVENTS),
            "send_name": True,
            "send_photo": False,
        },
    )
    print(f"Вебхук встановлено: {args.url} (події: {', '.join(body.get('event_types') or [])})")
    return 0


@_viber_command
def _viber_unset_webhook(args: argparse.Namespace) -> int:
    _viber_checked("set_webhook", {"url": ""})
    print("Вебхук від'єднано: Viber більше не надсилає події")
    return 0


@_viber_command
def _viber_account_info(args: argparse.Namespace) -> int:
    body = _viber_checked("get_account_info", {})
    for key in ("id", "name", "uri", "webhook", "event_types", "subscribers_count"):
        if key in body:
            print(f"{key}: {body[key]}")
    return 0


@_viber_command
def _viber_remind(args: argparse.Namespace) -> int:
    try:
        now = dt.datetime.fromisoformat(args.now) if args.now else clock.now()
    except ValueError:
        print(f"otke viber: --now: не момент ISO 8601 (2026-11-26T12:00): {args.now!r}", file=sys.stderr)
        return EXIT_USAGE
    if now.tzinfo is None:
        now = now.replace(tzinfo=KYIV)
    period = period_of(now)
    if not in_reading_window(now):
        first, last = reading_window(period)
        print(
            f"otke viber: нагадування надсилаються лише у вікні передачі показань "
            f"({first:%d.%m}–{last:%d.%m.%Y}); нічого не надіслано",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.rate > 0:  # also NaN
        print("otke viber: --rate має бути більше нуля", file=sys.stderr)
        return EXIT_USAGE
    with db.transaction() as session:
        due = due_reminders(session, period)
    if args.dry_run:
        for item in due:
            note = " (уже нагадано)" if item.already_reminded else ""
            print(f"{item.viber_user_id[:6]}…: {'; '.join(item.meters)}{note}")
        todo = sum(not item.already_reminded for item in due)
        print(f"Період {period}: було б надіслано {todo}, пропущено {len(due) - todo} (уже нагадано)")
        return 0
    _viber_token()  # no token: say so once, before anything is claimed
    sender = viber_api.sender(os.environ.get("VIBER_SENDER_NAME") or viber_api.DEFAULT_SENDER_NAME)
    sent = skipped = failed = 0
    pause = 1 / args.rate
    for item in due:
        if item.already_reminded:
            skipped += 1
            continue
        with db.transaction() as session:
            claimed = claim_reminder(session, item.subscriber_id, period)
        if not claimed:
            skipped += 1
            continue
        payload = viber_api.send_message_payload(item.viber_user_id, reminder_message(item.meters), sender)
        try:
            status = _viber_call("send_message", payload).get("status")
        except _ViberUnavailable as error:
            status = None
            print(f"otke viber: {error}", file=sys.stderr)
        if status == 0:
            sent += 1
        else:
            failed += 1
            if status is not None:
                print(
                    f"otke viber: {item.viber_user_id[:6]}…: status {status} ({viber_api.status_meaning(status)})",
                    file=sys.stderr,
                )
        with db.transaction() as session:
            finish_reminder(
                session, item.subscriber_id, period, sent=status == 0, unsubscribed=status in (5, 6)
            )
        time.sleep(pause * (20 if status == 12 else 1))  # 12: too many requests, so slow down
    print(f"Період {period}: надіслано {sent}, пропущено {skipped}, з помилками {failed}")
    return 0 if failed == 0 else EXIT_INVALID_ROWS


def _db_upgrade(args: argparse.Namespace) -> int:
    schema.upgrade(args.revision)
    print(f"Схему оновлено до {args.revision} ({db.redacted_url()})")
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    schema.downgrade(args.revision)
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
            source: BinaryIO = (
                sys.stdin.buffer if args.file == "-" else stack.enter_context(open(args.file, "rb"))
            )
            with db.transaction() as session:
                report = import_accounts(session, decoded_lines(source), skip_invalid=args.skip_invalid)
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


def _print_errors(report: ImportReport) -> None:
    for notice in report.notices:
        print(f"otke: увага: {notice}", file=sys.stderr)
    for error in report.errors[:SHOWN_ERRORS]:
        print(error, file=sys.stderr)
    if report.error_count > SHOWN_ERRORS:
        print(f"... і ще {report.error_count - SHOWN_ERRORS} помилок", file=sys.stderr)


def _export_readings(args: argparse.Namespace) -> int:
    if not is_period(args.period):
        print(f"otke: період має бути у форматі РРРР-ММ: {args.period!r}", file=sys.stderr)
        return EXIT_USAGE
    if not args.out:
        # Spooled to a temporary file and copied out only when complete: a database lost
        # mid-stream leaves nothing on standard output, never half a file for billing.
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
            with db.transaction() as session:
                count = export_readings(session, args.period, spool)
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout)
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
