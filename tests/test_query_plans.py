"""SQLite's plans for the reads every batch makes of the outbox's history, and for the claim's
and the consumer's statements on the rows still waiting: by the batch's ids, guardians and
group keys, not by walking every sent or pending row (notifier/db/plans.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.categories import Mode
from notifier.channels.sms_provider import Receipt, ReceiptState
from notifier.channels.smsc import SmscGateway
from notifier.db.models import DeliveryAttempt, JournalEvent, Notification, School
from notifier.db.states import EventStatus, Outcome, RowStatus
from notifier.delivery.batch import _told
from notifier.delivery.day_card import load_cards
from notifier.delivery.intake import _advance_groups, _join_mark_history, _join_open_groups
from notifier.delivery.outbox import Lease, claim, renew_lease
from notifier.delivery.planner import OutboxRow, Roster, _told_now, load_reports_sent
from notifier.delivery.receipts import apply_receipts, poll_receipts
from notifier.roster.rows import Pupil
from notifier.runtime import Runtime
from notifier.summaries import plan_weekly
from tests.sql_sent import statements_sent

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _plans(runtime: Runtime, read: Callable[[AsyncSession], Awaitable[Any]]) -> list[str]:
    """EXPLAIN QUERY PLAN of each statement `read` sends."""
    with statements_sent(runtime) as sent:
        async with runtime.sessions() as session:
            await read(session)
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


async def _waiting_rows(runtime: Runtime, groups: int) -> list[OutboxRow]:
    """A pending row due now in each of `groups` groups, written, and another of each group
    as the consumer would plan it next."""
    async with runtime.sessions() as session:
        event = JournalEvent(
            source="/journal/test",
            event_id="e1",
            type="journal.mark.created",
            data={"student_id": "p1"},
            received_at=NOW,
            status=EventStatus.planned,
        )
        session.add(event)
        await session.flush()
        rows = [
            OutboxRow(
                event.pk,
                f"g{n}",
                "p1",
                "marks",
                "mark_created",
                RowStatus.pending,
                None,
                NOW,
                f"i:g{n}:marks",
                Mode.instant,
                NOW,
                mark_id=f"m{n}",
            )
            for n in range(groups)
        ]
        session.add_all(Notification(**r.values()) for r in rows)
        await session.commit()
        return rows


async def test_a_claim_leases_its_rows_by_id_and_group_key(runtime: Runtime) -> None:
    await _waiting_rows(runtime, 300)
    # One statement on SQLite (outbox._claim_at_once): the pick, then its rows and their groups.
    [plan] = await _plans(
        runtime,
        lambda s: claim(session=s, now=NOW, limit=200, lease=timedelta(seconds=60)),
    )
    # The lease reaches its rows by the primary key and the group keys' index, not by walking
    # the due index, which only the pick uses.
    assert plan.startswith("MULTI-INDEX OR / INDEX 1 / "), plan
    pick = "MATERIALIZE picked / SEARCH notifications USING INDEX ix_notifications_due"
    assert pick in plan, plan  # the oldest due rows, in due order, taken once
    assert "TEMP B-TREE" not in plan, plan
    assert "SEARCH notifications USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert "SEARCH notifications USING INDEX ix_notifications_group_key (group_key=?)" in plan
    assert "SCAN notifications" not in plan, plan


async def test_a_lease_is_renewed_by_id(runtime: Runtime) -> None:
    await _waiting_rows(runtime, 1)
    lease = Lease(1, list(range(1, 301)), 0.0)
    [plan] = await _plans(
        runtime, lambda s: renew_lease(session=s, lease=lease, until=NOW + timedelta(minutes=1))
    )
    assert "INTEGER PRIMARY KEY" in plan and "ix_notifications_due" not in plan, plan


async def test_new_rows_find_their_waiting_groups_by_group_key(runtime: Runtime) -> None:
    rows = await _waiting_rows(runtime, 300)

    async def join_and_advance(session: AsyncSession) -> None:
        await _join_open_groups(session, rows, NOW)
        await _advance_groups(session, rows, NOW)

    plans = await _plans(runtime, join_and_advance)
    reads = [p for p in plans if "notifications" in p and "rowid=?" not in p]
    assert len(reads) == 2, plans
    assert all("ix_notifications_group_key" in p for p in reads), plans


async def test_a_marks_earlier_rows_are_found_by_guardian(runtime: Runtime) -> None:
    rows = await _waiting_rows(runtime, 300)
    guardians = {r.guardian_id for r in rows}
    marks = {r.mark_id or "" for r in rows}
    plans = await _plans(runtime, lambda s: _join_mark_history(s, rows, NOW))
    plans += await _plans(runtime, lambda s: _told_now(s, guardians, marks))
    assert len(plans) == 2, plans
    assert all("ix_notifications_guardian_id" in p for p in plans), plans


async def test_a_schools_week_is_found_done_by_its_marker(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        session.add(School(id="s1", name="Школа", timezone="Europe/Moscow"))
        await session.commit()
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    async with runtime.sessions() as session:
        await plan_weekly(session=session, now=sunday)  # the week's marker, no pupils
    plans = await _plans(runtime, lambda s: plan_weekly(session=s, now=sunday))
    [marker] = [p for p in plans if "journal_events" in p]
    # The unique constraint's index (SQLite names it sqlite_autoindex_journal_events_1).
    assert "(tenant=? AND source=? AND event_id=?)" in marker, plans


async def test_an_sms_receipt_finds_its_row_by_provider_id(runtime: Runtime) -> None:
    rows = await _waiting_rows(runtime, 1)
    async with runtime.sessions() as session:
        note = await session.get(Notification, 1)
        assert note is not None
        note.status, note.channel, note.sent_at = RowStatus.sent, "sms", NOW
        session.add(
            DeliveryAttempt(
                notification_id=1, channel="sms", at=NOW, outcome=Outcome.sent, provider_id="p1"
            )
        )
        await session.commit()
    receipt = Receipt("smsru", "p1", ReceiptState.delivered)
    plans = await _plans(runtime, lambda s: apply_receipts(session=s, receipts=[receipt], now=NOW))
    assert rows and len(plans) >= 2, plans
    attempt, row = plans[:2]
    assert "ix_delivery_attempts_provider_id" in attempt, plans
    assert "INTEGER PRIMARY KEY" in row and "ix_notifications_due" not in row, plans


async def test_the_sms_status_query_reads_only_its_window(runtime: Runtime) -> None:
    no_gateway = cast(SmscGateway, None)  # nothing to ask about: the query finds no SMS
    plans = await _plans(
        runtime, lambda s: poll_receipts(sessions=lambda: s, gateway=no_gateway, now=NOW)
    )
    assert "ix_delivery_attempts_outcome_at (outcome=? AND at>? AND at<?)" in plans[0], plans


async def test_sqlite_has_no_statistics_to_plan_by(runtime: Runtime) -> None:
    # Why the plans above need steering: were ANALYZE run, SQLite could choose by itself.
    async with runtime.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        )
        assert found.first() is None
