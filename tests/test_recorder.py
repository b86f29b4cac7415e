"""A sent group's record does not wait for another group's: on PostgreSQL the writes of one
worker go out side by side (delivery/recorder.py), so a kill finds fewer sent groups not yet
written. One at a time, as SQLite's, a group's write waits for the one before it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text

from notifier.db.models import Notification
from notifier.db.states import RowStatus
from notifier.delivery.outbox import Lease, Write, claim
from notifier.delivery.recorder import POSTGRES_AT_ONCE, Recorder
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import marks_planned, sent_row

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def _two_rows(api: httpx.AsyncClient, runtime: Runtime, now: datetime) -> Lease:
    await marks_planned(api, runtime, 2)
    async with runtime.sessions() as session:
        lease = await claim(session=session, now=now, limit=10, lease=timedelta(seconds=30))
    assert len(lease.ids) == 2
    return lease


async def _sent_write(runtime: Runtime, lease: Lease, row_id: int, now: datetime) -> Write:
    async with runtime.sessions() as session:
        note = await session.get(Notification, row_id)
    assert note is not None
    values, attempt = sent_row(note, now)
    return Write(lease.token, [values], [attempt])


async def _status(runtime: Runtime, row_id: int) -> RowStatus:
    async with runtime.sessions() as session:
        return RowStatus(
            await session.scalar(select(Notification.status).where(Notification.id == row_id))
        )


@pytest.mark.parametrize("at_once", [POSTGRES_AT_ONCE, 1])
async def test_a_groups_record_waits_for_another_only_one_at_a_time(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock, at_once: int
) -> None:
    lease = await _two_rows(api, runtime, clock())
    first_id, second_id = lease.ids
    first = await _sent_write(runtime, lease, first_id, clock())
    second = await _sent_write(runtime, lease, second_id, clock())
    recorder = Recorder(runtime.sessions, at_once=at_once)
    async with runtime.sessions() as blocker:
        # Another transaction holds the first row: its record waits for the lock.
        await blocker.execute(
            text("SELECT id FROM notifications WHERE id = :id FOR UPDATE"), {"id": first_id}
        )
        first_out = asyncio.create_task(recorder.write(first, lease_ends=float("inf")))
        await asyncio.sleep(0.2)
        assert not first_out.done()
        second_out = asyncio.create_task(recorder.write(second, lease_ends=float("inf")))
        done, _ = await asyncio.wait([second_out], timeout=2)
        if at_once > 1:
            assert second_out in done, "the second group's record waited for the first's"
            assert await _status(runtime, second_id) == RowStatus.sent
        else:
            assert not done, "one write at a time: the second waits for the first"
            assert await _status(runtime, second_id) == RowStatus.pending
        assert not first_out.done()
        await blocker.rollback()
    await asyncio.wait_for(asyncio.gather(first_out, second_out), timeout=10)
    assert [await _status(runtime, row_id) for row_id in lease.ids] == [RowStatus.sent] * 2
