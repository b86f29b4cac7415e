"""The outbox's lease is fenced: a worker whose lease ran out, and whose rows another claim
took, can neither renew them nor record what it did with them."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from notifier.db.models import DeliveryAttempt, Notification
from notifier.db.states import Outcome, RowStatus
from notifier.delivery.outbox import Write, claim, record, renew_lease
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import (
    consume_all,
    mark,
    post_structured,
    pupil_with_guardian,
    school_with_class,
)


def _sent(row_id: int, now) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    values = {"id": row_id, "status": RowStatus.sent, "lease_until": None, "sent_at": now}
    attempt = {
        "notification_id": row_id,
        "channel": "email",
        "at": now,
        "outcome": Outcome.sent,
        "detail": None,
        "provider_id": None,
    }
    return values, attempt


async def test_a_record_from_a_lease_taken_over_is_refused(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await post_structured(api, mark("st-1"))
    await consume_all(runtime)
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

    values, attempt = _sent(row_id, clock())
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
