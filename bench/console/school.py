"""The school the console is measured on: bench.region's generated roster for one school, its
staff (a class teacher per class, an admin), weeks of its journal stored and planned as the
consumer does, and announcements made and sent through the real services."""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import select

from bench.region.database import ZONE as REGION_ZONE
from bench.region.database import analyze, load_region
from bench.region.generate import DAY, DayEvent, Region, make_region, school_day
from notifier import announcements
from notifier.config import Settings, SmsProvider
from notifier.db.engine import SessionFactory
from notifier.db.models import Staff, Student
from notifier.delivery.intake import store_and_plan
from notifier.events.schema import JournalEventIn
from notifier.roster import service
from notifier.roster.schemas import ClassIn, StaffIn
from notifier.runtime import build_runtime
from notifier.signin import principal_of

ZONE = ZoneInfo(REGION_ZONE)  # the zone of load_region's schools
SCHOOL = "s0"
ADMIN = "admin"
BATCH = 500  # events per store_and_plan call, as a consumer batch


def teacher_of(class_id: str) -> str:
    return f"t{class_id}"


@dataclass(frozen=True)
class School:
    region: Region
    class_ids: list[str]
    events: int  # journal events stored
    report_id: str  # an announcement of the first class's teacher, sent


def roster(args: argparse.Namespace, rng: random.Random) -> Region:
    """bench.region's roster with one school: its channel mix and consent share."""
    sizes = argparse.Namespace(
        schools=1, classes=args.classes, pupils=args.pupils, guardians=round(args.pupils * 1.5)
    )
    return make_region(sizes, rng)


async def build(
    args: argparse.Namespace,
    database_url: str,
    sessions: SessionFactory,
    settings: Settings,
    now: datetime,
) -> School:
    rng = random.Random(args.seed)
    region = roster(args, rng)
    await load_region(database_url, region)
    class_ids = [c for c, _ in region.classes]
    await _staff(sessions, class_ids)
    days = school_days(now, args.weeks)
    stored = 0
    for day in days:
        stored += await _store_day(sessions, region, rng, day)
    report_id = await _announcements(sessions, settings, class_ids, days[0], now)
    await analyze(sessions)
    return School(region, class_ids, stored, report_id)


async def _staff(sessions: SessionFactory, class_ids: list[str]) -> None:
    """A class teacher with an email for every class, and the school's admin (PUT /v1/staff's
    and PUT /v1/classes's service)."""
    async with sessions() as s:
        await service.put_staff(
            session=s,
            staff_id=ADMIN,
            body=StaffIn(
                school_id=SCHOOL,
                full_name="Смирнова Ольга Ивановна",
                role="admin",
                email="admin@school.example.org",
            ),
        )
        for i, class_id in enumerate(class_ids):
            staff_id = teacher_of(class_id)
            await service.put_staff(
                session=s,
                staff_id=staff_id,
                body=StaffIn(
                    school_id=SCHOOL,
                    full_name="Петрова Анна Сергеевна",
                    email=f"{staff_id}@school.example.org",
                ),
            )
            # 5А … 11Д: a school of 50 classes has five of each grade from the fifth on.
            name = f"{5 + (i // 5) % 7}{'АБВГД'[i % 5]}"
            body = ClassIn(school_id=SCHOOL, name=name, class_teacher_id=staff_id)
            await service.put_class(session=s, class_id=class_id, body=body)


def school_days(now: datetime, weeks: int) -> list[date]:
    """Monday to Friday from `weeks` weeks before this one up to yesterday."""
    today = now.astimezone(ZONE).date()
    first = today - timedelta(days=today.weekday() + 7 * weeks)
    span = (today - first).days
    return [d for d in (first + timedelta(days=n) for n in range(span)) if d.weekday() < 5]


def _dated(event: DayEvent, day: date) -> dict[str, Any]:
    """bench.region's day moved to `day`: its dates, its mark and homework ids made unique to
    the day, and its subjects without the event number (a summary groups marks by subject)."""
    data = dict(event.data)
    for key, value in event.data.items():
        if value == DAY:
            data[key] = day.isoformat()
        elif key == "due_date":
            data[key] = (day + timedelta(days=1)).isoformat()
        elif key in ("mark_id", "homework_id"):
            data[key] = f"{day.isoformat()}:{value}"
        elif key == "subject":
            data[key] = str(value).partition(" №")[0]
    return data


