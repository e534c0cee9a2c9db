"""Meters (прилади обліку), and their enrolments: which subscribers may read and send for them."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session, joinedload

from actions.register import clock
from actions.register.models import (
    Account,
    Meter,
    MeterKind,
    RegistrationFailure,
    Subscriber,
    subscriber_meters,
)
from actions.register.subscriber import Identity
from actions.register.typed import suspicious, typed

# Meter numbers as printed on receipts: digits, sometimes Latin or Cyrillic letters, "-", "/", ".".
METER_NUMBER = re.compile(r"[0-9A-Za-z\u0400-\u04ff./-]{1,32}")


def find_meter(session: Session, account_number: str, meter_number: str) -> Meter | None:
    """The meter with this number on this account, or None when the pair does not match."""
    return session.scalars(
        select(Meter)
        .join(Meter.account)
        .where(Account.number == account_number, Meter.number == meter_number)
    ).one_or_none()


def is_enrolled(session: Session, subscriber_id: int, meter_id: int) -> bool:
    """Whether this subscriber enrolled this meter: the test for every read and write."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    subscriber_meters.c.subscriber_id == subscriber_id,
                    subscriber_meters.c.meter_id == meter_id,
                )
            )
        )
    )


def enrol_meter(session: Session, subscriber_id: int, meter_id: int) -> bool:
    """Enrol the meter for the subscriber; False when they had enrolled it already."""
    if is_enrolled(session, subscriber_id, meter_id):
        return False
    session.execute(
        insert(subscriber_meters).values(
            subscriber_id=subscriber_id, meter_id=meter_id, enrolled_at=clock.now()
        )
    )
    return True


def enrolled_meters(session: Session, subscriber: int | Identity) -> list[Meter]:
    """The subscriber's meters with their accounts loaded, in the order they were enrolled.

    By identity it is one query, and someone never seen before simply has no meters (reading
    the register creates no subscriber).
    """
    subscriber_id = (
        subscriber
        if isinstance(subscriber, int)
        else select(Subscriber.id)
        .where(Subscriber.channel == subscriber.channel, Subscriber.channel_user_id == subscriber.user_id)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            select(Meter)
            .options(joinedload(Meter.account))
            .join(subscriber_meters, subscriber_meters.c.meter_id == Meter.id)
            .where(subscriber_meters.c.subscriber_id == subscriber_id)
            .order_by(subscriber_meters.c.enrolled_at, Meter.id)
        )
    )


def unenrol_meter(session: Session, subscriber_id: int, meter_id: int) -> bool:
    """End the subscriber's enrolment of the meter; False when there was none."""
    result = session.execute(
        delete(subscriber_meters).where(
            subscriber_meters.c.subscriber_id == subscriber_id,
            subscriber_meters.c.meter_id == meter_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Computed labels (buttons, lists); the sentences around them live in domain.yml.
KIND_TITLE = {MeterKind.HOT_WATER: "Гаряча вода", MeterKind.HEAT: "Тепло"}
KIND_OF = {MeterKind.HOT_WATER: "гарячої води", MeterKind.HEAT: "тепла"}
# "N"/"No" count as a label only before a space or a dot: "N5001" may be a meter's own number.
_METER_LABEL = re.compile(
    r"^(?:(?:лічильник\w*|прилад\w*(?:\s+обліку)?|номер)\s*)?(?:№|#|no\.|(?:no|n)(?=\s))?\s*", re.I
)


def meter_title(meter: Meter) -> str:
    """ "Гаряча вода · №222222 · о/р 12345": how a meter is named on buttons and in lists."""
    return f"{KIND_TITLE[meter.kind]} · №{meter.number} · о/р {meter.account.number}"


def normalise_meter_number(text: str) -> str:
    """The meter number in typed text: "№ 222 222", "лічильник 222222", "２２２２２２" -> "222222"."""
    return "".join(_METER_LABEL.sub("", typed(text).strip(), count=1).split())


def meter_number_candidates(text: str) -> list[str]:
    """What a typed meter number may be: the text without labels, then each standalone number in it.

    "номер лічильника 222222" and "222222 гаряча вода" both find meter 222222; a text with digits
    of another script ("٢22222") or reordering marks finds none (actions.register.typed).
    """
    text = typed(text)
    if suspicious(text):
        return []
    candidates = [normalise_meter_number(text)]
    for group in re.findall(r"(?<![0-9A-Za-z_\u0400-\u04ff])[0-9]{4,32}(?![0-9A-Za-z_\u0400-\u04ff])", text):
        if group not in candidates:
            candidates.append(group)
    return [c for c in candidates if METER_NUMBER.fullmatch(c)]


def record_registration_failure(session: Session, subscriber_id: int, at: dt.datetime | None = None) -> None:
    session.add(RegistrationFailure(subscriber_id=subscriber_id, failed_at=at or clock.now()))
    session.flush()


def registration_blocked_until(
    session: Session,
    subscriber_id: int,
    now: dt.datetime,
    per_subscriber: int,
    globally: int,
) -> dt.datetime | None:
    """When registration opens again after too many failures in the last hour, or None if open."""
    hour_ago = now - HOUR
    recent = session.scalars(
        select(RegistrationFailure.failed_at)
        .where(RegistrationFailure.subscriber_id == subscriber_id, RegistrationFailure.failed_at > hour_ago)
        .order_by(RegistrationFailure.failed_at.desc())
        .limit(per_subscriber)
    ).all()
    if len(recent) >= per_subscriber:
        return recent[-1] + HOUR
    everyone = session.scalar(
        select(func.count()).select_from(RegistrationFailure).where(RegistrationFailure.failed_at > hour_ago)
    )
    if (everyone or 0) >= globally:
        return now + GLOBAL_PAUSE
    return None


HOUR = dt.timedelta(hours=1)
GLOBAL_PAUSE = dt.timedelta(minutes=15)
