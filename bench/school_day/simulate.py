"""A week of journal events through the real pipeline on a simulated clock: each event is
published at its time, and the clock jumps from event to event and to each outbox row's due
time, so a coalescing window, quiet hours and digests take exactly as long as they would.

A variant may have the guardians read Telegram: a local Bot API server (the tests' own,
tests/servers/telegram, run by the caller) takes the messages, and the guardians' chats are
set in the roster as the bot's /start would set them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from sqlalchemy import func, select

from bench.school_day.week import Entry, School
from notifier.config import Settings
from notifier.db.migrate import upgrade
from notifier.db.models import Guardian, Notification
from notifier.db.states import RowStatus
from notifier.embedded import EmbeddedRedis
from notifier.events.schema import JournalEventIn
from notifier.events.stream import publish
from notifier.roster import service
from notifier.roster.schemas import ClassIn, GuardianIn, SchoolIn, StudentIn
from notifier.runtime import Runtime, build_runtime, run_until_idle

if TYPE_CHECKING:
    from tests.servers.telegram import BotApiServer

SOURCE = "/school-day"
DEFAULT_COALESCE = float(Settings.model_fields["coalesce_seconds"].default)
# After the last event: how long the clock may run on for rows still due (a night's quiet
# hours and a digest fit in it), and the step when rows due now could not be taken.
RUN_ON = timedelta(days=2)
NUDGE = timedelta(seconds=1)
CHAT_BASE = 700_000_000  # a guardian's Telegram chat id: this plus their place in the roster


@dataclass(frozen=True)
class Variant:
    """What differs from the defaults a school gets without touching anything."""

    label: str
    coalesce: float | None = None  # None: the setting's default
    homework_digest: bool = False  # the school sets homework to the evening digest
    # Every guardian with an email reads Telegram instead (the SMS-only ones keep SMS).
    telegram: bool = False
    edit_day_card: bool = False  # the school's option: news after the report edits its card


DEFAULT = Variant("default")


@dataclass(frozen=True)
class Run:
    """Where a finished run left its database and outbox files, and what it ran with."""

    database_url: str
    outbox_dir: Path
    coalesce: float
    chats: dict[str, str] = field(default_factory=dict)  # guardian → Telegram chat id


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def telegram_chats(school: School) -> dict[str, str]:
    """The chats of the guardians who read Telegram in a Telegram variant: those with an email."""
    return {g.id: str(CHAT_BASE + i) for i, g in enumerate(school.guardians) if g.email is not None}


async def _roster(
    runtime: Runtime, school: School, variant: Variant, chats: dict[str, str], bot_id: str | None
) -> None:
    async with runtime.sessions() as s:
        own = SchoolIn(name="Школа №1", edit_day_card=variant.edit_day_card)
        row = await service.put_school(session=s, school_id="s1", body=own)
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
                    email=None if guardian.id in chats else guardian.email,
                    phone=guardian.phone,
                    student_ids=list(guardian.pupils),
                ),
            )
            await service.grant_consent(
                session=s, guardian_id=guardian.id, document="согласие", by_token=None
            )
            if guardian.id in chats:
                # What the bot's /start with the guardian's link code stores (no API sets it).
                linked = await s.get(Guardian, guardian.id)
                assert linked is not None
                linked.telegram_chat_id, linked.telegram_bot_id = chats[guardian.id], bot_id
                await s.commit()


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


async def simulate(
    school: School,
    entries: list[Entry],
    variant: Variant,
    workdir: Path,
    *,
    bot_api: BotApiServer | None = None,
) -> Run:
    """Run the week in `workdir` (a new SQLite database, an embedded Redis, the file outbox;
    for a Telegram variant, `bot_api`, a started local Bot API server)."""
    if variant.telegram and bot_api is None:
        raise ValueError(
            f"variant {variant.label!r} reads Telegram: start a tests.servers.telegram."
            "BotApiServer and pass it as bot_api"
        )
    chats = telegram_chats(school) if variant.telegram else {}
    database_url = f"sqlite+aiosqlite:///{workdir / 'week.db'}"
    await asyncio.to_thread(upgrade, database_url)
    with EmbeddedRedis(workdir, persistent=False) as redis:
        # No .env file: a developer's own settings must not change what "default" measures.
        given: dict[str, Any] = {"_env_file": None, "database_url": database_url}
        given |= {"redis_url": redis.url, "data_dir": workdir}
        if variant.coalesce is not None:
            given["coalesce_seconds"] = variant.coalesce
        if bot_api is not None and variant.telegram:
            # The server answers at once and has no flood limits: the pipeline's own pacing
            # (a chat's interval, the bot's rate, on the real clock) would only slow the run.
            given |= {
                "telegram_token": SecretStr(bot_api.token),
                "telegram_api_base": bot_api.base,
                "telegram_chat_interval_seconds": 0,
                "telegram_rate_per_second": 1000,
            }
        settings = Settings(**given)
        start = (entries[0].at if entries else datetime.now().astimezone()) - timedelta(hours=1)
        clock = SimClock(start)
        runtime = build_runtime(settings, clock=clock)
        try:
            bot_id = str(bot_api.bot_id) if bot_api is not None else None
            await _roster(runtime, school, variant, chats, bot_id)
            await _drive(runtime, clock, entries)
        finally:
            await runtime.close()
    return Run(database_url, settings.outbox_dir, settings.coalesce_seconds, chats)
