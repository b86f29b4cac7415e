"""staff telegram and announcement summaries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:58:17.638386
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import notifier.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary_chat_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("summary_sent_at", notifier.db.types.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_chat_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("telegram_bot_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_staff_telegram_chat_id"), ["telegram_chat_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_telegram_chat_id"))
        batch_op.drop_column("telegram_bot_id")
        batch_op.drop_column("telegram_chat_id")

    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_column("summary_sent_at")
        batch_op.drop_column("summary_chat_id")
