"""the day's report: when it goes, and which marks go now instead

- schools.day_report_time ("15:30"): the day's marks go in one message per guardian then.
- schools.important_marks (JSON, null = the default rule): marks that go now.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.add_column(
            sa.Column("day_report_time", sa.String(5), nullable=False, server_default="15:30")
        )
        batch.add_column(
            sa.Column(
                "important_marks",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("important_marks")
        batch.drop_column("day_report_time")
