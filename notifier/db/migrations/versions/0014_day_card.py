"""the day's card: a school may have a later mark edit the day's report in a messenger

- schools.edit_day_card (false): with it, a mark, a correction or a deletion that comes after
  the day's report went, and before the evening, edits the report's Telegram or MAX message
  instead of waiting for the evening's.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.add_column(
            sa.Column("edit_day_card", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("edit_day_card")
