"""The staff console as a real server (`otke console serve`, gunicorn) beside a Stack: the stack's
register and tracker store, staff added with `otke console add-user`, and a copy of the project's
domain.yml and data/ for the NLU inbox to write into (never the checkout's own data/nlu)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from actions.console import masking
from actions.console.models import Role
from tests.support.otke import OTKE, otke
from tests.support.paths import ROOT
from tests.support.servers import free_port, server_env, start_process, stop_process, wait_until_up
from tests.support.stack import Stack


@dataclass(frozen=True)
class StaffMember:
    name: str
    role: Role
    password: str


@dataclass(frozen=True)
class Console:
    url: str
    secret_key: str
    project_dir: Path
    log: Path

    def who(self, sender_id: str) -> str:
        """The pseudonym the console shows for a Rasa sender ("абонент 3f9a1c0b")."""
        return masking.pseudonym(sender_id, self.secret_key)


def register_url(stack: Stack) -> str:
    """The stack's register (its fresh schema), as DATABASE_URL for the console and `otke`."""
    return stack.engine.url.render_as_string(hide_password=False)


def copy_project(target: Path) -> Path:
    """domain.yml and data/ of the checkout, copied to ``target``: what the console reads and writes."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "domain.yml", target / "domain.yml")
    shutil.copytree(ROOT / "data", target / "data")
    return target


def add_staff(database_url: str, member: StaffMember) -> None:
    added = otke(
        "console",
        "add-user",
        member.name,
        "--role",
        member.role.value,
        "--password-stdin",
        url=database_url,
        stdin=f"{member.password}\n".encode(),
    )
    assert added.returncode == 0, added.stderr


@contextmanager
def running_console(
    name: str, stack: Stack, project_dir: Path, staff: Sequence[StaffMember]
) -> Iterator[Console]:
    """`otke console serve` (one worker) on the stack's register and tracker store; up on return."""
    assert stack.tracker_url is not None, "the console reads Rasa's SQL tracker store (production profile)"
    database_url = register_url(stack)
    for member in staff:
        add_staff(database_url, member)
    port = free_port()
    secret_key = secrets.token_urlsafe(48)
    env = server_env(
        database_url,
        TRACKER_DB_URL=stack.tracker_url,
        CONSOLE_SECRET_KEY=secret_key,
        CONSOLE_PROJECT_DIR=str(project_dir),
        PYTHONUNBUFFERED="1",
    )
    command = [str(OTKE), "console", "serve", "--port", str(port), "--workers", "1"]
    process, log = start_process(f"{name}-console", command, env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", process, log)
        yield Console(url, secret_key, project_dir, log)
    finally:
        stop_process(process)
