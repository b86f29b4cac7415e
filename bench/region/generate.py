"""A generated region (schools, classes, pupils, guardians with a mix of channels, consent) and
its school day of journal events, in time order."""

from __future__ import annotations

import argparse
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from notifier.events.schema import JournalEventIn

SUBJECTS = [
    "Алгебра",
    "Геометрия",
    "Русский язык",
    "Литература",
    "История",
    "Физика",
    "Химия",
    "Биология",
    "Английский язык",
    "География",
]
DAY = "2026-11-24"
# The messengers keep the 60 % Telegram alone had before MAX, a quarter of it now MAX's; and
# since the shares keep their order, the draw gives email, SMS and none to the same guardians.
CHANNEL_MIX = (
    ("telegram", 0.45),
    ("max", 0.15),
    ("email", 0.25),
    ("sms", 0.10),
    ("none", 0.05),
)
CONSENT_SHARE = 0.95


@dataclass
class Region:
    schools: list[str]
    classes: list[tuple[str, str]]  # (class id, school id)
    pupils: list[tuple[str, str, str]]  # (pupil id, class id, school id)
    guardians: list[dict[str, Any]]
    links: list[tuple[str, str]]  # (guardian id, pupil id)
    consented: list[str]
    channels: Counter[str] = field(default_factory=Counter)


def make_region(args: argparse.Namespace, rng: random.Random) -> Region:
    schools = [f"s{i}" for i in range(args.schools)]
    classes = [(f"c{i}", schools[i % len(schools)]) for i in range(args.classes)]
    pupils = []
    for i in range(args.pupils):
        class_id, school_id = classes[i % len(classes)]
        pupils.append((f"p{i}", class_id, school_id))
    guardians: list[dict[str, Any]] = []
    links: list[tuple[str, str]] = []
    channels: Counter[str] = Counter()
    # Every pupil has one guardian; the rest are second guardians of random pupils; about one
    # guardian in twelve also has a younger child in the same school (siblings).
    seconds = rng.sample(range(len(pupils)), max(0, args.guardians - len(pupils)))
    by_school: dict[str, list[str]] = defaultdict(list)
    for pupil_id, _, school_id in pupils:
        by_school[school_id].append(pupil_id)
    owners = list(range(len(pupils))) + seconds
    names = [name for name, _ in CHANNEL_MIX]
    weights = [share for _, share in CHANNEL_MIX]
    for g, p in enumerate(owners[: args.guardians]):
        gid = f"g{g}"
        channel = rng.choices(names, weights)[0]
        channels[channel] += 1
        row: dict[str, Any] = {
            "id": gid,
            "full_name": "Иванова Мария Петровна",
            "phone": None,
            "email": None,
            "telegram_chat_id": None,
            "max_user_id": None,
            "locale": "ru",
        }
        if channel == "telegram":
            row["telegram_chat_id"] = str(700_000_000 + g)
        elif channel == "max":
            row["max_user_id"] = str(90_000_000 + g)
        elif channel == "email":
            row["email"] = f"{gid}@region.example.org"
        elif channel == "sms":
            row["phone"] = f"+7916{g:07d}"
        guardians.append(row)
        links.append((gid, pupils[p][0]))
        if rng.random() < 1 / 12:
            sibling = rng.choice(by_school[pupils[p][2]])
            if sibling != pupils[p][0]:
                links.append((gid, sibling))
    consented = [g["id"] for g in guardians if rng.random() < CONSENT_SHARE]
    return Region(schools, classes, pupils, guardians, links, consented, channels)


@dataclass
class DayEvent:
    at: float  # seconds after 08:00
    type: str
    data: dict[str, Any]
    marker: int


