"""what an SMS was billed, on its sent attempt; an index over the SMS sent by time

- delivery_attempts.segments and .cost: a sent SMS's segments and cost, on its message's first
  row. A message whose receipt said undelivered goes on by another channel, and its row then
  holds that channel's send; the attempt keeps what the SMS cost.
- ix_delivery_attempts_sms_sent (at) WHERE channel = 'sms' AND outcome = 'sent': a school's
  month of SMS (the budget, /metrics, the console) reads only those rows (35 ms instead of
  200 ms at 3 million rows on PostgreSQL, measured on the outbox's equivalent).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SENT_SMS = sa.text("channel = 'sms' AND outcome = 'sent'")


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("segments", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cost", sa.Numeric(10, 4), nullable=True))
    op.create_index(
        "ix_delivery_attempts_sms_sent",
        "delivery_attempts",
        ["at"],
        sqlite_where=SENT_SMS,
        postgresql_where=SENT_SMS,
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_attempts_sms_sent", table_name="delivery_attempts")
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("cost")
        batch.drop_column("segments")
