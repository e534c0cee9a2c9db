"""`otke`, with the console's commands added to the operators' ones (the console is the layer above
them, so it extends their parser rather than the other way round):

    otke console serve [--host H] [--port P] [--workers N]
    otke console add-user NAME --role operator|designer|admin     (password asked twice)
    otke console index                                            (catch up with Rasa's events)
    otke conversations purge --older-than DAYS
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from actions.console import index, staff, tracker
from actions.console.models import Conversation, Role
from actions.operators import cli as operators_cli
from actions.register import clock, db

RETENTION_DAYS = 180
EXIT_REFUSED = 2


def main(argv: Sequence[str] | None = None) -> int:
    return operators_cli.main(argv, more=_commands)


def _commands(commands: operators_cli.Commands) -> None:
    console = commands.add_parser("console", help="вебконсоль персоналу: сервер, користувачі, індекс розмов")
    actions = console.add_subparsers(title="дії", required=True, metavar="ДІЯ")
    serve = actions.add_parser("serve", help="запустити консоль (gunicorn)")
    serve.add_argument("--host", default=os.environ.get("CONSOLE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", "8090")))
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(run=_serve)
    add = actions.add_parser("add-user", help="додати користувача консолі (пароль запитується)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument(
        "--password-stdin", action="store_true", help="прочитати пароль зі стандартного вводу (для скриптів)"
    )
    add.set_defaults(run=_add_user)
    password = actions.add_parser(
        "set-password", help="змінити пароль користувача консолі (усі його сесії завершуються)"
    )
    password.add_argument("name", metavar="NAME")
    password.add_argument(
        "--password-stdin", action="store_true", help="прочитати пароль зі стандартного вводу"
    )
    password.set_defaults(run=_set_password)
    actions.add_parser("index", help="проіндексувати нові події розмов").set_defaults(run=_index)

    conversations = commands.add_parser("conversations", help="розмови у сховищі трекерів Rasa")
    verbs = conversations.add_subparsers(title="дії", required=True, metavar="ДІЯ")
    purge = verbs.add_parser(
        "purge",
        help="видалити старі розмови",
        description="Видаляє розмови (сесії Rasa), остання подія яких старша за DAYS днів, разом із їхніми "
        f"записами у вхідних NLU. Типовий строк зберігання: {RETENTION_DAYS} днів (docs/operations.md).",
    )
    purge.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    purge.set_defaults(run=_purge)


def _serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    from actions.console.web import create_app

    class Console(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", max(1, args.workers))
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            # gunicorn's control socket has one path per user: two consoles on a host would collide
            self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            return create_app()

    Console().run()
    return 0


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Пароль: ")
    if getpass.getpass("Ще раз: ") != password:
        print("otke: паролі не збігаються, нічого не записано", file=sys.stderr)
        return None
    return password


def _with_password(args: argparse.Namespace, change: Callable[[Session, str], object], done: str) -> int:
    password = _password(args)
    if password is None:
        return EXIT_REFUSED
    try:
        with db.transaction() as session:
            change(session, password)
    except staff.StaffError as error:
        print(f"otke: {error}; нічого не записано", file=sys.stderr)
        return EXIT_REFUSED
    print(done)
    return 0


def _add_user(args: argparse.Namespace) -> int:
    return _with_password(
        args,
        lambda session, password: staff.add_user(session, args.name, password, Role(args.role)),
        f"Додано користувача {args.name} ({args.role})",
    )


def _set_password(args: argparse.Namespace) -> int:
    return _with_password(
        args,
        lambda session, password: staff.set_password(session, args.name, password),
        f"Пароль користувача {args.name} змінено; його сесії завершено",
    )


def _index(args: argparse.Namespace) -> int:
    read = index.index_events()
    print(f"Проіндексовано подій: {read}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    if not 1 <= args.older_than <= 100_000:
        print("otke: --older-than: кількість днів від 1", file=sys.stderr)
        return EXIT_REFUSED
    purged, events = purge(clock.now() - dt.timedelta(days=args.older_than))
    print(f"Видалено розмов: {purged}, подій: {events}")
    return 0


def purge(before: dt.datetime, batch: int = 1000) -> tuple[int, int]:
    """Delete the conversations whose last event is before ``before``: their events in Rasa's
    tracker store, then their summaries (with their refusals and inbox entries)."""
    index.index_events()  # every event belongs to an indexed conversation before any is judged old
    conversations = events = 0
    while True:
        with db.transaction() as session:
            old = session.execute(
                select(
                    Conversation.id,
                    Conversation.sender_id,
                    Conversation.first_event_id,
                    Conversation.last_event_id,
                )
                .where(Conversation.last_at < before)
                .limit(batch)
            ).all()
            if not old:
                return conversations, events
            with tracker.engine().begin() as connection:
                deleted = connection.execute(
                    text("DELETE FROM events WHERE sender_id = :sender AND id BETWEEN :first AND :last"),
                    [{"sender": row[1], "first": row[2], "last": row[3]} for row in old],
                )
                events += max(deleted.rowcount, 0)
            session.execute(delete(Conversation).where(Conversation.id.in_([row[0] for row in old])))
            conversations += len(old)
