"""`notifier demo`: a small school, a school day of journal events, and where the messages went."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from notifier.config import Settings
from notifier.db.models import Notification
from notifier.events.schema import JournalEventIn
from notifier.events.stream import publish
from notifier.roster import service
from notifier.roster.schemas import ClassIn, GuardianIn, SchoolIn, StaffIn, StudentIn
from notifier.runtime import build_runtime, run_until_idle

SCHOOL = "demo-school-17"
SOURCE = "/journal/demo-school-17"
PUPILS = {
    "demo-p1": ("demo-7b", "Смирнова Анна Сергеевна"),
    "demo-p2": ("demo-7b", "Кузнецов Иван Петрович"),
    "demo-p3": ("demo-7b", "Попов Артём Ильич"),
    "demo-p4": ("demo-5a", "Смирнов Миша Сергеевич"),
}
# guardian id: (name, email, phone, pupils, consent)
GUARDIANS: dict[str, tuple[str, str | None, str | None, list[str], bool]] = {
    "demo-g1": ("Смирнова Ольга", "olga@example.org", None, ["demo-p1", "demo-p4"], True),
    "demo-g2": ("Кузнецов Пётр", "petr@example.org", "+79161234567", ["demo-p2"], True),
    "demo-g3": ("Кузнецова Мария", "maria@example.org", None, ["demo-p2"], False),
    "demo-g4": ("Попова Елена", None, "+79031112233", ["demo-p3"], True),
}


def _events(day: str, run: str = "") -> list[dict[str, Any]]:
    marks = [
        ("demo-p1", "Алгебра", "5"),
        ("demo-p1", "Геометрия", "4"),
        ("demo-p2", "Алгебра", "3"),
        ("demo-p3", "Алгебра", "4"),
        ("demo-p4", "Окружающий мир", "5"),
    ]
    out: list[dict[str, Any]] = [
        {
            "type": "journal.mark.created",
            "data": {
                "mark_id": f"{run}m{i}",
                "student_id": s,
                "subject": subj,
                "value": v,
                "work_type": "Контрольная работа",
                "weight": 2,
                "lesson_date": day,
                "teacher": "Иванова Н. П.",
            },
        }
        for i, (s, subj, v) in enumerate(marks, 1)
    ]
    out += [
        {
            "type": "journal.homework.assigned",
            "data": {
                "homework_id": "hw1",
                "class_id": "demo-7b",
                "subject": "Алгебра",
                "text": "§12, № 341–345",
                "due_date": day,
                "lesson_date": day,
            },
        },
        {
            "type": "journal.attendance.recorded",
            "data": {
                "student_id": "demo-p2",
                "lesson_date": day,
                "status": "late",
                "lesson_number": 1,
                "minutes_late": 10,
            },
        },
        {
            "type": "journal.schedule.changed",
            "data": {
                "class_id": "demo-5a",
                "date": day,
                "change": "replaced",
                "lesson_number": 3,
                "subject": "Музыка",
                "substitute_teacher": "Петрова А. В.",
            },
        },
        {
            "type": "journal.comment.created",
            "data": {
                "student_id": "demo-p1",
                "text": "Отлично работала на уроке <молодец> & помогала другим.",
                "teacher": "Иванова Н. П.",
                "subject": "Алгебра",
            },
        },
        {
            "type": "journal.mark.updated",
            "data": {
                "mark_id": f"{run}m2",
                "student_id": "demo-p2",
                "subject": "Алгебра",
                "value": "4",
                "old_value": "3",
                "changed_by": "Иванова Н. П.",
                "reason": "пересдача",
            },
        },
        {"type": "journal.unknown.thing", "data": {"x": 1}},
        {
            "type": "journal.mark.created",
            "data": {
                "mark_id": f"{run}m9",
                "student_id": "not-on-roster",
                "subject": "Физика",
                "value": "5",
            },
        },
    ]
    return out


async def load_demo_roster(settings: Settings) -> None:
    """The demo school, classes, pupils and guardians (three of four with consent)."""
    runtime = build_runtime(settings)
    try:
        async with runtime.sessions() as s:
            await service.put_school(
                session=s, school_id=SCHOOL, body=SchoolIn(name="Демо-школа № 17")
            )
            await service.put_staff(
                session=s,
                staff_id="demo-t1",
                body=StaffIn(school_id=SCHOOL, full_name="Иванова Нина Петровна"),
            )
            for cid, name in (("demo-7b", "7Б"), ("demo-5a", "5А")):
                await service.put_class(
                    session=s,
                    class_id=cid,
                    body=ClassIn(school_id=SCHOOL, name=name, class_teacher_id="demo-t1"),
                )
            for pid, (cid, name) in PUPILS.items():
                await service.put_student(
                    session=s,
                    student_id=pid,
                    body=StudentIn(school_id=SCHOOL, class_id=cid, full_name=name),
                )
            for gid, (name, email, phone, pupils, consent) in GUARDIANS.items():
                await service.put_guardian(
                    session=s,
                    guardian_id=gid,
                    body=GuardianIn(full_name=name, email=email, phone=phone, student_ids=pupils),
                )
                if consent and await service.active_consent(session=s, guardian_id=gid) is None:
                    await service.grant_consent(
                        session=s, guardian_id=gid, document="Заявление (демо)", by_token=None
                    )
    finally:
        await runtime.close()


class DemoClock:
    """The demo's own time: it walks through a school day instead of waiting for one."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def run_demo(settings: Settings, *, echo: Callable[[str], Any] = print) -> dict[str, int]:
    """Load the roster, replay the day through the stream, deliver, and report."""
    await load_demo_roster(settings)
    zone = ZoneInfo("Europe/Moscow")
    day = datetime.now(zone).date()
    clock = DemoClock(datetime.combine(day, time(8, 30), zone).astimezone(UTC))
    run = uuid4().hex[:8]  # each replay is a new school day, with new marks
    started = clock.now
    runtime = build_runtime(settings, clock=clock)
    try:
        for i, e in enumerate(_events(day.isoformat(), run)):
            # The teacher enters the first lesson's marks in one burst, the rest come later.
            burst = e["type"] == "journal.mark.created" and i < 5
            clock.now = started + (timedelta(seconds=i) if burst else timedelta(minutes=25 * i))
            event = JournalEventIn(
                source=SOURCE, id=f"demo-{run}-{i}", type=e["type"], time=clock.now, data=e["data"]
            )
            await publish(runtime.redis, [event] if i % 3 else [event, event])  # re-sent: once
            await run_until_idle(runtime)
        # Then the rest of the day: coalescing windows close, quiet hours end.
        for _ in range(100):
            async with runtime.sessions() as s:
                due = await s.scalar(
                    select(func.min(Notification.due_at)).where(
                        Notification.status == "pending", Notification.guardian_id.in_(GUARDIANS)
                    )
                )
            if due is None or due > started + timedelta(days=2):
                break
            clock.now = max(clock.now, due)
            await run_until_idle(runtime)
        async with runtime.sessions() as s:
            rows = list(
                await s.scalars(
                    select(Notification)
                    .where(
                        Notification.guardian_id.in_(GUARDIANS), Notification.created_at >= started
                    )
                    .order_by(Notification.id)
                )
            )
    finally:
        await runtime.close()
    echo(
        f"Replayed a school day of {len(_events(''))} journal events for {SCHOOL} "
        "(some sent twice by the journal: told once)."
    )
    counts: Counter[str] = Counter()
    for n in rows:
        label = (
            n.status
            + (f" by {n.channel}" if n.channel else "")
            + (f" ({n.reason})" if n.reason and n.status != "sent" else "")
        )
        counts[label] += 1
        at = f" at {n.sent_at.astimezone(zone):%H:%M}" if n.sent_at else ""
        echo(f"  notification {n.id}: guardian {n.guardian_id}, {n.kind}: {label}{at}")
    echo("Summary: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if not settings.smtp_enabled:
        echo(
            f"Emails are in {(settings.outbox_dir / 'email').resolve()}, "
            f"SMS in {(settings.outbox_dir / 'sms').resolve()}"
        )
    echo("Unmatched events (pupil not on the roster) are listed by GET /v1/events/unmatched.")
    return dict(counts)
