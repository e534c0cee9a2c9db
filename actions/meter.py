"""Meters (прилади обліку) and which subscribers registered them."""

from __future__ import annotations

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from actions.models import Account, Meter, subscriber_meters, utcnow


def find_meter(session: Session, account_number: str, meter_number: str) -> Meter | None:
    """The meter with this number on this account, or None when the pair does not match."""
    return session.scalars(
        select(Meter)
        .join(Meter.account)
        .where(Account.number == account_number, Meter.number == meter_number)
    ).one_or_none()


def is_registered(session: Session, subscriber_id: int, meter_id: int) -> bool:
    """Whether this subscriber registered this meter: the test for every read and write."""
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


def register_meter(session: Session, subscriber_id: int, meter_id: int) -> bool:
    """Register the meter for the subscriber; False when they had already registered it."""
    if is_registered(session, subscriber_id, meter_id):
        return False
    session.execute(
        insert(subscriber_meters).values(
            subscriber_id=subscriber_id, meter_id=meter_id, registered_at=utcnow()
        )
    )
    return True


def registered_meters(session: Session, subscriber_id: int) -> list[Meter]:
    return list(
        session.scalars(
            select(Meter)
            .join(subscriber_meters, subscriber_meters.c.meter_id == Meter.id)
            .where(subscriber_meters.c.subscriber_id == subscriber_id)
            .order_by(Meter.id)
        )
    )
