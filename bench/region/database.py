"""The bench's own use of the database: the region loaded, the whole day planned to count
messages per guardian, fresh statistics, PostgreSQL's top statements."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.region.generate import DayEvent, Region, as_cloudevents
from notifier.categories import EVENT_CATEGORIES, Category, Mode
from notifier.db.engine import create_engine, session_factory
from notifier.db.models import (
    Consent,
    Guardian,
    GuardianStudent,
    JournalEvent,
    Notification,
    School,
    SchoolClass,
    Student,
)
from notifier.delivery.intake import store_and_plan
from notifier.reports.marks import week_of
from notifier.summaries import plan_weekly

# The region's day is a measure of throughput: every category goes at once, so the whole day
# is sent while the bench runs. What parents get at default settings (the day's report, the
# evening) is bench.school_day's measure. The weekly summary is no school day's message: a
# burst of its own from Saturday evening, 22,000 PDFs for this region (plan_this_week).
EVERYTHING_NOW = {
    "categories": {c.value: Mode.instant.value for c in EVENT_CATEGORIES}
    | {Category.summary.value: Mode.off.value}
}
ZONE = "Europe/Moscow"


async def load_region(database_url: str, region: Region) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as s:
            for school in region.schools:
                s.add(
                    School(
                        id=school,
                        name=f"Школа {school}",
                        timezone=ZONE,
                        quiet_start="00:00",
                        quiet_end="00:00",
                        subscriptions=EVERYTHING_NOW,
                        # No early window for the day's report, whatever the clock says: in
                        # it, a guardian's news goes in one message with the report, and the
                        # bench would count fewer messages from 10:30 to 12:30 UTC.
                        day_report_time="00:00",
                    )
                )
            await s.flush()
            rows: list[tuple[Any, list[dict[str, Any]]]] = [
                (
                    SchoolClass,
                    [{"id": c, "school_id": sc, "name": "7Б"} for c, sc in region.classes],
                ),
                (
                    Student,
                    [
                        {
                            "id": p,
                            "class_id": c,
                            "school_id": sc,
                            "full_name": "Иванов Пётр Сергеевич",
                        }
                        for p, c, sc in region.pupils
                    ],
                ),
                (Guardian, region.guardians),
                (GuardianStudent, [{"guardian_id": g, "student_id": p} for g, p in region.links]),
                (Consent, [{"guardian_id": g, "document": "заявление"} for g in region.consented]),
            ]
            for model, values in rows:
                for start in range(0, len(values), 2000):
                    await s.execute(insert(model), values[start : start + 2000])
            await s.commit()
    finally:
        await engine.dispose()


async def plan_this_week(session: AsyncSession, now: datetime) -> None:
    """This week's summaries planned as on its Sunday (every row skipped: they are off), so
    no worker plans them during a run: a run on a weekend measures the same day as a run on
    a Tuesday."""
    _, sunday = week_of(now, ZONE)
    await plan_weekly(session=session, now=datetime.combine(sunday, time(12), ZoneInfo(ZONE)))


async def messages_per_guardian(sessions: Any, day: list[DayEvent]) -> list[int]:
    """Plan the whole day with the consumer's own planning (coalescing off) and count each
    reachable guardian's messages. Planned for the year 2100, so no worker sends them, and
    removed afterwards."""
    events = as_cloudevents(day, "/bench/whole-day")
    later = datetime(2100, 1, 1, 12, tzinfo=UTC)
    for start in range(0, len(events), 500):
        async with sessions() as s:
            await store_and_plan(session=s, events=events[start : start + 500], now=later)
    await analyze(sessions)
    async with sessions() as s:
        of_day = select(JournalEvent.pk).where(JournalEvent.source == "/bench/whole-day")
        counts = dict(
            (
                await s.execute(
                    select(Notification.guardian_id, func.count())
                    .where(Notification.event_pk.in_(of_day), Notification.status == "pending")
                    .group_by(Notification.guardian_id)
                )
            ).all()
        )
        reachable = (
            await s.scalars(
                select(Guardian.id)
                .join(Consent, Consent.guardian_id == Guardian.id)
                .where(
                    (Guardian.telegram_chat_id.is_not(None))
                    | (Guardian.max_user_id.is_not(None))
                    | (Guardian.email.is_not(None))
                    | (Guardian.phone.is_not(None))
                )
            )
        ).all()
        await s.execute(delete(Notification).where(Notification.event_pk.in_(of_day)))
        await s.execute(delete(JournalEvent).where(JournalEvent.source == "/bench/whole-day"))
        await s.commit()
    return sorted(counts.get(g, 0) for g in set(reachable))


async def analyze(sessions: Any) -> None:
    """Fresh planner statistics on PostgreSQL before the bench's own counting queries."""
    async with sessions() as s:
        if s.get_bind().dialect.name == "postgresql":
            await s.execute(text("ANALYZE"))
            await s.commit()


async def top_statements(sessions: Any, n: int = 6) -> None:
    """The statements PostgreSQL spent most time on over the whole benchmark."""
    async with sessions() as s:
        try:
            rows = (
                await s.execute(
                    text(
                        "SELECT calls, total_exec_time, query FROM pg_stat_statements "
                        "ORDER BY total_exec_time DESC LIMIT :n"
                    ),
                    {"n": n},
                )
            ).all()
        except Exception as exc:
            print(f"  (pg_stat_statements not available: {type(exc).__name__})")
            return
    print("  PostgreSQL's top statements by total time:")
    for calls, total_ms, query in rows:
        print(f"    {total_ms / 1000:7.1f} s {calls:>8,} calls  {' '.join(query.split())[:110]}")
