"""How many messages a parent gets in a school day, next to the number of journal events.

    .venv/bin/python -m bench.school_day [--seed 1] [--coalesce 60]

A simulated class of 30 pupils (45 guardians, all with consent and email) through a school
day of six lessons: marks entered in bursts after lessons, a corrected mark, absences and
lateness, homework for the class after each lesson, a timetable change, teachers' comments.
The pipeline is the real one (stream, consumer, planner, delivery to the file outbox) on a
simulated clock. Figures are printed for the given coalescing window and for none, so the
saving is a measured figure.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from notifier.config import Settings
from notifier.db.migrate import upgrade
from notifier.db.models import DeliveryAttempt, Notification
from notifier.embedded import EmbeddedRedis
from notifier.events.schema import JournalEventIn
from notifier.events.stream import publish
from notifier.roster import service
from notifier.roster.schemas import ClassIn, GuardianIn, SchoolIn, StudentIn
from notifier.runtime import build_runtime, run_until_idle

PUPILS = 30
SUBJECTS = ["Алгебра", "Русский язык", "История", "Физика", "Английский язык", "Биология"]
MSK_08 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 08:00 in Moscow


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def school_day(rng: random.Random) -> list[tuple[datetime, str, dict[str, object]]]:
    """(time, type, data) of one day of a 7th-grade class's journal."""
    events: list[tuple[datetime, str, dict[str, object]]] = []
    pupils = [f"p{i}" for i in range(PUPILS)]
    n = 0
    for lesson, subject in enumerate(SUBJECTS):
        start = MSK_08 + timedelta(minutes=55 * lesson)
        for pupil in rng.sample(pupils, 2 if lesson == 0 else rng.randint(0, 1)):
            status = rng.choice(["absent", "late"])
            events.append(
                (
                    start + timedelta(minutes=2),
                    "journal.attendance.recorded",
                    {
                        "student_id": pupil,
                        "lesson_date": "2026-11-24",
                        "status": status,
                        "lesson_number": lesson + 1,
                        "subject": subject,
                        **({"minutes_late": rng.randint(3, 15)} if status == "late" else {}),
                    },
                )
            )
        # The teacher enters the lesson's marks in one burst after the bell.
        burst = start + timedelta(minutes=46)
        for k, pupil in enumerate(rng.sample(pupils, rng.randint(5, 10))):
            n += 1
            events.append(
                (
                    burst + timedelta(seconds=4 * k),
                    "journal.mark.created",
                    {
                        "mark_id": f"m{n}",
                        "student_id": pupil,
                        "subject": subject,
                        "value": str(rng.choice([5, 5, 4, 4, 4, 3, 2])),
                        "lesson_date": "2026-11-24",
                    },
                )
            )
        events.append(
            (
                burst + timedelta(minutes=5),
                "journal.homework.assigned",
                {
                    "homework_id": f"hw{lesson}",
                    "class_id": "c1",
                    "subject": subject,
                    "text": f"§{rng.randint(1, 40)}, упражнения {rng.randint(1, 300)}",
                    "due_date": "2026-11-25",
                },
            )
        )
        if lesson == 2:  # a mark from the first lesson is corrected
            events.append(
                (
                    burst + timedelta(minutes=1),
                    "journal.mark.updated",
                    {
                        "mark_id": "m1",
                        "student_id": events[[e[1] for e in events].index("journal.mark.created")][
                            2
                        ]["student_id"],
                        "subject": SUBJECTS[0],
                        "value": "4",
                        "changed_by": "Учитель",
                    },
                )
            )
    events.append(
        (
            MSK_08 + timedelta(hours=6),
            "journal.schedule.changed",
            {
                "class_id": "c1",
                "date": "2026-11-25",
                "change": "replaced",
                "lesson_number": 2,
                "subject": "Физика",
                "substitute_teacher": "Петрова А. В.",
            },
        )
    )
    for pupil in rng.sample(pupils, 2):
        events.append(
            (
                MSK_08 + timedelta(hours=7),
                "journal.comment.created",
                {"student_id": pupil, "text": "Активно работал(а) на уроке", "teacher": "Учитель"},
            )
        )
    events.sort(key=lambda e: e[0])
    return events


