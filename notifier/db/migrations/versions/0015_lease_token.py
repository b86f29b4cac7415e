"""the outbox's lease fenced: each claim's token on the rows it leased

- notifications.lease_token: the token of the claim that leased the row last. A worker records
  what happened to a row only while the row still carries its claim's token, so a worker that
  was paused past its lease, whose rows another claim took, cannot overwrite their record.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("lease_token", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("lease_token")
