"""Retention: journal events, delivery records and audit entries go after 5 years, final marks
after 25 (REQUIREMENTS 004 §7.1), link codes past expiry; outbox files after 30 days, stream
entries after 7 and dead letters after 30; all on an injectable clock."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select

from notifier.channels.outbox import write_atomic
from notifier.config import Settings
from notifier.db.models import AuditEntry, DeliveryAttempt, JournalEvent, LinkCode, Notification
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM
from notifier.retention import (
    YEAR,
    Swept,
    apply_retention,
    purge_expired,
    stream_id,
    sweep_outside,
)
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


async def test_link_codes_past_expiry_and_old_audit_entries_go(
    runtime: Runtime, clock: FakeClock
) -> None:
    now = clock()
    hour = timedelta(hours=1)
    codes = {  # code_hash: (expires_at, used_at)
        "expired-unused": (now - hour, None),
        "expired-used": (now - hour, now - 2 * hour),
        "used-in-time": (now + hour, now - hour),  # stays: a second try is told "used"
        "valid": (now + hour, None),
    }
    async with runtime.sessions() as s:
        for code_hash, (expires, used) in codes.items():
            s.add(
                LinkCode(
                    code_hash=code_hash,
                    subject_id="g-1",
                    created_at=now - 2 * hour,
                    expires_at=expires,
                    used_at=used,
                    used_by_chat="700001" if used else None,
                )
            )
        for action, age in (("old", 5 * YEAR + hour), ("recent", 5 * YEAR - hour)):
            s.add(
                AuditEntry(
                    at=now - age,
                    actor_role="admin",
                    action=action,
                    subject_type="guardian",
                    subject_id="g-1",
                )
            )
        await s.commit()
        purged, swept = await apply_retention(
            session=s, redis=runtime.redis, settings=runtime.settings, now=now
        )
        left_codes = set(await s.scalars(select(LinkCode.code_hash)))
        left_audit = list(await s.scalars(select(AuditEntry.action)))
    assert left_codes == {"used-in-time", "valid"} and purged.link_codes == 2
    assert left_audit == ["recent"] and purged.audit_entries == 1
    assert swept == Swept(outbox_files=0, stream_entries=0, dead_letters=0)  # nothing there


def _default(name: str) -> object:
    return Settings.model_fields[name].default


def _age(path: Path, clock: FakeClock, days: float) -> Path:
    stamp = (clock() - timedelta(days=days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


async def _sweep(redis: Redis, outbox: Path, clock: FakeClock) -> Swept:
    return await sweep_outside(
        redis=redis,
        outbox_dir=outbox,
        now=clock(),
        outbox_days=30,
        stream_days=7,
        dead_letter_days=30,
    )


async def test_outbox_files_past_their_period_go(
    redis_clean: str, tmp_path: Path, clock: FakeClock
) -> None:
    outbox = Settings(data_dir=tmp_path).outbox_dir
    assert _default("outbox_retention_days") == 30
    old = _age(write_atomic(outbox / "email", "notifier-1.eml", b"To: a@b.example\r\n"), clock, 31)
    young = _age(write_atomic(outbox / "sms", "notifier-2.json", b"{}"), clock, 29)
    crashed = outbox / "email" / ".tmp-abc"  # a write that never finished, long ago
    _age(write_atomic(outbox / "email", crashed.name, b"To: c@d.example\r\n"), clock, 40)
    redis = Redis.from_url(redis_clean)
    try:
        swept = await _sweep(redis, outbox, clock)
        assert swept.outbox_files == 2
        assert not old.exists() and not crashed.exists() and young.exists()
        clock.advance(2 * 86400)  # now the SMS file is 31 days old too
        assert (await _sweep(redis, outbox, clock)).outbox_files == 1 and not young.exists()
    finally:
        await redis.aclose()


async def test_stream_entries_past_their_period_go_unless_not_yet_stored(
    redis_clean: str, tmp_path: Path, clock: FakeClock
) -> None:
    assert (_default("stream_retention_days"), _default("dead_letter_retention_days")) == (7, 30)
    redis = Redis.from_url(redis_clean)

    def at(days: float) -> str:
        return stream_id(clock() - timedelta(days=days))

    try:
        assert await _sweep(redis, tmp_path, clock) == Swept(0, 0, 0)  # no streams yet
        for days in (10, 9, 8, 1):
            await redis.xadd(STREAM, {"event": b"{}"}, id=at(days))
        for days in (31, 29):
            await redis.xadd(DEAD_STREAM, {"reason": b"bad"}, id=at(days))
        await redis.xgroup_create(STREAM, GROUP, id="0")
        # Nothing read yet: nothing of the event stream goes, however old.
        swept = await _sweep(redis, tmp_path, clock)
        assert (swept.stream_entries, swept.dead_letters) == (0, 1)
        assert [i.decode() for i, _ in await redis.xrange(DEAD_STREAM)] == [at(29)]
        # Read three, stored (acknowledged) one: the read, unacknowledged ones stay.
        read = await redis.xreadgroup(GROUP, "c1", {STREAM: ">"}, count=3)
        ids = [i.decode() for i, _ in read[0][1]]
        assert ids == [at(10), at(9), at(8)]
        await redis.xack(STREAM, GROUP, ids[0])
        assert (await _sweep(redis, tmp_path, clock)).stream_entries == 1
        await redis.xack(STREAM, GROUP, *ids[1:])
        assert (await _sweep(redis, tmp_path, clock)).stream_entries == 2
        assert [i.decode() for i, _ in await redis.xrange(STREAM)] == [at(1)]
    finally:
        await redis.aclose()