async def run(coalesce: float, seed: int, homework_digest: bool) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="notifier-day-"))
    db_url = f"sqlite+aiosqlite:///{tmp / 'day.db'}"
    await asyncio.to_thread(upgrade, db_url)
    rng = random.Random(seed)
    with EmbeddedRedis(tmp, persistent=False) as redis:
        settings = Settings(
            database_url=db_url, redis_url=redis.url, data_dir=tmp, coalesce_seconds=coalesce
        )
        clock = SimClock(MSK_08 - timedelta(hours=1))
        runtime = build_runtime(settings, clock=clock)
        try:
            async with runtime.sessions() as s:
                school = await service.put_school(
                    session=s, school_id="s1", body=SchoolIn(name="Школа")
                )
                if homework_digest:  # the admin's "homework as an evening digest"
                    school.subscriptions = {"categories": {"homework": "digest"}}
                    await s.commit()
                await service.put_class(
                    session=s, class_id="c1", body=ClassIn(school_id="s1", name="7Б")
                )
                guardian = 0
                for i in range(PUPILS):
                    await service.put_student(
                        session=s,
                        student_id=f"p{i}",
                        body=StudentIn(
                            school_id="s1", class_id="c1", full_name=f"Иванов Ученик{i}"
                        ),
                    )
                    for _ in range(2 if i % 2 == 0 else 1):  # 45 guardians
                        gid = f"g{guardian}"
                        guardian += 1
                        await service.put_guardian(
                            session=s,
                            guardian_id=gid,
                            body=GuardianIn(
                                full_name="Родитель",
                                email=f"{gid}@day.example.org",
                                student_ids=[f"p{i}"],
                            ),
                        )
                        await service.grant_consent(
                            session=s, guardian_id=gid, document="д", by_token=None
                        )
            events = school_day(rng)
            for i, (at, type_, data) in enumerate(events):
                clock.now = at
                await publish(
                    runtime.redis,
                    [
                        JournalEventIn(
                            source="/day", id=f"e{i}", type=type_, time=at, data=dict(data)
                        )
                    ],
                )
                await run_until_idle(runtime)
            end = MSK_08 + timedelta(days=1, minutes=5)
            while clock.now < end:  # the rest of the day and the night, a minute at a time
                clock.now += timedelta(minutes=1)
                await run_until_idle(runtime)
            async with runtime.sessions() as s:
                messages = await s.scalar(
                    select(func.count(func.distinct(DeliveryAttempt.provider_id))).where(
                        DeliveryAttempt.outcome == "sent"
                    )
                )
                per_guardian = Counter(
                    dict(
                        (
                            await s.execute(
                                select(
                                    Notification.guardian_id,
                                    func.count(func.distinct(DeliveryAttempt.provider_id)),
                                )
                                .join(
                                    DeliveryAttempt,
                                    DeliveryAttempt.notification_id == Notification.id,
                                )
                                .where(DeliveryAttempt.outcome == "sent")
                                .group_by(Notification.guardian_id)
                            )
                        ).all()
                    )
                )
                pending = await s.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.status == "pending")
                )
        finally:
            await runtime.close()
    values = [per_guardian.get(f"g{g}", 0) for g in range(guardian)]
    return {
        "events": len(events),
        "guardians": guardian,
        "messages": float(messages or 0),
        "per_guardian_median": statistics.median(values),
        "per_guardian_max": max(values),
        "pending": float(pending or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--coalesce", type=float, default=60)
    args = parser.parse_args()
    for window, digest in ((args.coalesce, False), (0.0, False), (args.coalesce, True)):
        r = asyncio.run(run(window, args.seed, digest))
        label = " + homework digest" if digest else ""
        print(
            f"coalesce {window:>3.0f} s{label}: {r['events']} journal events, class of {PUPILS} "
            f"({r['guardians']} guardians) -> {r['messages']:.0f} messages; per guardian "
            f"median {r['per_guardian_median']:.1f}, max {r['per_guardian_max']}; "
            f"left pending {r['pending']:.0f}"
        )


if __name__ == "__main__":
    main()
