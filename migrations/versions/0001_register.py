"""The register: accounts, meters, subscribers, their meters, readings.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DIGITS_ONLY = "trim({column}, '0123456789') = ''"


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(5), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.CheckConstraint(
            "length(number) = 5 AND " + DIGITS_ONLY.format(column="number"),
            name=op.f("ck_accounts_number_five_digits"),
        ),
        sa.UniqueConstraint("number", name=op.f("uq_accounts_number")),
    )
    op.create_table(
        "meters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="RESTRICT", name=op.f("fk_meters_account_id_accounts")),
            nullable=False,
        ),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("register_digits", sa.SmallInteger(), server_default=sa.text("3"), nullable=False),
        sa.CheckConstraint("kind IN ('heat', 'hot_water')", name=op.f("ck_meters_kind_known")),
        sa.CheckConstraint("length(number) BETWEEN 1 AND 32", name=op.f("ck_meters_number_not_empty")),
        sa.CheckConstraint("register_digits BETWEEN 1 AND 7", name=op.f("ck_meters_register_digits_range")),
    )
    op.create_index("uq_meters_account_id_number", "meters", ["account_id", "number"], unique=True)
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("channel_user_id", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("subscribed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
    )
    op.create_index("uq_subscribers_channel_user", "subscribers", ["channel", "channel_user_id"], unique=True)
    op.create_table(
        "subscriber_meters",
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name=op.f("fk_subscriber_meters_subscriber_id_subscribers"),
            ),
            primary_key=True,
        ),
        sa.Column(
            "meter_id",
            sa.Integer(),
            sa.ForeignKey("meters.id", ondelete="CASCADE", name=op.f("fk_subscriber_meters_meter_id_meters")),
            primary_key=True,
        ),
        sa.Column("registered_at", _timestamp(), nullable=False),
    )
    op.create_index(op.f("ix_subscriber_meters_meter_id"), "subscriber_meters", ["meter_id"], unique=False)
    op.create_table(
        "readings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "meter_id",
            sa.Integer(),
            sa.ForeignKey("meters.id", ondelete="RESTRICT", name=op.f("fk_readings_meter_id_meters")),
            nullable=False,
        ),
        sa.Column("period", sa.String(7), nullable=False),
        # Exact decimals: NUMERIC in PostgreSQL; text in SQLite, whose NUMERIC would be a float.
        sa.Column("value", sa.Numeric(9, 2).with_variant(sa.String(16), "sqlite"), nullable=False),
        sa.Column("submitted_at", _timestamp(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="SET NULL",
                name=op.f("fk_readings_subscriber_id_subscribers"),
            ),
            nullable=True,
        ),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "length(period) = 7 AND substr(period, 5, 1) = '-' "
            "AND substr(period, 6, 2) BETWEEN '01' AND '12' "
            "AND " + DIGITS_ONLY.format(column="substr(period, 1, 4) || substr(period, 6, 2)"),
            name=op.f("ck_readings_period_format"),
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_readings_value_not_negative")),
        sa.CheckConstraint("status IN ('accepted', 'superseded')", name=op.f("ck_readings_status_known")),
    )
    accepted_only = sa.text("status = 'accepted'")
    op.create_index(
        "uq_readings_accepted_meter_period",
        "readings",
        ["meter_id", "period"],
        unique=True,
        postgresql_where=accepted_only,
        sqlite_where=accepted_only,
    )
    with_message = sa.text("message_id IS NOT NULL")
    op.create_index(
        "uq_readings_channel_message",
        "readings",
        ["channel", "message_id"],
        unique=True,
        postgresql_where=with_message,
        sqlite_where=with_message,
    )
    op.create_index("ix_readings_meter_period", "readings", ["meter_id", "period"])
    op.create_index("ix_readings_period_status", "readings", ["period", "status"])
    op.create_index(op.f("ix_readings_subscriber_id"), "readings", ["subscriber_id"])


def downgrade() -> None:
    op.drop_table("readings")
    op.drop_table("subscriber_meters")
    op.drop_table("subscribers")
    op.drop_table("meters")
    op.drop_table("accounts")
