"""announcements

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:54:38.532967
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import notifier.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "announcements",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=True),
        sa.Column("author", sa.String(length=40), nullable=False),
        sa.Column("author_staff_id", sa.String(length=64), nullable=True),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column(
            "audience",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("send_at", notifier.db.types.UTCDateTime(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"],
            ["journal_events.pk"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("author", "idempotency_key", name="uq_announcement_key"),
    )
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_announcements_author_staff_id"), ["author_staff_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_announcements_school_id"), ["school_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcements_school_id"))
        batch_op.drop_index(batch_op.f("ix_announcements_author_staff_id"))

    op.drop_table("announcements")
