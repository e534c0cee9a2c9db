"""The staff console: staff users, sessions, login attempts, the audit log, and the index of Rasa's
conversations (summaries, refusals, NLU inbox) with the indexes its pages need at 100k conversations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _at(name: str = "at") -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _flag(name: str) -> sa.Column[sa.Boolean]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _conversation_id(table: str) -> sa.Column[sa.Integer]:
    fk = sa.ForeignKey(
        "console_conversations.id",
        ondelete="CASCADE",
        name=op.f(f"fk_{table}_conversation_id_console_conversations"),
    )
    return sa.Column("conversation_id", sa.Integer(), fk, nullable=False)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        _at("created_at"),
        sa.UniqueConstraint("name", name=op.f("uq_staff_users_name")),
        sa.CheckConstraint(
            "role IN ('operator', 'designer', 'admin')", name=op.f("ck_staff_users_role_known")
        ),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey(
                "staff_users.id", ondelete="CASCADE", name=op.f("fk_staff_sessions_user_id_staff_users")
            ),
            nullable=False,
        ),
        _at("created_at"),
        _at("last_seen_at"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"])
    op.create_table(
        "staff_login_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        _at(),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_staff_login_attempts_name_at", "staff_login_attempts", ["name", "at"])
    op.create_index(op.f("ix_staff_login_attempts_address"), "staff_login_attempts", ["address"])
    op.create_table(
        "staff_audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        _at(),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(op.f("ix_staff_audit_log_at"), "staff_audit_log", ["at"])

    op.create_table(
        "console_conversations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("first_event_id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        _at("started_at"),
        _at("last_at"),
        sa.Column("channel", sa.String(32), nullable=False, server_default=""),
        sa.Column("user_messages", sa.Integer(), nullable=False, server_default="0"),
        _flag("fallback"),
        _flag("refused"),
        _flag("unfinished"),
        _flag("failure"),
        _flag("low_confidence"),
        sa.UniqueConstraint("sender_id", "first_event_id", name="uq_console_conversations_sender_first"),
    )
    op.create_index("ix_console_conversations_last_at", "console_conversations", ["last_at"])
    op.create_index(
        "ix_console_conversations_channel_last_at", "console_conversations", ["channel", "last_at"]
    )
    op.create_table(
        "console_refusals",
        sa.Column("event_id", sa.Integer(), primary_key=True, autoincrement=False),
        _conversation_id("console_refusals"),
        _at(),
        sa.Column("reason", sa.String(64), nullable=False),
    )
    op.create_index(op.f("ix_console_refusals_conversation_id"), "console_refusals", ["conversation_id"])
    op.create_index(op.f("ix_console_refusals_at"), "console_refusals", ["at"])
    op.create_table(
        "console_inbox",
        sa.Column("event_id", sa.Integer(), primary_key=True, autoincrement=False),
        _conversation_id("console_inbox"),
        _at(),
        sa.Column("normalised", sa.String(255), nullable=False),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("second_intent", sa.String(64), nullable=False, server_default=""),
        sa.Column("second_confidence", sa.Float(), nullable=False, server_default="0"),
        sa.Column("why", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False, server_default=""),
        sa.Column("labelled_by", sa.String(64), nullable=False, server_default=""),
        sa.CheckConstraint(
            "status IN ('open', 'labelled', 'dismissed')", name=op.f("ck_console_inbox_status_known")
        ),
    )
    op.create_index(op.f("ix_console_inbox_conversation_id"), "console_inbox", ["conversation_id"])
    op.create_index("ix_console_inbox_status_normalised", "console_inbox", ["status", "normalised"])
    state = op.create_table(
        "console_index_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
    )
    # the row the indexing workers lock in turn: there from the start, so no two of them create it
    op.bulk_insert(state, [{"name": "events", "last_event_id": 0}])


def downgrade() -> None:
    for table in (
        "console_index_state",
        "console_inbox",
        "console_refusals",
        "console_conversations",
        "staff_audit_log",
        "staff_login_attempts",
        "staff_sessions",
        "staff_users",
    ):
        op.drop_table(table)
