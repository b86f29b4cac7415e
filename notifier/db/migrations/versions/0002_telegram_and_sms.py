"""telegram and sms

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 05:48:45.117998
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import notifier.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", notifier.db.types.UTCDateTime(), nullable=True),
        sa.Column("used_by_chat", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_codes_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "channel_blocks",
        sa.Column("guardian_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["guardian_id"], ["guardians.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("guardian_id", "channel"),
    )
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_chat_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("telegram_bot_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("telegram_linked_at", notifier.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_guardians_telegram_chat_id"), ["telegram_chat_id"], unique=False
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segments", sa.Integer(), nullable=True))

    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_token", sa.String(length=100), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.drop_column("telegram_token")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("segments")

    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardians_telegram_chat_id"))
        batch_op.drop_column("telegram_linked_at")
        batch_op.drop_column("telegram_bot_id")
        batch_op.drop_column("telegram_chat_id")

    op.drop_table("channel_blocks")
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_codes_subject_id"))

    op.drop_table("link_codes")
