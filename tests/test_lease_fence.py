"""The outbox's lease is fenced: a worker whose lease ran out, and whose rows another claim
took, can neither renew them nor record what it did with them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
from sqlalchemy import select, text

from notifier.categories import Mode
from notifier.db.models import DeliveryAttempt, Notification
from notifier.db.states import RowStatus
from notifier.delivery.outbox import (
    BlockRow,
    RowUpdate,
    Write,
    claim,
    record,
    renew_lease,
)
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import marks_planned, sent_row


async def test_a_record_from_a_lease_taken_over_is_refused(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await marks_planned(api, runtime, 1)
    length = timedelta(seconds=30)
    async with runtime.sessions() as session:
        paused = await claim(session=session, now=clock(), limit=10, lease=length)
    [row_id] = paused.ids
    clock.advance(31)  # the first worker stalled past its lease: another claim takes the row
    async with runtime.sessions() as session:
        taken = await claim(session=session, now=clock(), limit=10, lease=length)
        assert taken.ids == [row_id] and taken.token != paused.token
        await renew_lease(session=session, lease=paused, until=clock() + timedelta(hours=1))
        note = await session.get(Notification, row_id)
        assert note is not None and note.lease_until == clock() + length  # not the stale one's

    values, attempt = sent_row(note, clock())
    stale = Write(paused.token, [values], [attempt])
    assert await record(runtime.sessions, [stale], lease_ends=float("inf")) == 1
    async with runtime.sessions() as session:
        note = await session.get(Notification, row_id)
        assert note is not None and note.status == RowStatus.pending and note.lease_until
        assert list(await session.scalars(select(DeliveryAttempt))) == []

    current = Write(taken.token, [values], [attempt])
    assert await record(runtime.sessions, [stale, current], lease_ends=float("inf")) == 1
    async with runtime.sessions() as session:
        note = await session.get(Notification, row_id)
        assert note is not None and note.status == RowStatus.sent and note.lease_until is None
        [logged] = list(await session.scalars(select(DeliveryAttempt)))
        assert logged.notification_id == row_id


async def test_a_record_changes_group_and_mode_only_of_rows_moved_to_the_evening(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    """On PostgreSQL a record is one statement for all its rows, whatever each changes (a sent
    row, one moved to the evening, one deferred); only a row moved to the evening changes its
    group and mode."""
    await marks_planned(api, runtime, 3)
    async with runtime.sessions() as session:
        lease = await claim(session=session, now=clock(), limit=10, lease=timedelta(seconds=30))
        before = {
            note.id: note
            for note in await session.scalars(
                select(Notification).where(Notification.id.in_(lease.ids))
            )
        }
    sent_id, evening_id, deferred_id = lease.ids
    later = clock() + timedelta(hours=5)
    sent, attempt = sent_row(before[sent_id], clock())
    updates = [
        sent,
        replace(
            RowUpdate.of(before[evening_id]),
            due_at=later,
            group_key="evening:g-2",
            mode=Mode.digest,
        ),
        replace(RowUpdate.of(before[deferred_id]), due_at=later, reason=None),
    ]
    blocks = [BlockRow("g-1", "sms", "number unused", clock())]
    write = Write(lease.token, updates, [attempt], blocks)
    assert await record(runtime.sessions, [write], lease_ends=float("inf")) == 0
    async with runtime.sessions() as session:
        after = {
            note.id: note
            for note in await session.scalars(
                select(Notification).where(Notification.id.in_(lease.ids))
            )
        }
        [logged] = list(await session.scalars(select(DeliveryAttempt)))
        blocked = await session.execute(text("SELECT guardian_id, channel FROM channel_blocks"))
        assert blocked.all() == [("g-1", "sms")]
    assert logged.notification_id == sent_id and logged.at == clock()
    assert all(note.lease_until is None for note in after.values())
    one, two, three = after[sent_id], after[evening_id], after[deferred_id]
    assert (one.status, one.sent_at, one.due_at) == (
        RowStatus.sent,
        clock(),
        before[sent_id].due_at,
    )
    assert (two.status, two.due_at, two.group_key, two.mode) == (
        RowStatus.pending,
        later,
        "evening:g-2",
        "digest",
    )
    assert (two.channel, two.attempts) == (before[evening_id].channel, before[evening_id].attempts)
    assert (three.due_at, three.group_key, three.mode) == (
        later,
        before[deferred_id].group_key,
        before[deferred_id].mode,
    )
