"""A pupil's marks and attendance for a period, from the stored journal events: each mark in its
final state (corrections applied, deleted marks gone), per subject with the average and the
weighted average (REQUIREMENTS: the weekly summary, 002 §4.14)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import JournalEvent
from notifier.db.states import EventStatus

MARK_TYPES = ("journal.mark.created", "journal.mark.updated", "journal.mark.deleted")
ATTENDANCE = "journal.attendance.recorded"


@dataclass(frozen=True)
class Mark:
    subject: str
    value: str
    weight: float
    day: date | None
    work_type: str | None = None

    @property
    def points(self) -> float | None:
        """The mark as a number for averages: "5", "4-", "3+" count as 5, 4, 3; "н", "зач" none."""
        head = self.value.strip()[:1]
        return float(head) if head.isdigit() and 1 <= int(head) <= 5 else None


@dataclass
class Subject:
    name: str
    marks: list[Mark] = field(default_factory=list)

    @property
    def average(self) -> float | None:
        points = [p for m in self.marks if (p := m.points) is not None]
        return sum(points) / len(points) if points else None

    @property
    def weighted(self) -> float | None:
        pairs = [(p, m.weight) for m in self.marks if (p := m.points) is not None]
        total = sum(w for _, w in pairs)
        return sum(p * w for p, w in pairs) / total if total else None


@dataclass
class Report:
    student_id: str
    start: date
    end: date  # inclusive
    subjects: list[Subject] = field(default_factory=list)
    absent: int = 0
    excused: int = 0
    late: int = 0


def week_of(moment: datetime, zone: str, *, previous: bool = False) -> tuple[date, date]:
    """Monday to Sunday of the school week `moment` falls in (the week before, if `previous`)."""
    today = moment.astimezone(ZoneInfo(zone)).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(days=7 if previous else 0)
    return monday, monday + timedelta(days=6)


# Russian school terms (четверти) start about here; a term runs until the next one starts.
TERM_STARTS = ((9, 1), (11, 1), (1, 9), (4, 1))


def term_of(moment: datetime, zone: str) -> tuple[date, date]:
    """From the start of the school term `moment` falls in, to that day."""
    today = moment.astimezone(ZoneInfo(zone)).date()
    starts = [
        date(year, month, day)
        for year in (today.year - 1, today.year)
        for month, day in TERM_STARTS
    ]
    return max(s for s in starts if s <= today), today


def _day(data: dict[str, Any], fallback: datetime | None) -> date | None:
    raw = data.get("lesson_date")
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            pass
    return fallback.date() if fallback else None


def _weight(data: dict[str, Any], default: float) -> float:
    value = data.get("weight")
    try:
        weight = float(value) if value is not None else default
    except (TypeError, ValueError):
        return default
    return weight if weight > 0 else default


async def pupil_report(*, session: AsyncSession, student_id: str, start: date, end: date) -> Report:
    """Marks whose lesson falls in [start, end], and the period's absences and lateness."""
    rows = await session.execute(
        select(JournalEvent.type, JournalEvent.data, JournalEvent.time, JournalEvent.received_at)
        .where(
            JournalEvent.type.in_((*MARK_TYPES, ATTENDANCE)),
            JournalEvent.student_id == student_id,
            JournalEvent.status != EventStatus.refused,
        )
        .order_by(JournalEvent.pk)
    )
    marks: dict[str, Mark] = {}
    report = Report(student_id, start, end)
    for type_, data, time_, received in rows:
        when = time_ or received
        if type_ == ATTENDANCE:
            day = _day(data, when)
            if day is not None and start <= day <= end:
                status = data.get("status")
                if status in ("absent", "excused", "late"):
                    setattr(report, status, getattr(report, status) + 1)
            continue
        mark_id = str(data.get("mark_id"))
        if type_ == "journal.mark.deleted":
            marks.pop(mark_id, None)
            continue
        before = marks.get(mark_id)
        marks[mark_id] = Mark(
            subject=str(data.get("subject") or (before.subject if before else "")),
            value=str(data.get("value") or ""),
            weight=_weight(data, before.weight if before else 1.0),
            day=_day(data, None) or (before.day if before else None) or _day({}, when),
            work_type=data.get("work_type") or (before.work_type if before else None),
        )
    by_subject: dict[str, Subject] = defaultdict(lambda: Subject(""))
    for mark in marks.values():
        if mark.day is not None and start <= mark.day <= end:
            subject = by_subject[mark.subject]
            subject.name = mark.subject
            subject.marks.append(mark)
    for subject in by_subject.values():
        subject.marks.sort(key=lambda m: m.day or start)
    report.subjects = sorted(by_subject.values(), key=lambda s: s.name)
    return report
