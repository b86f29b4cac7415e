"""Steering SQLite's query planner where it goes wrong. SQLite plans without statistics (we
never run ANALYZE), and it takes one equality for a better search than a long IN list: asked
for the sent rows among a batch's 800 guardians or group keys, it walked the (status, due_at)
index over every sent row in the outbox, which grows all day (the day's reports sent: 53 ms a
batch with 150,000 sent rows, 4.3 ms by the group keys' index), and the attempts' (outcome, at)
index over every attempt that went. The same holds for the pending rows among a claim's ids and
group keys (delivery/outbox.py) and a new batch's groups (delivery/intake.py).
tests/test_query_plans.py holds the plans."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute


def unindexed(column: InstrumentedAttribute[str] | ColumnElement[str]) -> ColumnElement[str]:
    """The column's value as `column || ''`, which no index of the column serves, so a condition
    on it filters the rows another (selective) condition found. SQLite's documented way is the
    unary "+", which PostgreSQL does not take for text; PostgreSQL has statistics and plans the
    same either way."""
    return column.concat("")
