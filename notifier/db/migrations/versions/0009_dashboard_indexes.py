"""indexes for the admin's dashboard: messages sent by time, events by arrival, failed attempts

The console's dashboard (notifier/stats.py) counts, for one school or the region, what was
sent per hour over the last 30 days, the journal events received today and today's failed
delivery attempts. Without these indexes each of those reads the whole of its table (300k
outbox rows for a school of 1,500 pupils, more for a region) on every page view:

- ix_notifications_pupil_sent (student_id, sent_at, channel), only rows that were sent: a
  school's messages in a time range, pupil by pupil, read from the index alone (the rest of
  the region's traffic is not read; the region's count goes through all its pupils);
- ix_journal_events_received_at (received_at): today's events;
- ix_delivery_attempts_outcome_at (outcome, at): today's failures, without reading the far
  more numerous attempts that succeeded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SENT = sa.text("sent_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_notifications_pupil_sent",
        "notifications",
        ["student_id", "sent_at", "channel"],
        postgresql_where=SENT,
        sqlite_where=SENT,
    )
    op.create_index("ix_journal_events_received_at", "journal_events", ["received_at"])
    op.create_index("ix_delivery_attempts_outcome_at", "delivery_attempts", ["outcome", "at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_attempts_outcome_at", table_name="delivery_attempts")
    op.drop_index("ix_journal_events_received_at", table_name="journal_events")
    op.drop_index("ix_notifications_pupil_sent", table_name="notifications")
