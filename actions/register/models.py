"""The register: accounts, meters, subscribers and readings, as typed SQLAlchemy 2 models.

The schema itself is owned by the Alembic migrations in ``migrations/``; these classes must
match them (``tests/db/test_migrations.py`` compares the two).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from actions.register import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MeterKind(enum.StrEnum):
    HEAT = "heat"
    HOT_WATER = "hot_water"


class ReadingStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC(9, 2) where the database has it; text on SQLite, whose NUMERIC is a float."""

    impl = Numeric(9, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(16))
        return dialect.type_descriptor(Numeric(9, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value).quantize(Decimal("0.01"))


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware timestamps, stored in UTC; SQLite gives naive ones back, made aware here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if not isinstance(value, dt.datetime):
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def _string_enum(enum_class: type[enum.Enum]) -> Enum:
    # Stored as plain strings with a CHECK written in the migration, not as a native enum type.
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        values_callable=_enum_values,
        validate_strings=True,
        length=16,
    )


DIGITS_ONLY = "trim({column}, '0123456789') = ''"


class Account(Base):
    """A personal account (особовий рахунок): the five-digit number at the top of the receipt."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "length(number) = 5 AND " + DIGITS_ONLY.format(column="number"), name="number_five_digits"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(5), unique=True)
    address: Mapped[str] = mapped_column(String(255))

    meters: Mapped[list[Meter]] = relationship(back_populates="account", order_by="Meter.number")


class Meter(Base):
    """A heat or hot-water meter (прилад обліку), numbered as on the receipt."""

    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint("kind IN ('heat', 'hot_water')", name="kind_known"),
        CheckConstraint("length(number) BETWEEN 1 AND 32", name="number_not_empty"),
        CheckConstraint("dial_digits BETWEEN 1 AND 7", name="dial_digits_range"),
        Index("uq_meters_account_id_number", "account_id", "number", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    number: Mapped[str] = mapped_column(String(32))
    kind: Mapped[MeterKind] = mapped_column(_string_enum(MeterKind))
    # Integer digits of the register: 3 means readings XXX.XX, from 0.00 to 999.99.
    dial_digits: Mapped[int] = mapped_column(SmallInteger, default=3, server_default=text("3"))

    account: Mapped[Account] = relationship(back_populates="meters")


subscriber_meters = Table(
    "subscriber_meters",
    Base.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("meter_id", ForeignKey("meters.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("enrolled_at", UtcDateTime(), nullable=False, default=clock.now),
)


class Subscriber(Base):
    """A person on one channel: (channel, channel user id) such as ("viber", "01234567890A=")."""

    __tablename__ = "subscribers"
    __table_args__ = (Index("uq_subscribers_channel_user", "channel", "channel_user_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16))
    subscribed: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)

    meters: Mapped[list[Meter]] = relationship(secondary=subscriber_meters, order_by=Meter.id)


class Reading(Base):
    """A meter reading for a billing period. Resubmissions supersede; history is never deleted."""

    __tablename__ = "readings"
    __table_args__ = (
        CheckConstraint(
            "length(period) = 7 AND substr(period, 5, 1) = '-' "
            "AND substr(period, 6, 2) BETWEEN '01' AND '12' "
            "AND " + DIGITS_ONLY.format(column="substr(period, 1, 4) || substr(period, 6, 2)"),
            name="period_format",
        ),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("status IN ('accepted', 'superseded')", name="status_known"),
        # The rule the whole register rests on: one accepted reading per meter and period.
        Index(
            "uq_readings_accepted_meter_period",
            "meter_id",
            "period",
            unique=True,
            postgresql_where=text("status = 'accepted'"),
            sqlite_where=text("status = 'accepted'"),
        ),
        # A channel message (e.g. a Viber message_token) becomes at most one reading.
        Index(
            "uq_readings_channel_message",
            "channel",
            "message_id",
            unique=True,
            postgresql_where=text("message_id IS NOT NULL"),
            sqlite_where=text("message_id IS NOT NULL"),
        ),
        Index("ix_readings_meter_period", "meter_id", "period"),
        Index("ix_readings_period_status", "period", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(7))
    value: Mapped[Decimal] = mapped_column(ExactDecimal())
    submitted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)
    channel: Mapped[str] = mapped_column(String(32))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[ReadingStatus] = mapped_column(_string_enum(ReadingStatus))

    meter: Mapped[Meter] = relationship()


class RegistrationFailure(Base):
    """A registration attempt whose account and meter did not match: the brute-force brake."""

    __tablename__ = "registration_failures"
    __table_args__ = (
        Index("ix_registration_failures_subscriber_at", "subscriber_id", "failed_at"),
        Index("ix_registration_failures_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)


class ReminderStatus(enum.StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Reminder(Base):
    """One reading reminder per subscriber and period: what makes `otke viber remind` idempotent."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("uq_reminders_subscriber_period", "subscriber_id", "period", unique=True),
        CheckConstraint("status IN ('sending', 'sent', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[ReminderStatus] = mapped_column(_string_enum(ReminderStatus))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)
