"""journal events carry the school of the token that posted them; group chats unlinked

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tenant", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.drop_constraint("uq_event_source_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_event_tenant_source_id", ["tenant", "source", "event_id"]
        )

    # Bots answer only in private chats now; a group or channel (a negative chat id) linked
    # before would still receive a child's messages, read by all its members.
    for table in ("guardians", "staff"):
        op.execute(
            f"UPDATE {table} SET telegram_chat_id = NULL, telegram_bot_id = NULL "  # noqa: S608
            "WHERE telegram_chat_id LIKE '-%'"
        )


def downgrade() -> None:
    with op.batch_alter_table("journal_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_event_tenant_source_id", type_="unique")
        batch_op.create_unique_constraint("uq_event_source_id", ["source", "event_id"])
        batch_op.drop_column("tenant")
