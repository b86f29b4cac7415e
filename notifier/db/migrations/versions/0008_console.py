"""the web console: staff email and locale, one-time sign-in links, sessions, staff in the audit

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import notifier.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("locale", sa.String(length=10), nullable=False, server_default="ru")
        )
        batch_op.create_index("ix_staff_email", ["email"])
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_staff_id", sa.String(length=64), nullable=True))
    op.create_table(
        "console_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", notifier.db.types.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_console_links_staff_id", "console_links", ["staff_id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("staff_id", sa.String(length=64), nullable=True),
        sa.Column("current_school", sa.String(length=64), nullable=True),
        sa.Column("created_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", notifier.db.types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", notifier.db.types.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_console_sessions_staff_id", "console_sessions", ["staff_id"])


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("actor_staff_id")
    op.drop_table("console_sessions")
    op.drop_table("console_links")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_email")
        batch_op.drop_column("locale")
        batch_op.drop_column("email")
