"""Event → recipients: a pupil's (or a class's) guardians, with consent and preferences applied."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.categories import Category, Mode
from notifier.db.models import Consent, GuardianStudent, Preference, School, SchoolClass, Student
from notifier.db.states import EventStatus, Reason, RowStatus
from notifier.delivery.timing import defer_past_quiet, next_digest
from notifier.events.schema import JournalEventIn
from notifier.events.types import KINDS
from notifier.roster.preferences import EffectivePreferences, PreferenceCache


@dataclass
class Roster:
    """The slice of the roster one batch of events needs, loaded with a handful of queries."""

    students: dict[str, Student] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)  # class id -> school id
    class_students: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    guardians_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    consented: set[str] = field(default_factory=set)
    preferences: dict[str, Preference] = field(default_factory=dict)
    schools: dict[str, School] = field(default_factory=dict)
    _prefs: PreferenceCache | None = None

    def prefs(self, guardian_id: str, student_id: str) -> EffectivePreferences:
        """The guardian's choices over the defaults of this pupil's school."""
        if self._prefs is None:  # made once the roster is loaded
            self._prefs = PreferenceCache(self.preferences, self.schools)
        student = self.students.get(student_id)
        return self._prefs.of(guardian_id, student.school_id if student else None)


@dataclass(frozen=True)
class Target:
    """Who hears of what, decided: pending (instant or digest), or skipped with a reason."""

    guardian_id: str
    student_id: str
    status: RowStatus
    reason: Reason | None
    mode: Mode = Mode.instant


@dataclass(frozen=True)
class Plan:
    status: EventStatus
    detail: str | None
    category: Category | None = None
    kind: str | None = None
    targets: tuple[Target, ...] = ()


@dataclass(slots=True)
class OutboxRow:
    """One message to one guardian, as planned: the only shape every producer (journal
    events, announcements, weekly summaries) writes to the outbox."""

    event_pk: int
    guardian_id: str
    student_id: str | None
    category: str
    kind: str
    status: RowStatus
    reason: Reason | None
    due_at: datetime
    group_key: str
    mode: Mode
    created_at: datetime

    def values(self) -> dict[str, Any]:
        """The row as `notifications` columns, for a bulk insert."""
        return {
            "event_pk": self.event_pk,
            "guardian_id": self.guardian_id,
            "student_id": self.student_id,
            "category": self.category,
            "kind": self.kind,
            "status": self.status,
            "reason": self.reason,
            "due_at": self.due_at,
            "group_key": self.group_key,
            "mode": self.mode,
            "attempts": 0,
            "created_at": self.created_at,
        }


def outbox_row(
    event_pk: int,
    target: Target,
    *,
    category: str,
    kind: str,
    due_at: datetime,
    group_key: str,
    now: datetime,
) -> OutboxRow:
    """The row for a decided target; a skipped one is due (and done) now."""
    return OutboxRow(
        event_pk,
        target.guardian_id,
        target.student_id,
        category,
        kind,
        target.status,
        target.reason,
        due_at if target.status is RowStatus.pending else now,
        group_key,
        target.mode,
        now,
    )


def named_in(events: Iterable[JournalEventIn]) -> tuple[set[str], set[str]]:
    """The pupils and classes a batch of journal events names (types we know only)."""
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
    return student_ids, class_ids


async def load_roster(
    *, session: AsyncSession, student_ids: Iterable[str] = (), class_ids: Iterable[str] = ()
) -> Roster:
    """Everything planning asks about these pupils and the pupils of these classes: one query
    per table."""
    student_ids, class_ids = set(student_ids), set(class_ids)
    roster = Roster()
    if class_ids:
        roster.classes = dict(
            (
                await session.execute(
                    select(SchoolClass.id, SchoolClass.school_id).where(
                        SchoolClass.id.in_(class_ids)
                    )
                )
            ).all()
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
            roster.preferences[pref.guardian_id] = pref
    school_ids = {s.school_id for s in roster.students.values()}
    roster.schools = {
        s.id: s for s in await session.scalars(select(School).where(School.id.in_(school_ids)))
    }
    return roster


def decide(roster: Roster, guardian_id: str, student_id: str, category: str) -> Target:
    """The one audience decision: whether this guardian hears of this pupil in this category
    (consent, their choice for the category) and how (now, or in the evening digest)."""
    if guardian_id not in roster.consented:
        return Target(guardian_id, student_id, RowStatus.skipped, Reason.no_consent)
    mode = roster.prefs(guardian_id, student_id).mode(category, student_id)
    if mode is Mode.off:
        return Target(guardian_id, student_id, RowStatus.skipped, Reason.opted_out)
    wait = Mode.digest if mode is Mode.digest else Mode.instant
    return Target(guardian_id, student_id, RowStatus.pending, None, wait)


def audience(roster: Roster, pupils: Iterable[str], category: str) -> list[Target]:
    """One decision per guardian of these pupils: a guardian of two of them hears once, of
    the first."""
    targets: list[Target] = []
    seen: set[str] = set()
    for student_id in pupils:
        for guardian_id in roster.guardians_of.get(student_id, ()):
            if guardian_id not in seen:
                seen.add(guardian_id)
                targets.append(decide(roster, guardian_id, student_id, category))
    return targets


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


def foreign(ev: JournalEventIn, roster: Roster) -> str | None:
    """Why an event posted by a school's token may not be taken: it names a class or pupil of
    another school (SPEC §8). Unknown ones are not foreign: they wait as unmatched."""
    if ev.tenant is None or ev.type not in KINDS:
        return None
    data: dict[str, Any] = ev.data
    schools = [roster.classes[c] for c in [data.get("class_id")] if c in roster.classes]
    named = [data.get("student_id"), *(data.get("student_ids") or ())]
    schools += [roster.students[p].school_id for p in named if p in roster.students]
    if scope.outside(ev.tenant, schools):
        return f"names a pupil or class of another school; your token is bound to {ev.tenant!r}"
    return None


def plan_event(ev: JournalEventIn, roster: Roster) -> Plan:
    """Who hears about one event, and whether they may (consent, preferences)."""
    kind = KINDS.get(ev.type)
    if kind is None:
        return Plan(EventStatus.ignored, f"unknown type {ev.type!r}: recorded, no message")
    if ev.type == "journal.attendance.recorded" and ev.data.get("status") == "present":
        return Plan(EventStatus.ignored, "presence is not reported")
    pupils = _pupils(ev, roster)
    if isinstance(pupils, str):
        return Plan(EventStatus.unmatched, pupils, kind.category, kind.template)
    targets = tuple(audience(roster, pupils, kind.category))
    detail = None if targets else "no guardians on the roster"
    return Plan(EventStatus.planned, detail, kind.category, kind.template, targets)


def group_key(target: Target, category: str) -> str:
    """Rows that may share one message: per guardian, child and category; digests per guardian."""
    if target.mode is Mode.digest:
        return f"d:{target.guardian_id}"
    return f"i:{target.guardian_id}:{target.student_id}:{category}"


def due_time(target: Target, roster: Roster, now: datetime, coalesce: timedelta) -> datetime:
    """When a new row is due: after the coalescing window, the digest time, or the end of the
    quiet hours it would fall in (the guardian's own, else the school's)."""
    student = roster.students.get(target.student_id)
    school = roster.schools.get(student.school_id) if student else None
    if school is None:
        return now + coalesce
    prefs = roster.prefs(target.guardian_id, target.student_id)
    quiet = prefs.quiet_window(school)
    if target.mode is Mode.digest:
        return next_digest(now, zone=school.timezone, digest_time=school.digest_time, quiet=quiet)
    return defer_past_quiet(now + coalesce, zone=school.timezone, start=quiet[0], end=quiet[1])


def notification_rows(
    event_pk: int, plan: Plan, roster: Roster, now: datetime, coalesce: timedelta
) -> list[OutboxRow]:
    """Outbox rows for a planned event (one per guardian)."""
    if plan.category is None or plan.kind is None:
        return []
    return [
        outbox_row(
            event_pk,
            t,
            category=plan.category,
            kind=plan.kind,
            due_at=due_time(t, roster, now, coalesce) if t.status is RowStatus.pending else now,
            group_key=group_key(t, plan.category),
            now=now,
        )
        for t in plan.targets
    ]
