"""Words with one meaning: a meter's counter is its dial (dial_digits), a subscriber's meter an enrolment (enrolled_at).

"Register" now means only the database; the columns named after the counter and the verb are renamed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _rename(old_digits: str, new_digits: str, old_enrolled: str, new_enrolled: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite renames in place and rewrites the CHECK's expression; its name stays (renaming it
        # means rebuilding `meters`, and dropping the old table would cascade-delete enrolments).
        op.execute(f"ALTER TABLE meters RENAME COLUMN {old_digits} TO {new_digits}")
        op.execute(f"ALTER TABLE subscriber_meters RENAME COLUMN {old_enrolled} TO {new_enrolled}")
        return
    op.alter_column("meters", old_digits, new_column_name=new_digits)
    op.execute(
        f"ALTER TABLE meters RENAME CONSTRAINT ck_meters_{old_digits}_range TO ck_meters_{new_digits}_range"
    )
    op.alter_column("subscriber_meters", old_enrolled, new_column_name=new_enrolled)


def upgrade() -> None:
    _rename("register_digits", "dial_digits", "registered_at", "enrolled_at")


def downgrade() -> None:
    _rename("dial_digits", "register_digits", "enrolled_at", "registered_at")
