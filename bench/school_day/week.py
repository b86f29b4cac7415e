"""A school of a few classes and its week of journal events: what a teacher's day puts in the
electronic journal, Monday to Friday, in time order."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Moscow")  # the schools' default time zone
MONDAY = date(2026, 11, 23)
SIBLING_SHARE = 1 / 12  # guardians who also have a child in another class of the school
SMS_ONLY_SHARE = 0.15  # guardians with a phone and no email
LAST_ENTRY = time(20, 50)  # teachers' entries end before the quiet hours (21:00)

MARK_VALUES = ("5", "4", "3", "2")
MARK_WEIGHTS = (35, 35, 20, 10)
LESSON_WORK = ("Ответ на уроке", "Работа на уроке", "Самостоятельная работа", "Домашняя работа")
TEST_WORK = "Контрольная работа"
TEACHERS = ("Сидорова Е. В.", "Петрова А. А.", "Козлов И. Н.", "Орлова Т. С.")
COMMENTS = (
    "Активно работал(а) на уроке",
    "Не выполнил(а) домашнее задание",
    "Забыл(а) тетрадь и учебник",
    "Отлично подготовил(а) доклад",
    "Отвлекался(ась), мешал(а) соседям",
)


@dataclass(frozen=True)
class ClassPlan:
    """A class and its timetable's shape: how many lessons a day, of which subjects."""

    id: str
    name: str
    lessons: tuple[int, int]  # fewest and most lessons a day
    subjects: tuple[str, ...]
    pupils: tuple[str, ...] = ()


@dataclass(frozen=True)
class Guardian:
    id: str
    pupils: tuple[str, ...]
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Entry:
    """One journal event: when the journal sent it (UTC), its CloudEvent type and data."""

    at: datetime
    type: str
    data: dict[str, Any]


@dataclass
class School:
    classes: list[ClassPlan]
    guardians: list[Guardian]
    names: dict[str, str] = field(default_factory=dict)  # pupil id -> full name

    def class_of(self, pupil: str) -> ClassPlan:
        return next(k for k in self.classes if pupil in k.pupils)


SHAPES = (
    ClassPlan(
        "c7b",
        "7Б",
        (5, 7),
        (
            "Алгебра",
            "Геометрия",
            "Русский язык",
            "Литература",
            "История",
            "Физика",
            "Биология",
            "География",
            "Английский язык",
            "Информатика",
        ),
    ),
    ClassPlan(
        "c3a",
        "3А",
        (4, 5),
        (
            "Математика",
            "Русский язык",
            "Литературное чтение",
            "Окружающий мир",
            "Английский язык",
            "Музыка",
            "Технология",
        ),
    ),
)


