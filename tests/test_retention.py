"""Retention: journal events and delivery records go after 5 years, final marks after 25
(REQUIREMENTS 004 §7.1), on an injectable clock."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from notifier.db.models import DeliveryAttempt, JournalEvent, Notification
from notifier.retention import YEAR, purge_expired
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import cloud_event, mark, post_batch, pupil_with_guardian, school_with_class


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as s:
        rows = await s.execute(select(JournalEvent.type, func.count()).group_by(JournalEvent.type))
        events: dict[str, int] = {type_: n for type_, n in rows}
        return {
            **events,
            "notifications": await s.scalar(select(func.count()).select_from(Notification)),
            "attempts": await s.scalar(select(func.count()).select_from(DeliveryAttempt)),
        }


async def _purge(runtime: Runtime, clock: FakeClock) -> None:
    async with runtime.sessions() as s:
        await purge_expired(session=s, now=clock(), years=5, final_mark_years=25)


async def test_old_journal_data_goes_and_final_marks_stay_25_years(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock, pump
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    period_mark = cloud_event(
        "journal.period_mark.created",
        {"student_id": "st-1", "subject": "Алгебра", "period": "2026/27", "value": "5"},
    )
    assert (await post_batch(api, [mark("st-1", mark_id="old"), period_mark])).status_code == 202
    await pump()
    before = await _counts(runtime)
    assert before["notifications"] == 2 and before["attempts"] == 2

    clock.advance((5 * YEAR).total_seconds() - 3600)  # not yet five years
    await _purge(runtime, clock)
    assert await _counts(runtime) == before

    clock.advance(2 * 3600)  # five years and an hour later, a new mark arrives
    assert (await post_batch(api, [mark("st-1", mark_id="new")])).status_code == 202
    await pump()
    await _purge(runtime, clock)
    after = await _counts(runtime)
    assert after["journal.mark.created"] == 1  # the new one
    assert after["journal.period_mark.created"] == 1  # kept for 25 years
    assert after["notifications"] == 1 and after["attempts"] == 1  # the new mark's only

    clock.advance((20 * YEAR).total_seconds())  # 25 years and an hour after the period mark
    await _purge(runtime, clock)
    final = await _counts(runtime)
    assert "journal.period_mark.created" not in final
    assert final["notifications"] == 0 and final["attempts"] == 0