async def _store_day(
    sessions: SessionFactory, region: Region, rng: random.Random, day: date
) -> int:
    """One school day of the journal, stored and planned in time order, in consumer-sized
    batches, each at the time its last event came in."""
    eight = datetime.combine(day, time(8, 0), tzinfo=ZONE)
    events = [
        JournalEventIn(
            source="/bench/console",
            id=f"{day.isoformat()}:{i}",
            type=e.type,
            time=(eight + timedelta(seconds=e.at)).astimezone(UTC),
            data=_dated(e, day),
        )
        for i, e in enumerate(school_day(region, rng))
    ]
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        received = batch[-1].time
        assert received is not None
        async with sessions() as s:
            await store_and_plan(session=s, events=batch, now=received + timedelta(seconds=1))
    return len(events)


async def _announcements(
    sessions: SessionFactory,
    settings: Settings,
    class_ids: list[str],
    first_day: date,
    now: datetime,
) -> str:
    """Every class teacher announces to their class on the Sunday before the journal's weeks
    (the first class's teacher also to five pupils), and the dispatcher sends them on that
    Sunday's clock, so the journal's later rows stay unsent; the first teacher then schedules
    one for next week and cancels another: every status of the report page."""
    sunday = datetime.combine(first_day - timedelta(days=1), time(18, 0), tzinfo=ZONE)
    first = class_ids[0]
    async with sessions() as s:
        pupils = list(
            await s.scalars(
                select(Student.id).where(Student.class_id == first).order_by(Student.id).limit(5)
            )
        )

    async def announce(
        class_id: str, text: str, at: datetime, *, pupil_ids: list[str] | None = None, **more: Any
    ) -> str:
        async with sessions() as s:
            staff = await s.get(Staff, teacher_of(class_id))
            assert staff is not None
            audience = {"student_ids": pupil_ids} if pupil_ids else {"class_ids": [class_id]}
            body = announcements.AnnouncementIn.model_validate(
                {"audience": audience, "text": text, **more}
            )
            made = await announcements.create(
                session=s,
                principal=principal_of(staff),
                body=body,
                idempotency_key=None,
                now=at,
                public_url=settings.public_url,
            )
            return made.announcement.id

    report_id = await announce(first, "Родительское собрание в четверг в 18:00, каб. 21.", sunday)
    await announce(first, "Завтра экскурсия в музей: сбор в 8:30.", sunday, pupil_ids=pupils)
    for class_id in class_ids[1:]:
        await announce(class_id, "Родительское собрание в пятницу в 18:30.", sunday)
    await _dispatch(sessions, settings, sunday + timedelta(minutes=1))
    later = now + timedelta(days=3)
    await announce(first, "Напоминаем о сдаче учебников.", now, send_at=later.isoformat())
    cancelled = await announce(first, "Перенос собрания.", now, send_at=later.isoformat())
    async with sessions() as s:
        staff = await s.get(Staff, teacher_of(first))
        assert staff is not None
        principal = principal_of(staff)
        item = await announcements.get(session=s, principal=principal, ident=cancelled)
        await announcements.cancel(session=s, announcement=item)
    return report_id


async def _dispatch(sessions: SessionFactory, settings: Settings, clock: datetime) -> None:
    """The worker's dispatcher, in this process, on a fixed clock: only what was due then."""
    runtime = build_runtime(settings, clock=lambda: clock)
    try:
        dispatcher = runtime.dispatcher()
        while (await dispatcher.run()).claimed:
            pass
    finally:
        await runtime.close()


def dispatch_settings(
    database_url: str, redis_url: str, folder: Path, telegram: dict[str, Any]
) -> Settings:
    """Email and SMS to the file outbox, Telegram to the local Bot API server, no rate limits;
    nothing from the environment or a .env file (a real SMTP relay there must not get mail)."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        redis_url=redis_url,
        data_dir=folder / "var",
        telegram_token=SecretStr(telegram["token"]),
        telegram_api_base=telegram["api_base"],
        smtp_host=None,
        sms_provider=SmsProvider.file,
        telegram_rate_per_second=0,
        telegram_chat_interval_seconds=0,
        smtp_rate_per_second=0,
        sms_rate_per_second=0,
        coalesce_seconds=0,
    )
