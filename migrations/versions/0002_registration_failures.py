"""Registration failures, counted per subscriber and globally to stop walking the account space.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name=op.f("fk_registration_failures_subscriber_id_subscribers"),
            ),
            nullable=False,
        ),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_registration_failures_subscriber_at", "registration_failures", ["subscriber_id", "failed_at"]
    )
    op.create_index("ix_registration_failures_failed_at", "registration_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_table("registration_failures")
