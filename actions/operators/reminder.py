"""Reading reminders: who is due one this period, and the bookkeeping that keeps it to one.

A reminder is a bot-initiated Viber message, billed under Viber's commercial terms: it goes only
to subscribed Viber subscribers with an enrolled meter still lacking this period's reading, at
most once per period, and only when an operator runs `otke viber remind`. A reminder is claimed
("sending") just before its message goes to Viber; a run that died in between leaves the claim,
and a later run takes it over once it is STALE_CLAIM old (so a crash costs at most one repeat).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from actions import texts
from actions.register import clock
from actions.register.meter import meter_title
from actions.register.models import (
    Meter,
    Reading,
    ReadingStatus,
    Reminder,
    ReminderStatus,
    Subscriber,
    subscriber_meters,
)
from custom_channels import viber_api

VIBER = "viber"
# Far above one send (the Viber call times out after 15 s), far below the next day's run.
STALE_CLAIM = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Due:
    subscriber_id: int
    viber_user_id: str
    meters: tuple[str, ...]  # titles of the meters still without a reading this period
    already_reminded: bool


def due_reminders(session: Session, period: str) -> list[Due]:
    """Subscribed Viber subscribers with meters lacking an accepted reading for the period."""
    has_reading = exists().where(
        Reading.meter_id == Meter.id, Reading.period == period, Reading.status == ReadingStatus.ACCEPTED
    )
    rows = session.execute(
        select(Subscriber.id, Subscriber.channel_user_id, Meter)
        .join(subscriber_meters, subscriber_meters.c.subscriber_id == Subscriber.id)
        .join(Meter, Meter.id == subscriber_meters.c.meter_id)
        .options(joinedload(Meter.account))
        .where(Subscriber.channel == VIBER, Subscriber.subscribed.is_(True), ~has_reading)
        .order_by(Subscriber.id, Meter.id)
    ).all()
    reminded = set(
        session.scalars(
            select(Reminder.subscriber_id).where(
                Reminder.period == period,
                (Reminder.status == ReminderStatus.SENT)
                | (
                    (Reminder.status == ReminderStatus.SENDING)
                    & (Reminder.updated_at > clock.now() - STALE_CLAIM)
                ),
            )
        )
    )
    grouped: dict[tuple[int, str], list[str]] = {}
    for subscriber_id, user_id, meter in rows:
        grouped.setdefault((subscriber_id, user_id), []).append(meter_title(meter))
    return [
        Due(subscriber_id, user_id, tuple(titles), subscriber_id in reminded)
        for (subscriber_id, user_id), titles in grouped.items()
    ]


def claim_reminder(session: Session, subscriber_id: int, period: str) -> bool:
    """Take the period's reminder for this subscriber; False if it is sent or being sent already
    (a claim older than STALE_CLAIM belongs to a run that died: it is taken over)."""
    existing = session.scalars(
        select(Reminder)
        .where(Reminder.subscriber_id == subscriber_id, Reminder.period == period)
        .with_for_update()
    ).one_or_none()
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    Reminder(
                        subscriber_id=subscriber_id,
                        period=period,
                        status=ReminderStatus.SENDING,
                        updated_at=clock.now(),
                    )
                )
        except IntegrityError:
            return False  # another run took it a moment ago
        return True
    stale = existing.status == ReminderStatus.SENDING and existing.updated_at <= clock.now() - STALE_CLAIM
    if existing.status == ReminderStatus.FAILED or stale:
        existing.status, existing.updated_at = ReminderStatus.SENDING, clock.now()
        return True
    return False


def finish_reminder(
    session: Session, subscriber_id: int, period: str, *, sent: bool, unsubscribed: bool
) -> None:
    reminder = session.scalars(
        select(Reminder).where(Reminder.subscriber_id == subscriber_id, Reminder.period == period)
    ).one()
    reminder.status = ReminderStatus.SENT if sent else ReminderStatus.FAILED
    reminder.updated_at = clock.now()
    if unsubscribed:
        session.get_one(Subscriber, subscriber_id).subscribed = False


def reminder_message(meters: tuple[str, ...]) -> dict[str, Any]:
    """The Viber message of a reminder, worded in domain.yml (utter_reading_reminder)."""
    response = texts.response("utter_reading_reminder")
    return viber_api.text_message(response["text"].format(meters="; ".join(meters)), response.get("buttons"))
