"""A week of journal events through the real pipeline on a simulated clock: each event is
published at its time, and the clock jumps from event to event and to each outbox row's due
time, so a coalescing window, quiet hours and digests take exactly as long as they would."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.school_day.week import Entry, School
from notifier.config import Settings
from notifier.db.migrate import upgrade
from notifier.db.models import Notification
from notifier.db.states import RowStatus
from notifier.embedded import EmbeddedRedis
from notifier.events.schema import JournalEventIn
from notifier.events.stream import publish
from notifier.roster import service
from notifier.roster.schemas import ClassIn, GuardianIn, SchoolIn, StudentIn
from notifier.runtime import Runtime, build_runtime, run_until_idle

SOURCE = "/school-day"
DEFAULT_COALESCE = float(Settings.model_fields["coalesce_seconds"].default)
# After the last event: how long the clock may run on for rows still due (a night's quiet
# hours and a digest fit in it), and the step when rows due now could not be taken.
RUN_ON = timedelta(days=2)
NUDGE = timedelta(seconds=1)


@dataclass(frozen=True)
class Variant:
    """What differs from the defaults a school gets without touching anything."""

    label: str
    coalesce: float | None = None  # None: the setting's default
    homework_digest: bool = False  # the school sets homework to the evening digest


DEFAULT = Variant("default")


@dataclass(frozen=True)
class Run:
    """Where a finished run left its database and outbox files, and what it ran with."""

    database_url: str
    outbox_dir: Path
    coalesce: float


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _roster(runtime: Runtime, school: School, variant: Variant) -> None:
    async with runtime.sessions() as s:
        row = await service.put_school(session=s, school_id="s1", body=SchoolIn(name="Школа №1"))
        if variant.homework_digest:
            row.subscriptions = {"categories": {"homework": "digest"}}
            await s.commit()
        for plan in school.classes:
            await service.put_class(
                session=s, class_id=plan.id, body=ClassIn(school_id="s1", name=plan.name)
            )
            for pupil in plan.pupils:
                body = StudentIn(school_id="s1", class_id=plan.id, full_name=school.names[pupil])
                await service.put_student(session=s, student_id=pupil, body=body)
        for guardian in school.guardians:
            await service.put_guardian(
                session=s,
                guardian_id=guardian.id,
                body=GuardianIn(
                    full_name="Иванова Мария Петровна",
                    email=guardian.email,
                    phone=guardian.phone,
                    student_ids=list(guardian.pupils),
                ),
            )
            await service.grant_consent(
                session=s, guardian_id=guardian.id, document="согласие", by_token=None
            )


async def _next_due(runtime: Runtime) -> datetime | None:
    async with runtime.sessions() as s:
        due: datetime | None = await s.scalar(
            select(func.min(Notification.due_at)).where(Notification.status == RowStatus.pending)
        )
    return due


async def _drive(runtime: Runtime, clock: SimClock, entries: list[Entry]) -> None:
    """Publish each event at its time and deliver whatever falls due, until nothing is left
    (or the clock has run on for RUN_ON past the last event)."""
    consumer = runtime.consumer(name="school-day")
    stop = (entries[-1].at if entries else clock.now) + RUN_ON
    i = 0
    while True:
        due = await _next_due(runtime)
        upcoming = [t for t in (entries[i].at if i < len(entries) else None, due) if t is not None]
        if not upcoming:
            return
        clock.now = max(clock.now, min(upcoming))
        if clock.now > stop:
            return
        batch: list[JournalEventIn] = []
        while i < len(entries) and entries[i].at <= clock.now:
            e = entries[i]
            batch.append(
                JournalEventIn(source=SOURCE, id=f"e{i}", type=e.type, time=e.at, data=e.data)
            )
            i += 1
        if batch:
            await publish(runtime.redis, batch)
        await run_until_idle(runtime, consumer=consumer)
        if not batch and due is not None and due <= clock.now:
            after = await _next_due(runtime)
            if after is not None and after <= clock.now:  # nothing could take them now
                clock.now += NUDGE


async def simulate(school: School, entries: list[Entry], variant: Variant, workdir: Path) -> Run:
    """Run the week in `workdir` (a new SQLite database, an embedded Redis, the file outbox)."""
    database_url = f"sqlite+aiosqlite:///{workdir / 'week.db'}"
    await asyncio.to_thread(upgrade, database_url)
    with EmbeddedRedis(workdir, persistent=False) as redis:
        # No .env file: a developer's own settings must not change what "default" measures.
        given: dict[str, Any] = {"_env_file": None, "database_url": database_url}
        given |= {"redis_url": redis.url, "data_dir": workdir}
        if variant.coalesce is not None:
            given["coalesce_seconds"] = variant.coalesce
        settings = Settings(**given)
        start = (entries[0].at if entries else datetime.now().astimezone()) - timedelta(hours=1)
        clock = SimClock(start)
        runtime = build_runtime(settings, clock=clock)
        try:
            await _roster(runtime, school, variant)
            await _drive(runtime, clock, entries)
        finally:
            await runtime.close()
    return Run(database_url, settings.outbox_dir, settings.coalesce_seconds)
