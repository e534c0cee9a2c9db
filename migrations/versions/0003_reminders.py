"""Reading reminders sent to subscribers: at most one per subscriber and period.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id", ondelete="CASCADE", name=op.f("fk_reminders_subscriber_id_subscribers")
            ),
            nullable=False,
        ),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('sending', 'sent', 'failed')", name=op.f("ck_reminders_status_known")),
    )
    op.create_index("uq_reminders_subscriber_period", "reminders", ["subscriber_id", "period"], unique=True)


def downgrade() -> None:
    op.drop_table("reminders")
