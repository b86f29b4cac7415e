"""SMS delivery receipts and a school's monthly SMS budget

- notifications.receipt (delivered | undelivered: what the provider's receipt said, once) and
  notifications.cost (roubles, when the provider says it);
- ix_delivery_attempts_provider_id: a receipt names its message by the provider's id;
- schools.sms_budget_month (segments a month; NULL: no cap) and schools.sms_alert_month (the
  month its admins were told that 80% was spent).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("cost", sa.Numeric(10, 4), nullable=True))
        batch.add_column(sa.Column("receipt", sa.String(12), nullable=True))
    op.create_index("ix_delivery_attempts_provider_id", "delivery_attempts", ["provider_id"])
    with op.batch_alter_table("schools") as batch:
        batch.add_column(sa.Column("sms_budget_month", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sms_alert_month", sa.String(7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("sms_alert_month")
        batch.drop_column("sms_budget_month")
    op.drop_index("ix_delivery_attempts_provider_id", table_name="delivery_attempts")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("receipt")
        batch.drop_column("cost")
