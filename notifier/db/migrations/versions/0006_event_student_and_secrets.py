"""journal events by pupil; the service's own secrets

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import notifier.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("student_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_journal_events_student_id"), ["student_id"], unique=False
        )
    events = sa.table(
        "journal_events",
        sa.column("student_id", sa.String(64)),
        sa.column("data", notifier.db.types.JsonType),
    )
    # Events stored before this revision: their pupil, from the data they carry.
    op.execute(events.update().values(student_id=events.c.data["student_id"].as_string()))
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("app_secrets")
    with op.batch_alter_table("journal_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_events_student_id"))
        batch_op.drop_column("student_id")
