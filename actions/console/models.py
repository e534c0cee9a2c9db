"""The console's own tables: staff and their sessions, the audit log, and the index of Rasa's
conversations (summaries, refusals, the NLU inbox) that the pages read instead of the raw events.

Same metadata as the register, so the same Alembic migrations own them (0005_console).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from actions.register import clock
from actions.register.models import Base, UtcDateTime, _string_enum


class Role(enum.StrEnum):
    OPERATOR = "operator"
    DESIGNER = "designer"
    ADMIN = "admin"


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("role IN ('operator', 'designer', 'admin')", name="role_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_string_enum(Role))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)


class StaffSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)


class LoginAttempt(Base):
    __tablename__ = "staff_login_attempts"
    __table_args__ = (Index("ix_staff_login_attempts_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class AuditEntry(Base):
    """Who saw what unmasked, labelled what, or changed staff; never deleted by the console."""

    __tablename__ = "staff_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=clock.now, index=True)
    user_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")


class Conversation(Base):
    """One Rasa conversation session (a sender's events from one session start to the next)."""

    __tablename__ = "console_conversations"
    __table_args__ = (
        UniqueConstraint("sender_id", "first_event_id", name="uq_console_conversations_sender_first"),
        Index("ix_console_conversations_last_at", "last_at"),
        Index("ix_console_conversations_channel_last_at", "channel", "last_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    first_event_id: Mapped[int] = mapped_column(Integer)
    last_event_id: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    channel: Mapped[str] = mapped_column(String(32), default="", server_default="")
    user_messages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fallback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unfinished: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failure: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    low_confidence: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Refusal(Base):
    """A bot answer that refused what the subscriber typed (the response names the reason)."""

    __tablename__ = "console_refusals"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("console_conversations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    reason: Mapped[str] = mapped_column(String(64))


class InboxStatus(enum.StrEnum):
    OPEN = "open"
    LABELLED = "labelled"
    DISMISSED = "dismissed"


class InboxMessage(Base):
    """A user message the model was unsure of, waiting for a designer's intent."""

    __tablename__ = "console_inbox"
    __table_args__ = (
        Index("ix_console_inbox_status_normalised", "status", "normalised"),
        CheckConstraint("status IN ('open', 'labelled', 'dismissed')", name="status_known"),
    )

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("console_conversations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # the text with every digit replaced (digits carry account and meter numbers)
    normalised: Mapped[str] = mapped_column(String(255))
    intent: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    second_intent: Mapped[str] = mapped_column(String(64), default="", server_default="")
    second_confidence: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    why: Mapped[str] = mapped_column(String(16))
    status: Mapped[InboxStatus] = mapped_column(_string_enum(InboxStatus), default=InboxStatus.OPEN)
    label: Mapped[str] = mapped_column(Text, default="", server_default="")
    labelled_by: Mapped[str] = mapped_column(String(64), default="", server_default="")


class IndexState(Base):
    """How far the index has read Rasa's events table."""

    __tablename__ = "console_index_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer)
