"""SQLite's plans for the reads every batch makes of the outbox's history: by the batch's
guardians and group keys, not by walking every sent row (notifier/db/plans.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import School
from notifier.delivery.batch import _told
from notifier.delivery.day_card import load_cards
from notifier.delivery.planner import Pupil, Roster, load_reports_sent
from notifier.runtime import Runtime

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _plans(runtime: Runtime, read: Callable[[AsyncSession], Awaitable[Any]]) -> list[str]:
    """EXPLAIN QUERY PLAN of each statement `read` sends."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with runtime.sessions() as session:
            await read(session)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with runtime.engine.connect() as conn:
        for statement, params in sent:
            found = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            plans.append(" / ".join(row[3] for row in found))
    return plans


async def test_the_reports_sent_today_are_found_by_group_key(runtime: Runtime) -> None:
    roster = Roster(
        students={"p1": Pupil("p1", "s1", None, "Иванов Пётр")},
        schools={
            "s1": School(id="s1", name="Школа", timezone="Europe/Moscow", day_report_time="15:30")
        },
    )
    guardians = [f"g{n}" for n in range(300)]
    plans = await _plans(runtime, lambda s: load_reports_sent(s, roster, guardians, NOW))
    assert plans and all("ix_notifications_group_key" in p for p in plans), plans


async def test_the_day_cards_are_found_by_group_key(runtime: Runtime) -> None:
    since = {f"g{n}": NOW for n in range(300)}
    plans = await _plans(runtime, lambda s: load_cards(s, since))
    assert plans and all("ix_notifications_group_key" in p for p in plans), plans


async def test_what_guardians_were_told_of_marks_is_found_by_guardian(runtime: Runtime) -> None:
    guardians = [f"g{n}" for n in range(300)]
    plans = await _plans(runtime, lambda s: _told(s, guardians, ["m1", "m2"]))
    assert plans and all("ix_notifications_guardian_id" in p for p in plans), plans


async def test_sqlite_has_no_statistics_to_plan_by(runtime: Runtime) -> None:
    # Why the plans above need steering: were ANALYZE run, SQLite could choose by itself.
    async with runtime.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        )
        assert found.first() is None
