"""Staff of the console: accounts with hashed passwords, sign-in with limited attempts, sessions
that expire, and the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from actions.console.models import AuditEntry, LoginAttempt, Role, StaffSession, StaffUser
from actions.register import clock

NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
# a session ends after this long unused, and after MAX_AGE whatever happens
IDLE = dt.timedelta(minutes=30)
MAX_AGE = dt.timedelta(hours=12)
# failed sign-ins counted over LOCKOUT: per name, and per address (guessing many names)
LOCKOUT = dt.timedelta(minutes=15)
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20

_hasher = PasswordHasher()
# verified when the name is unknown, so that a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class StaffError(ValueError):
    """A refusal to show as it is (Ukrainian)."""


@dataclass(frozen=True)
class SignedIn:
    user: StaffUser
    token: str


def checked_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise StaffError(
            "Ім'я користувача: 2–32 символи, латинські малі літери, цифри, крапка, дефіс або "
            "підкреслення, першою — літера"
        )
    return name


def checked_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise StaffError(f"Пароль має містити від {MIN_PASSWORD} до {MAX_PASSWORD} символів")
    return password


def add_user(session: Session, name: str, password: str, role: Role) -> StaffUser:
    checked_name(name)
    checked_password(password)
    if session.scalar(select(StaffUser).where(StaffUser.name == name)) is not None:
        raise StaffError(f"Користувач {name} уже є")
    user = StaffUser(name=name, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str) -> None:
    user = session.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None:
        raise StaffError(f"Користувача {name} немає")
    user.password_hash = _hasher.hash(checked_password(password))
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))


def _recent_failures(session: Session, *criteria: object) -> int:
    since = clock.now() - LOCKOUT
    query = select(func.count()).where(LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False), *criteria)  # type: ignore[arg-type]
    return int(session.scalar(query) or 0)


def sign_in(session: Session, name: str, password: str, address: str) -> SignedIn | str:
    """A new session for the name and password, or why not (every attempt is recorded, so the
    caller commits either way)."""
    name = name.strip()[:64]
    address = address[:64]
    if (
        _recent_failures(session, LoginAttempt.name == name) >= FAILURES_PER_NAME
        or _recent_failures(session, LoginAttempt.address == address) >= FAILURES_PER_ADDRESS
    ):
        session.add(LoginAttempt(name=name, address=address, succeeded=False))
        return f"Забагато невдалих спроб входу. Спробуйте через {int(LOCKOUT.total_seconds() // 60)} хвилин."
    user = session.scalar(select(StaffUser).where(StaffUser.name == name, StaffUser.active.is_(True)))
    if not _verified(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD]) or user is None:
        session.add(LoginAttempt(name=name, address=address, succeeded=False))
        return "Невірне ім'я користувача або пароль"
    session.add(LoginAttempt(name=name, address=address, succeeded=True))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_digest(token), user_id=user.id))
    return SignedIn(user, token)


def _verified(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_user(session: Session, token: str) -> StaffUser | None:
    """The user of a live session; an expired session is ended here."""
    found = session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    if found is None:
        return None
    now = clock.now()
    user = session.get(StaffUser, found.user_id)
    if now - found.last_seen_at > IDLE or now - found.created_at > MAX_AGE or user is None or not user.active:
        session.delete(found)
        return None
    if now - found.last_seen_at > dt.timedelta(minutes=1):  # not a write on every page
        found.last_seen_at = now
    return user


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(token)))


def audit(session: Session, user: StaffUser, action: str, target: str, detail: str = "") -> None:
    session.add(AuditEntry(user_name=user.name, action=action, target=target[:255], detail=detail[:2000]))
