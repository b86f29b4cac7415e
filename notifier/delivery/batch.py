"""Everything a batch of claimed rows needs, loaded with one query per table."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.among import Among, Built
from notifier.db.models import (
    ChannelBlock,
    JournalEvent,
    Notification,
    Preference,
    School,
    SchoolClass,
    Student,
)
from notifier.db.plans import unindexed
from notifier.db.states import RowStatus
from notifier.delivery import policy
from notifier.delivery.claimed import (
    Addressee,
    Claimed,
    ClaimedEvent,
    load_addressees,
    load_claimed,
    load_events,
)
from notifier.delivery.day_card import Card, guardians_with_cards, load_cards
from notifier.delivery.grouping import MARK_ID, MARK_TYPES, TOLD_TYPES
from notifier.reports import summary
from notifier.reports.marks import Report, pupil_report
from notifier.roster import rows as roster_rows
from notifier.roster.preferences import EffectivePreferences, PreferenceCache
from notifier.roster.rows import PUPIL_COLUMNS, Pupil


@dataclass
class Batch:
    notifications: list[Claimed]
    events: dict[int, ClaimedEvent] = field(default_factory=dict)
    guardians: dict[str, Addressee] = field(default_factory=dict)
    students: dict[str, Pupil] = field(default_factory=dict)
    schools: dict[str, School] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)
    consented: set[str] = field(default_factory=set)
    preferences: dict[str, Preference] = field(default_factory=dict)
    blocked: dict[str, set[str]] = field(default_factory=dict)
    # (guardian, mark_id) → the mark as the guardian was last told it
    told: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # event pk of a weekly summary → the pupil's marks and attendance for its period
    reports: dict[int, Report] = field(default_factory=dict)
    # guardian → their day's report in a messenger, for rows that edit it (delivery/day_card),
    # and what they had been told of its marks before it went
    cards: dict[str, Card] = field(default_factory=dict)
    told_before_cards: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def place_of(self, note: Claimed) -> School | None:
        student = self.students.get(note.student_id or "")
        return self.schools.get(student.school_id) if student else None

    _prefs: PreferenceCache | None = None

    def preferences_of(self, guardian_id: str, student_id: str | None) -> EffectivePreferences:
        if self._prefs is None:  # made once the batch is loaded
            self._prefs = PreferenceCache(self.preferences, self.schools)
        student = self.students.get(student_id or "")
        return self._prefs.of(guardian_id, student.school_id if student else None)


# A claim's reads, each by a list of ids (db/among.py: built once).
# Pupils with their class's name, which messages print.
_PUPILS = Built(
    lambda among: (
        select(*PUPIL_COLUMNS, SchoolClass.name)
        .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
        .where(among(Student.id, "ids"))
    )
)
_BLOCKED = Built(
    lambda among: select(ChannelBlock.guardian_id, ChannelBlock.channel).where(
        among(ChannelBlock.guardian_id, "ids")
    )
)


async def load_batch(*, session: AsyncSession, ids: list[int], now: datetime) -> Batch:
    notes = await load_claimed(session, ids)
    batch = Batch(notes)
    batch.events = await load_events(session, {n.event_pk for n in notes})
    guardian_ids = {n.guardian_id for n in notes}
    batch.guardians = await load_addressees(session, guardian_ids)
    await _load_places(session, batch, {n.student_id for n in notes if n.student_id})
    batch.consented = await roster_rows.consented(session, guardian_ids)
    batch.preferences = await roster_rows.preferences(session, guardian_ids)
    for guardian_id, channel in await _BLOCKED.execute(session, ids=guardian_ids):
        batch.blocked.setdefault(guardian_id, set()).add(channel)
    for pk in {n.event_pk for n in notes if n.kind == summary.KIND}:
        data = batch.events[pk].data
        batch.reports[pk] = await pupil_report(
            session=session,
            student_id=str(data["student_id"]),
            start=date.fromisoformat(data["from"]),
            end=date.fromisoformat(data["to"]),
        )
    editing = guardians_with_cards(notes)
    if editing:
        await _load_cards(session, batch, editing, now)
    mark_ids = {
        str(e.data["mark_id"])
        for e in batch.events.values()
        if e.type in MARK_TYPES and e.data.get("mark_id") is not None
    }
    batch.told = await _told(session, guardian_ids, mark_ids)
    if batch.cards:
        shown = {note.id for card in batch.cards.values() for note in card.rows}
        batch.told_before_cards = await _told(session, editing, mark_ids, leave_out=shown)
    return batch


async def _load_cards(
    session: AsyncSession, batch: Batch, guardian_ids: set[str], now: datetime
) -> None:
    """The cards these guardians' rows edit, and the events of the rows on them."""
    since: dict[str, datetime] = {}
    for note in batch.notifications:
        school = batch.place_of(note)
        if note.guardian_id in guardian_ids and school is not None:
            since[note.guardian_id] = policy.early_since(now, school)
    batch.cards = await load_cards(session, since)
    shown = [n for card in batch.cards.values() for n in card.rows]
    missing = {n.event_pk for n in shown} - batch.events.keys()
    batch.events.update(await load_events(session, missing))
    # A sibling's marks on the card: their pupil, class and school too.
    await _load_places(
        session, batch, {n.student_id for n in shown if n.student_id} - batch.students.keys()
    )


async def _load_places(session: AsyncSession, batch: Batch, student_ids: set[str]) -> None:
    """These pupils, and their schools and class names, into the batch."""
    if not student_ids:
        return
    students = []
    for *pupil, class_name in await _PUPILS.execute(session, ids=student_ids):
        student = Pupil(*pupil)
        students.append(student)
        if student.class_id is not None and class_name is not None:
            batch.classes[student.class_id] = class_name
    batch.students.update((s.id, s) for s in students)
    school_ids = {s.school_id for s in students} - batch.schools.keys()
    if school_ids:
        batch.schools.update(await roster_rows.schools(session, school_ids))


def _told_query(among: Among, *, leaving_out: bool) -> Select[tuple[str, Any]]:
    query = (
        select(Notification.guardian_id, JournalEvent.data)
        .join(JournalEvent, JournalEvent.pk == Notification.event_pk)
        .where(
            unindexed(Notification.status) == RowStatus.sent,
            among(Notification.guardian_id, "guardians"),
            JournalEvent.type.in_(TOLD_TYPES),
            among(MARK_ID, "marks"),
        )
        .order_by(JournalEvent.pk)
    )
    return query.where(~among(Notification.id, "shown")) if leaving_out else query


_TOLD = Built(lambda among: _told_query(among, leaving_out=False))
_TOLD_BUT = Built(lambda among: _told_query(among, leaving_out=True))


async def _told(
    session: AsyncSession,
    guardian_ids: Collection[str],
    mark_ids: Collection[str],
    *,
    leave_out: Collection[int] = (),
) -> dict[tuple[str, str], dict[str, Any]]:
    """(guardian, mark_id) → the mark as the guardian was last told it, by the rows sent
    (but those in `leave_out`)."""
    if not mark_ids or not guardian_ids:
        return {}
    if leave_out:
        found = await _TOLD_BUT.execute(
            session, guardians=guardian_ids, marks=mark_ids, shown=leave_out
        )
    else:
        found = await _TOLD.execute(session, guardians=guardian_ids, marks=mark_ids)
    return {(guardian_id, str(data["mark_id"])): dict(data) for guardian_id, data in found.all()}