def make_school(rng: random.Random, *, pupils: int, classes: int = 2) -> School:
    """Classes of `pupils` each; one or two guardians a pupil; about one guardian in twelve
    with a second child in another class (or, with one class, in the same one); about one in
    seven reachable by SMS only, the rest by email."""
    plans = [
        ClassPlan(
            f"{s.id}-{n}" if n else s.id,
            s.name,
            s.lessons,
            s.subjects,
            tuple(f"{s.id}{'-' + str(n) if n else ''}p{i}" for i in range(pupils)),
        )
        for n, s in ((i // len(SHAPES), SHAPES[i % len(SHAPES)]) for i in range(classes))
    ]
    school = School(plans, [])
    for plan in plans:
        for i, pupil in enumerate(plan.pupils):
            school.names[pupil] = f"Иванов{i} Ученик{i}"
    every = [p for plan in plans for p in plan.pupils]
    count = itertools.count()
    for plan in plans:
        for pupil in plan.pupils:
            for _ in range(rng.choice((1, 2))):
                n = next(count)
                children = [pupil]
                if rng.random() < SIBLING_SHARE:
                    others = [p for p in every if p not in plan.pupils] or [
                        p for p in plan.pupils if p != pupil
                    ]
                    if others:
                        children.append(rng.choice(others))
                sms_only = rng.random() < SMS_ONLY_SHARE
                school.guardians.append(
                    Guardian(
                        f"g{n}",
                        tuple(children),
                        None if sms_only else f"g{n}@day.example.org",
                        f"+7916{n:07d}" if sms_only else None,
                    )
                )
    return school


def _at(day: date, moment: time, seconds: float = 0.0) -> datetime:
    local = datetime.combine(day, moment, tzinfo=ZONE) + timedelta(seconds=seconds)
    latest = datetime.combine(day, LAST_ENTRY, tzinfo=ZONE)
    return min(local, latest).astimezone(UTC)


def _between(rng: random.Random, day: date, start: time, end: time) -> datetime:
    span = (datetime.combine(day, end) - datetime.combine(day, start)).total_seconds()
    return _at(day, start, rng.uniform(0, span))


def school_days(days: int) -> list[date]:
    """The first `days` school days from Monday (Monday to Friday, then the next week)."""
    out: list[date] = []
    day = MONDAY
    while len(out) < days:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def class_day(
    rng: random.Random, plan: ClassPlan, day: date, next_day: date, ids: itertools.count[int]
) -> list[Entry]:
    """One class's school day in the journal."""
    out: list[Entry] = []
    iso = day.isoformat()
    subjects = rng.sample(plan.subjects, rng.randint(*plan.lessons))
    first_bell = time(8, 30)

    def lesson(k: int, minutes: float) -> datetime:  # `minutes` into the k-th lesson
        return _at(day, first_bell, 60 * (55 * k + minutes))

    def attendance(at: datetime, pupil: str, status: str, k: int) -> None:
        data: dict[str, Any] = {"student_id": pupil, "lesson_date": iso, "status": status}
        data |= {"lesson_number": k + 1, "subject": subjects[k]}
        if status == "late":
            data["minutes_late"] = rng.randint(3, 20)
        out.append(Entry(at, "journal.attendance.recorded", data))

    # Absences and lateness at the first lesson; now and then lateness to a later one.
    for pupil in plan.pupils:
        r = rng.random()
        if r < 0.07:
            attendance(lesson(0, rng.uniform(2, 15)), pupil, "absent" if r < 0.05 else "late", 0)
        for k in range(1, len(subjects)):
            if rng.random() < 0.01:
                attendance(lesson(k, rng.uniform(2, 10)), pupil, "late", k)

    marks: list[Entry] = []

    def mark(at: datetime, pupil: str, subject: str, work: str, weight: int | None) -> None:
        data: dict[str, Any] = {
            "mark_id": f"m{next(ids)}",
            "student_id": pupil,
            "subject": subject,
            "value": rng.choices(MARK_VALUES, MARK_WEIGHTS)[0],
            "work_type": work,
            "lesson_date": iso,
            "teacher": rng.choice(TEACHERS),
        }
        if weight is not None:
            data["weight"] = weight
        entry = Entry(at, "journal.mark.created", data)
        out.append(entry)
        marks.append(entry)

    for k, subject in enumerate(subjects):
        # Most teachers enter a lesson's marks in a burst after the bell, some in the afternoon.
        if rng.random() < 0.7:
            burst = lesson(k, 45 + rng.uniform(0, 5))
        else:
            burst = _between(rng, day, time(15, 0), time(20, 30))
        for i, pupil in enumerate(
            rng.sample(plan.pupils, min(len(plan.pupils), rng.randint(3, 8)))
        ):
            mark(burst + timedelta(seconds=5 * i), pupil, subject, rng.choice(LESSON_WORK), None)
        if rng.random() < 0.85:  # homework after the lesson, or in the evening
            at = (
                lesson(k, 45 + rng.uniform(1, 10))
                if rng.random() < 0.7
                else _between(rng, day, time(17, 0), time(20, 30))
            )
            text = (
                f"§{rng.randint(1, 40)}, упражнения {rng.randint(1, 300)}–{rng.randint(301, 400)}"
            )
            if rng.random() < 0.3:
                text += ", повторить правила и выучить определения"
            data: dict[str, Any] = {
                "homework_id": f"h{next(ids)}",
                "class_id": plan.id,
                "subject": subject,
                "text": text,
                "due_date": next_day.isoformat(),
                "lesson_date": iso,
            }
            out.append(Entry(at, "journal.homework.assigned", data))

    if rng.random() < 0.35:  # a test's results for most of the class, in the afternoon
        subject = rng.choice(subjects)
        burst = _between(rng, day, time(14, 0), time(19, 0))
        tested = rng.sample(plan.pupils, max(1, len(plan.pupils) * 4 // 5))
        for i, pupil in enumerate(tested):
            mark(burst + timedelta(seconds=8 * i), pupil, subject, TEST_WORK, 2)

    if rng.random() < 0.2:  # a period mark now and then
        for pupil in rng.sample(plan.pupils, min(len(plan.pupils), rng.randint(1, 3))):
            data = {
                "student_id": pupil,
                "subject": rng.choice(subjects),
                "period": "I триместр",
                "value": rng.choices(MARK_VALUES, MARK_WEIGHTS)[0],
            }
            out.append(
                Entry(
                    _between(rng, day, time(15, 0), time(19, 0)),
                    "journal.period_mark.created",
                    data,
                )
            )

    corrected, deleted = rng.sample(marks, 2) if len(marks) >= 2 else (None, None)
    if corrected is not None:  # a mark corrected later, after the parent heard of it
        old = corrected.data["value"]
        data = {
            "mark_id": corrected.data["mark_id"],
            "student_id": corrected.data["student_id"],
            "subject": corrected.data["subject"],
            "value": "4" if old != "4" else "5",
            "old_value": old,
            "changed_by": corrected.data["teacher"],
        }
        later = corrected.at + timedelta(minutes=rng.uniform(20, 180))
        out.append(Entry(min(later, _at(day, LAST_ENTRY)), "journal.mark.updated", data))
    if deleted is not None:  # a mark deleted: at once (a slip of the hand), or hours later
        data = {"mark_id": deleted.data["mark_id"], "student_id": deleted.data["student_id"]}
        after = rng.uniform(10, 40) if rng.random() < 0.5 else rng.uniform(3600, 4 * 3600)
        later = deleted.at + timedelta(seconds=after)
        out.append(Entry(min(later, _at(day, LAST_ENTRY)), "journal.mark.deleted", data))

    if rng.random() < 0.5:  # a timetable change: today's before the first bell, or tomorrow's
        today = rng.random() < 0.5
        data = {
            "class_id": plan.id,
            "date": (day if today else next_day).isoformat(),
            "change": rng.choice(("replaced", "cancelled", "room_changed")),
            "lesson_number": rng.randint(2, 5),
            "subject": rng.choice(plan.subjects),
        }
        if data["change"] == "replaced":
            data["substitute_teacher"] = rng.choice(TEACHERS)
        if data["change"] == "room_changed":
            data["room"] = str(rng.randint(101, 315))
        at = (
            _between(rng, day, time(7, 30), time(8, 20))
            if today
            else _between(rng, day, time(12, 0), time(19, 0))
        )
        out.append(Entry(at, "journal.schedule.changed", data))

    for pupil in rng.sample(plan.pupils, min(len(plan.pupils), rng.randint(0, 3))):
        data = {
            "student_id": pupil,
            "text": rng.choice(COMMENTS),
            "teacher": rng.choice(TEACHERS),
            "subject": rng.choice(subjects),
        }
        out.append(
            Entry(_between(rng, day, time(9, 0), time(19, 0)), "journal.comment.created", data)
        )
    return out


def week(rng: random.Random, school: School, days: int) -> list[Entry]:
    """Every class's journal through `days` school days, in time order."""
    calendar = school_days(days + 1)
    ids = itertools.count(1)
    entries: list[Entry] = []
    for day, next_day in itertools.pairwise(calendar):
        for plan in school.classes:
            entries.extend(class_day(rng, plan, day, next_day, ids))
    entries.sort(key=lambda e: e.at)
    return entries
