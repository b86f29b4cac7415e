"""Event → recipients: a pupil's (or a class's) guardians, with consent and preferences applied."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import Consent, GuardianStudent, Preference, SchoolClass, Student
from notifier.events.schema import JournalEventIn
from notifier.events.types import KINDS
from notifier.roster.preferences import EffectivePreferences, effective


@dataclass
class Roster:
    """The slice of the roster one batch of events needs, loaded with a handful of queries."""

    students: dict[str, Student] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)
    class_students: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    guardians_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    consented: set[str] = field(default_factory=set)
    preferences: dict[str, EffectivePreferences] = field(default_factory=dict)

    def prefs(self, guardian_id: str) -> EffectivePreferences:
        return self.preferences.get(guardian_id) or effective(None)


@dataclass(frozen=True)
class Target:
    guardian_id: str
    student_id: str
    status: str  # pending | skipped
    reason: str | None


@dataclass(frozen=True)
class Plan:
    status: str  # planned | unmatched | ignored
    detail: str | None
    category: str | None = None
    kind: str | None = None
    targets: tuple[Target, ...] = ()


async def load_roster(*, session: AsyncSession, events: Iterable[JournalEventIn]) -> Roster:
    """Everything the planner will ask about these events, in one query per table."""
    student_ids: set[str] = set()
    class_ids: set[str] = set()
    for ev in events:
        if ev.type not in KINDS:
            continue
        if sid := ev.data.get("student_id"):
            student_ids.add(sid)
        student_ids.update(ev.data.get("student_ids") or ())
        if cid := ev.data.get("class_id"):
            class_ids.add(cid)
    roster = Roster()
    if class_ids:
        roster.classes = set(
            await session.scalars(select(SchoolClass.id).where(SchoolClass.id.in_(class_ids)))
        )
        for student in await session.scalars(
            select(Student).where(Student.class_id.in_(class_ids))
        ):
            roster.students[student.id] = student
            if student.class_id is not None:
                roster.class_students[student.class_id].append(student.id)
    missing = student_ids - roster.students.keys()
    if missing:
        for student in await session.scalars(select(Student).where(Student.id.in_(missing))):
            roster.students[student.id] = student
    if not roster.students:
        return roster
    links = await session.execute(
        select(GuardianStudent.student_id, GuardianStudent.guardian_id).where(
            GuardianStudent.student_id.in_(roster.students.keys())
        )
    )
    guardian_ids: set[str] = set()
    for student_id, guardian_id in links:
        roster.guardians_of[student_id].append(guardian_id)
        guardian_ids.add(guardian_id)
    for ids in roster.guardians_of.values():
        ids.sort()
    if guardian_ids:
        roster.consented = set(
            await session.scalars(
                select(Consent.guardian_id).where(
                    Consent.guardian_id.in_(guardian_ids), Consent.revoked_at.is_(None)
                )
            )
        )
        for pref in await session.scalars(
            select(Preference).where(Preference.guardian_id.in_(guardian_ids))
        ):
            roster.preferences[pref.guardian_id] = effective(pref)
    return roster


def _pupils(ev: JournalEventIn, roster: Roster) -> list[str] | str:
    """The pupils an event is about, or the reason it matches nobody we know."""
    data: dict[str, Any] = ev.data
    if "class_id" in data:
        if data["class_id"] not in roster.classes:
            return f"unknown class {data['class_id']!r}"
        chosen = data.get("student_ids")
        if chosen:
            unknown = sorted(set(chosen) - roster.students.keys())
            if unknown:
                return f"unknown pupil(s) {unknown}"
            return list(dict.fromkeys(chosen))
        return sorted(roster.class_students.get(data["class_id"], []))
    student_id = data["student_id"]
    if student_id not in roster.students:
        return f"unknown pupil {student_id!r}"
    return [student_id]


def plan_event(ev: JournalEventIn, roster: Roster) -> Plan:
    """Who hears about one event, and whether they may (consent, preferences)."""
    kind = KINDS.get(ev.type)
    if kind is None:
        return Plan("ignored", f"unknown type {ev.type!r}: recorded, no message")
    if ev.type == "journal.attendance.recorded" and ev.data.get("status") == "present":
        return Plan("ignored", "presence is not reported")
    pupils = _pupils(ev, roster)
    if isinstance(pupils, str):
        return Plan("unmatched", pupils, kind.category, kind.template)
    targets: list[Target] = []
    seen: set[str] = set()
    for student_id in pupils:
        for guardian_id in roster.guardians_of.get(student_id, ()):
            if guardian_id in seen:
                continue  # one message per event and guardian, even with two children in a class
            seen.add(guardian_id)
            if guardian_id not in roster.consented:
                targets.append(Target(guardian_id, student_id, "skipped", "no_consent"))
            elif roster.prefs(guardian_id).mode(kind.category, student_id) == "off":
                targets.append(Target(guardian_id, student_id, "skipped", "opted_out"))
            else:
                targets.append(Target(guardian_id, student_id, "pending", None))
    detail = None if targets else "no guardians on the roster"
    return Plan("planned", detail, kind.category, kind.template, tuple(targets))


def notification_rows(event_pk: int, plan: Plan, now: datetime) -> list[dict[str, Any]]:
    """Outbox rows for a planned event (one per guardian)."""
    return [
        {
            "event_pk": event_pk,
            "guardian_id": t.guardian_id,
            "student_id": t.student_id,
            "category": plan.category,
            "kind": plan.kind,
            "status": t.status,
            "reason": t.reason,
            "due_at": now,
            "attempts": 0,
            "created_at": now,
        }
        for t in plan.targets
    ]
