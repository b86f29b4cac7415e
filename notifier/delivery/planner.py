"""Event → recipients: a pupil's (or a class's) guardians, with consent and preferences applied."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.categories import Category, Mode
from notifier.db.among import Built
from notifier.db.models import (
    Guardian,
    GuardianStudent,
    JournalEvent,
    Notification,
    Preference,
    School,
    SchoolClass,
    Student,
)
from notifier.db.plans import unindexed
from notifier.db.states import EventStatus, Reason, RowStatus
from notifier.delivery import policy
from notifier.delivery.day_card import CARD_KEY, REPORT_KEY, evening_key
from notifier.delivery.grouping import CORRECTIONS, MARK_ID, TOLD_TYPES
from notifier.delivery.timing import defer_past_quiet, next_at
from notifier.events.schema import JournalEventIn
from notifier.events.types import KINDS
from notifier.roster import rows as roster_rows
from notifier.roster.preferences import EffectivePreferences, PreferenceCache
from notifier.roster.rows import PUPIL_COLUMNS, Pupil


@dataclass(frozen=True, slots=True)
class Addresses:
    """A guardian's addresses, for planning's view of their first channel (Roster.by_sms)."""

    telegram_chat_id: str | None
    max_user_id: str | None
    email: str | None
    phone: str | None


@dataclass
class Roster:
    """The slice of the roster one batch of events needs, loaded with a handful of queries."""

    students: dict[str, Pupil] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)  # class id -> school id
    class_students: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    guardians_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    consented: set[str] = field(default_factory=set)
    preferences: dict[str, Preference] = field(default_factory=dict)
    schools: dict[str, School] = field(default_factory=dict)
    guardians: dict[str, Addresses] = field(default_factory=dict)
    # (guardian, mark_id) of marks the guardian was told of at once (policy.adjust)
    told_now: set[tuple[str, str]] = field(default_factory=set)
    # guardians whose day's report went today (early, with a message that went now, or on time)
    reports_sent: set[str] = field(default_factory=set)
    _prefs: PreferenceCache | None = None
    # A batch's rows share a few schools, quiet hours and modes: their report slots and due
    # times (planner.settle, due_time) are worked out once each (a tenth of planning's CPU).
    _slots: dict[tuple[datetime, str, bool], policy.ReportSlot] = field(default_factory=dict)
    _due: dict[tuple[Any, ...], datetime] = field(default_factory=dict)  # due_time's, by its key

    def prefs(self, guardian_id: str, student_id: str) -> EffectivePreferences:
        """The guardian's choices over the defaults of this pupil's school."""
        if self._prefs is None:  # made once the roster is loaded
            self._prefs = PreferenceCache(self.preferences, self.schools)
        student = self.students.get(student_id)
        return self._prefs.of(guardian_id, student.school_id if student else None)

    def report_slot(self, now: datetime, school: School, sent: bool) -> policy.ReportSlot:
        """policy.report_slot for a guardian of this school whose report went today, or not."""
        slot = self._slots.get((now, school.id, sent))
        if slot is None:
            slot = self._slots[(now, school.id, sent)] = policy.report_slot(
                now, school, sent_today=sent
            )
        return slot

    def school_of(self, student_id: str) -> School | None:
        student = self.students.get(student_id)
        return self.schools.get(student.school_id) if student else None

    def by_sms(self, guardian_id: str, student_id: str) -> bool:
        """Whether SMS is the first channel of the guardian's order they have an address for.
        Planning's view: the dispatcher's route also knows which channels are configured and
        which failed for good, and a message goes as it says."""
        guardian = self.guardians.get(guardian_id)
        if guardian is None:
            return False
        has = {
            "telegram": guardian.telegram_chat_id,
            "max": guardian.max_user_id,
            "email": guardian.email,
            "sms": guardian.phone,
        }
        first = next((c for c in self.prefs(guardian_id, student_id).channels if has.get(c)), None)
        return first == "sms"


@dataclass(frozen=True)
class Target:
    """Who hears of what, decided: pending (now, the day's report or the evening), or
    skipped with a reason."""

    guardian_id: str
    student_id: str
    status: RowStatus
    reason: Reason | None
    mode: Mode = Mode.instant
    with_report: bool = False  # goes now and takes the day's report with it (policy)
    card: bool = False  # edits the day's report, which went (delivery/day_card)
    # By SMS, what goes now waits this long for more of the guardian's news (policy.gather)
    gather: timedelta | None = None


@dataclass(frozen=True)
class Plan:
    status: EventStatus
    detail: str | None
    category: Category | None = None
    kind: str | None = None
    targets: tuple[Target, ...] = ()
    event: policy.EventFacts | None = None


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
    # Not a column: the mark a journal event's row is about, so that the mark's earlier rows
    # still waiting join its group (intake._join_mark_history).
    mark_id: str | None = None

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


@dataclass(frozen=True)
class Named:
    """What a batch of journal events names (types we know only): pupils, classes, and the
    marks it corrects or deletes."""

    student_ids: set[str]
    class_ids: set[str]
    corrected_marks: set[str]


def named_in(events: Iterable[JournalEventIn]) -> Named:
    named = Named(set(), set(), set())
    for ev in events:
        if ev.type not in KINDS:
            continue
        if sid := ev.data.get("student_id"):
            named.student_ids.add(sid)
        named.student_ids.update(ev.data.get("student_ids") or ())
        if cid := ev.data.get("class_id"):
            named.class_ids.add(cid)
        if ev.type in CORRECTIONS and ev.data.get("mark_id") is not None:
            named.corrected_marks.add(str(ev.data["mark_id"]))
    return named


_CLASSES = Built(
    lambda among: select(SchoolClass.id, SchoolClass.school_id).where(among(SchoolClass.id, "ids"))
)
_CLASS_PUPILS = Built(lambda among: select(*PUPIL_COLUMNS).where(among(Student.class_id, "ids")))
_PUPILS = Built(lambda among: select(*PUPIL_COLUMNS).where(among(Student.id, "ids")))
_LINKS = Built(
    lambda among: select(GuardianStudent.student_id, GuardianStudent.guardian_id).where(
        among(GuardianStudent.student_id, "ids")
    )
)
_ADDRESSES = Built(
    lambda among: select(
        Guardian.id, Guardian.telegram_chat_id, Guardian.max_user_id, Guardian.email, Guardian.phone
    ).where(among(Guardian.id, "ids"))
)


async def load_roster(
    *,
    session: AsyncSession,
    student_ids: Iterable[str] = (),
    class_ids: Iterable[str] = (),
    corrected_marks: Iterable[str] = (),
) -> Roster:
    """Everything planning asks about these pupils and the pupils of these classes (and, for
    marks corrected, whom they were told to at once): one query per table."""
    student_ids, class_ids = set(student_ids), set(class_ids)
    roster = Roster()
    if class_ids:
        roster.classes = dict((await _CLASSES.execute(session, ids=class_ids)).all())
        for row in await _CLASS_PUPILS.execute(session, ids=class_ids):
            student = Pupil(*row)
            roster.students[student.id] = student
            if student.class_id is not None:
                roster.class_students[student.class_id].append(student.id)
    missing = student_ids - roster.students.keys()
    if missing:
        for row in await _PUPILS.execute(session, ids=missing):
            roster.students[row.id] = Pupil(*row)
    if not roster.students:
        return roster
    guardian_ids: set[str] = set()
    for student_id, guardian_id in await _LINKS.execute(session, ids=roster.students.keys()):
        roster.guardians_of[student_id].append(guardian_id)
        guardian_ids.add(guardian_id)
    for ids in roster.guardians_of.values():
        ids.sort()
    if guardian_ids:
        roster.consented = await roster_rows.consented(session, guardian_ids)
        roster.preferences = await roster_rows.preferences(session, guardian_ids)
        roster.guardians = {
            guardian_id: Addresses(*rest)
            for guardian_id, *rest in await _ADDRESSES.execute(session, ids=guardian_ids)
        }
        if corrected := set(corrected_marks):
            roster.told_now = await _told_now(session, guardian_ids, corrected)
    roster.schools = await roster_rows.schools(
        session, {s.school_id for s in roster.students.values()}
    )
    return roster


_TOLD_NOW = Built(
    lambda among: (
        select(Notification.guardian_id, MARK_ID)
        .join(JournalEvent, JournalEvent.pk == Notification.event_pk)
        .where(
            among(Notification.guardian_id, "guardians"),
            Notification.mode == Mode.instant,
            unindexed(Notification.status).in_((RowStatus.pending, RowStatus.sent)),
            JournalEvent.type.in_(TOLD_TYPES),
            among(MARK_ID, "marks"),
        )
    )
)


async def _told_now(
    session: AsyncSession, guardian_ids: set[str], mark_ids: set[str]
) -> set[tuple[str, str]]:
    """(guardian, mark) pairs of these marks planned to go at once (sent or still going)."""
    found = await _TOLD_NOW.execute(session, guardians=guardian_ids, marks=mark_ids)
    return {(guardian_id, str(mark_id)) for guardian_id, mark_id in found.all()}


def decide(
    roster: Roster,
    guardian_id: str,
    student_id: str,
    category: str,
    event: policy.EventFacts | None = None,
) -> Target:
    """The one audience decision: whether this guardian hears of this pupil in this category
    (consent, their choice for the category) and how (now, in the day's report, or in the
    evening), the event's urgency applied (delivery/policy)."""
    if guardian_id not in roster.consented:
        return Target(guardian_id, student_id, RowStatus.skipped, Reason.no_consent)
    prefs = roster.prefs(guardian_id, student_id)
    mode = prefs.mode(category, student_id)
    if mode is Mode.off:
        return Target(guardian_id, student_id, RowStatus.skipped, Reason.opted_out)
    if mode not in (Mode.report, Mode.digest):
        mode = Mode.instant  # the weekly summary's "weekly" is its own schedule
    gather: timedelta | None = None
    if event is not None:
        told_now = event.mark_id is not None and (guardian_id, event.mark_id) in roster.told_now
        # The SMS rule quietens the defaults; a mode the school or guardian chose stays.
        by_sms = not prefs.is_chosen(category, student_id) and roster.by_sms(
            guardian_id, student_id
        )
        mode = policy.adjust(mode, event, category, told_now=told_now, by_sms=by_sms)
        if by_sms and mode is Mode.instant:
            gather = policy.gather(category)
    return Target(guardian_id, student_id, RowStatus.pending, None, mode, gather=gather)


def audience(
    roster: Roster,
    pupils: Iterable[str],
    category: str,
    event: policy.EventFacts | None = None,
) -> list[Target]:
    """One decision per guardian of these pupils: a guardian of two of them hears once, of
    the first."""
    targets: list[Target] = []
    seen: set[str] = set()
    for student_id in pupils:
        for guardian_id in roster.guardians_of.get(student_id, ()):
            if guardian_id not in seen:
                seen.add(guardian_id)
                targets.append(decide(roster, guardian_id, student_id, category, event))
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


def plan_event(ev: JournalEventIn, roster: Roster, now: datetime) -> Plan:
    """Who hears about one event, whether they may (consent, preferences), and when."""
    kind = KINDS.get(ev.type)
    if kind is None:
        return Plan(EventStatus.ignored, f"unknown type {ev.type!r}: recorded, no message")
    if ev.type == "journal.attendance.recorded" and ev.data.get("status") == "present":
        return Plan(EventStatus.ignored, "presence is not reported")
    pupils = _pupils(ev, roster)
    if isinstance(pupils, str):
        return Plan(EventStatus.unmatched, pupils, kind.category, kind.template)
    event = policy.facts(ev.type, ev.data, roster.school_of(pupils[0]) if pupils else None, now)
    targets = tuple(audience(roster, pupils, kind.category, event))
    detail = None if targets else "no guardians on the roster"
    return Plan(EventStatus.planned, detail, kind.category, kind.template, targets, event)


def settle(target: Target, roster: Roster, now: datetime) -> Target:
    """Where a row goes by the school's clock: a row for the day's report planned once the
    report went joins the evening's message (the next one the guardian gets), or edits the
    report's card where the school chose that (delivery/day_card); a row going now in the two
    hours before the report takes the report with it (delivery/policy)."""
    if target.status is not RowStatus.pending or target.mode not in (Mode.report, Mode.instant):
        return target
    school = roster.school_of(target.student_id)
    if school is None:
        return target
    sent = target.guardian_id in roster.reports_sent
    slot = roster.report_slot(now, school, sent)
    if target.mode is Mode.report and slot is policy.ReportSlot.evening:
        if school.edit_day_card and sent:
            return replace(target, card=True)
        return replace(target, mode=Mode.digest)
    if target.mode is Mode.instant and slot is policy.ReportSlot.early:
        return replace(target, with_report=True)
    return target


_REPORTS_SENT = Built(
    lambda among: (
        select(Notification.guardian_id, Notification.student_id, func.max(Notification.sent_at))
        .where(
            among(Notification.group_key, "keys"),
            unindexed(Notification.status) == RowStatus.sent,
            Notification.sent_at >= bindparam("since"),
        )
        .group_by(Notification.guardian_id, Notification.student_id)
    )
)


async def load_reports_sent(
    session: AsyncSession, roster: Roster, guardian_ids: Iterable[str], now: datetime
) -> None:
    """Which of these guardians' day's report went today (roster.reports_sent): since its
    early window opened in the school's zone (the roster's schools share one clock here:
    the earliest window is taken, then each guardian's own school is checked)."""
    keys = {f"{REPORT_KEY}{g}" for g in guardian_ids}
    if not keys or not roster.schools:
        return
    opens = {sid: policy.early_since(now, school) for sid, school in roster.schools.items()}
    sent = await _REPORTS_SENT.execute(session, {"since": min(opens.values())}, keys=keys)
    for guardian_id, student_id, at in sent.all():
        school = roster.school_of(student_id or "")
        if school is not None and at is not None and at >= opens[school.id]:
            roster.reports_sent.add(guardian_id)


def group_key(target: Target, category: str) -> str:
    """Rows that may share one message: the evening's and the day's report per guardian; now,
    per guardian and category, a section per child (siblings fold into one message)."""
    if target.mode is Mode.digest:
        return evening_key(target.guardian_id)
    if target.card:
        return f"{CARD_KEY}{target.guardian_id}"
    if target.mode is Mode.report or target.with_report:
        return f"{REPORT_KEY}{target.guardian_id}"
    if target.gather is not None:  # by SMS, the guardian's news that goes now in one SMS
        return f"i:{target.guardian_id}"
    return f"i:{target.guardian_id}:{category}"


def due_time(target: Target, roster: Roster, now: datetime, coalesce: timedelta) -> datetime:
    """When a new row is due: after the coalescing window, the evening's or the report's time,
    or the end of the quiet hours it would fall in (the guardian's own, else the school's)."""
    school = roster.school_of(target.student_id)
    if school is None:
        return now + coalesce
    quiet = roster.prefs(target.guardian_id, target.student_id).quiet_window(school)
    key = (now, coalesce, school.id, quiet, target.mode, target.card, target.gather)
    due = roster._due.get(key)
    if due is None:
        due = roster._due[key] = _due_time(target, school, quiet, now, coalesce)
    return due


def _due_time(
    target: Target, school: School, quiet: tuple[str, str], now: datetime, coalesce: timedelta
) -> datetime:
    if target.mode is Mode.digest:
        return policy.evening_at(now, school, quiet)
    if target.card:  # an edit makes no sound: quiet hours do not hold it
        return now + coalesce
    if target.mode is Mode.report:
        return next_at(now, zone=school.timezone, at=school.day_report_time, quiet=quiet)
    wait = max(coalesce, target.gather or timedelta(0))
    return defer_past_quiet(now + wait, zone=school.timezone, start=quiet[0], end=quiet[1])


def notification_rows(
    event_pk: int, plan: Plan, roster: Roster, now: datetime, coalesce: timedelta
) -> list[OutboxRow]:
    """Outbox rows for a planned event (one per guardian)."""
    if plan.category is None or plan.kind is None:
        return []
    targets = [settle(t, roster, now) for t in plan.targets]
    mark_id = plan.event.mark_id if plan.event is not None else None
    rows = [
        outbox_row(
            event_pk,
            t,
            category=plan.category,
            kind=plan.kind,
            due_at=due_time(t, roster, now, coalesce) if t.status is RowStatus.pending else now,
            group_key=group_key(t, plan.category),
            now=now,
        )
        for t in targets
    ]
    for row in rows:
        row.mark_id = mark_id
    return rows