def school_day(region: Region, rng: random.Random) -> list[DayEvent]:
    """Six lessons in every class: absences and lateness at the first bell, marks entered in a
    burst after each lesson, homework after it, a few corrections later, a few timetable
    changes in the morning. Ordered by time; markers number the lessons' subjects."""
    events: list[DayEvent] = []
    marker = 0

    def subject(name: str) -> tuple[str, int]:
        nonlocal marker
        marker += 1
        return f"{name} №{marker}", marker

    pupils_of: dict[str, list[str]] = defaultdict(list)
    for pupil_id, class_id, _ in region.pupils:
        pupils_of[class_id].append(pupil_id)
    marks: list[tuple[float, dict[str, Any], int]] = []
    for class_id, _ in region.classes:
        pupils = pupils_of[class_id]
        if not pupils:
            continue
        offset = rng.uniform(0, 120)  # classes do not all ring at one second
        lessons = rng.sample(SUBJECTS, 6)
        for pupil in pupils:
            r = rng.random()
            if r < 0.06:
                status = "absent" if r < 0.045 else "late"
                name, n = subject(lessons[0])
                data: dict[str, Any] = {"student_id": pupil, "lesson_date": DAY, "status": status}
                data |= {"lesson_number": 1, "subject": name}
                if status == "late":
                    data["minutes_late"] = rng.randint(3, 20)
                events.append(
                    DayEvent(offset + rng.uniform(300, 900), "journal.attendance.recorded", data, n)
                )
        if rng.random() < 0.05:
            name, n = subject(rng.choice(SUBJECTS))
            data = {"class_id": class_id, "date": DAY, "change": "replaced", "lesson_number": 4}
            data |= {"subject": name, "substitute_teacher": "Петрова А. А."}
            events.append(
                DayEvent(offset + rng.uniform(0, 1800), "journal.schedule.changed", data, n)
            )
        for lesson, lesson_subject in enumerate(lessons):
            bell = offset + lesson * 55 * 60 + 45 * 60
            for k, pupil in enumerate(rng.sample(pupils, min(len(pupils), rng.randint(4, 10)))):
                name, n = subject(lesson_subject)
                data = mark(n, pupil, name, rng)
                at = bell + 5 + 6 * k
                events.append(DayEvent(at, "journal.mark.created", data, n))
                marks.append((at, data, n))
            name, n = subject(lesson_subject)
            homework = {
                "homework_id": f"h{n}",
                "class_id": class_id,
                "subject": name,
                "text": "Параграф 12, упражнения 3–5; повторить правила.",
                "due_date": "2026-11-25",
            }
            events.append(DayEvent(bell + 240, "journal.homework.assigned", homework, n))
    # About one mark in forty is corrected later the same day (same mark: same marker).
    for at, data, n in rng.sample(marks, len(marks) // 40):
        update = {
            "mark_id": data["mark_id"],
            "student_id": data["student_id"],
            "subject": data["subject"],
            "value": "4" if data["value"] != "4" else "5",
            "old_value": data["value"],
            "changed_by": "Сидорова Е. В.",
        }
        events.append(DayEvent(at + rng.uniform(600, 7200), "journal.mark.updated", update, n))
    events.sort(key=lambda e: e.at)
    return events


def mark(marker: int, pupil: str, subject: str, rng: random.Random) -> dict[str, Any]:
    """A `journal.mark.created`'s data: its mark id is its marker, unique in the day."""
    return {
        "mark_id": f"m{marker}",
        "student_id": pupil,
        "subject": subject,
        "value": rng.choice("2345555444"),
        "work_type": "Ответ на уроке",
        "lesson_date": DAY,
    }


def telegram_pupils(region: Region) -> list[str]:
    """The pupils every message about whom goes by Telegram: each of their guardians with
    consent has a Telegram chat (a guardian without consent gets nothing), and there is at
    least one such guardian."""
    consented = set(region.consented)
    chat = {g["id"]: g["telegram_chat_id"] is not None for g in region.guardians}
    reads: dict[str, list[bool]] = defaultdict(list)
    for guardian, pupil in region.links:
        if guardian in consented:
            reads[pupil].append(chat[guardian])
    return [pupil for pupil, _, _ in region.pupils if reads[pupil] and all(reads[pupil])]


def more_marks(
    day: list[DayEvent], pupils: list[str], count: int, rng: random.Random
) -> list[DayEvent]:
    """`count` marks about `pupils` beyond the day, in the shape of its marks; their markers
    continue after the day's highest, so that a message still names one event."""
    first = max((e.marker for e in day), default=0) + 1
    end = max((e.at for e in day), default=0.0)
    events = []
    for k in range(count):
        n = first + k
        data = mark(n, rng.choice(pupils), f"{rng.choice(SUBJECTS)} №{n}", rng)
        events.append(DayEvent(end + 6 * (k + 1), "journal.mark.created", data, n))
    return events


def as_cloudevents(events: list[DayEvent], source: str) -> list[JournalEventIn]:
    return [
        JournalEventIn(source=source, id=f"e{i}", type=e.type, time=None, data=e.data)
        for i, e in enumerate(events)
    ]
