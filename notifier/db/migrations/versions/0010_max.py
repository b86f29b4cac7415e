"""MAX: a guardian's and a staff member's MAX user, link codes per messenger

- guardians.max_user_id (indexed: the bot finds the guardian of an update by it) and
  max_linked_at; staff.max_user_id, for a class teacher's /announce in MAX;
- link_codes.messenger: a code opens one messenger's bot, and a new code voids only the
  older unused codes of the same messenger (a parent may link Telegram and MAX both);
- announcements.summary_messenger: the messenger of summary_chat_id, where a teacher who
  announced from a bot gets the delivery summary.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import notifier.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guardians") as batch:
        batch.add_column(sa.Column("max_user_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("max_linked_at", notifier.db.types.UTCDateTime(), nullable=True))
        batch.create_index("ix_guardians_max_user_id", ["max_user_id"])
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("max_user_id", sa.String(32), nullable=True))
        batch.create_index("ix_staff_max_user_id", ["max_user_id"])
    with op.batch_alter_table("link_codes") as batch:
        batch.add_column(
            sa.Column("messenger", sa.String(10), nullable=False, server_default="telegram")
        )

    with op.batch_alter_table("announcements") as batch:
        batch.add_column(
            sa.Column("summary_messenger", sa.String(10), nullable=False, server_default="telegram")
        )


def downgrade() -> None:
    with op.batch_alter_table("announcements") as batch:
        batch.drop_column("summary_messenger")
    with op.batch_alter_table("link_codes") as batch:
        batch.drop_column("messenger")
    with op.batch_alter_table("staff") as batch:
        batch.drop_index("ix_staff_max_user_id")
        batch.drop_column("max_user_id")
    with op.batch_alter_table("guardians") as batch:
        batch.drop_index("ix_guardians_max_user_id")
        batch.drop_column("max_linked_at")
        batch.drop_column("max_user_id")
