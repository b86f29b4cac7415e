"""The delivery log: what was sent to whom, by which channel, and every attempt; newest first,
a page at a time. GET /v1/notifications, GET /v1/guardians/{id}/notifications and the console's
pages read it here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import DeliveryAttempt, JournalEvent, Notification, Student
from notifier.db.states import RowStatus


@dataclass(frozen=True)
class Attempt:
    channel: str
    at: datetime
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class EventRef:
    """The journal event a message came from."""

    source: str
    id: str
    type: str


@dataclass(frozen=True)
class LogEntry:
    id: int
    guardian_id: str
    student_id: str | None
    event: EventRef
    category: str
    status: str  # as people read it: a pending row never tried yet is "scheduled"
    state: str  # the row's own status (RowStatus)
    reason: str | None
    channel: str | None
    due_at: datetime
    sent_at: datetime | None
    created_at: datetime
    # A sent SMS's parts and price in roubles, as its provider billed them (on the message's
    # first row only: the others of a coalesced message went in the same SMS); and what its
    # delivery receipt said: delivered | undelivered (None: none came, or not an SMS).
    segments: int | None
    cost: Decimal | None
    receipt: str | None
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class LogPage:
    items: tuple[LogEntry, ...]
    next_before: int | None  # pass as `before` for the next (older) page; None: no more


async def delivery_log(
    session: AsyncSession,
    *,
    guardian_id: str | None = None,
    status: str | None = None,
    event_id: str | None = None,
    limit: int = 100,
    before: int | None = None,
    school_id: str | None = None,
    pupils: list[str] | None = None,
    guardian_ids: Sequence[str] | None = None,
    student_ids: Sequence[str] | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> LogPage:
    """The log, filtered. `school_id`: only messages about that school's pupils (a school's
    admin); `pupils`: only messages about these pupils (a guardian's log as far as the caller
    may see their children; None = no such limit). The caller has checked the scope.
    A search narrows it further: to some guardians or pupils (those a name matched), a
    channel, and messages made from `since` up to (not including) `until`."""
    stmt = select(Notification, JournalEvent.source, JournalEvent.event_id, JournalEvent.type).join(
        JournalEvent, JournalEvent.pk == Notification.event_pk
    )
    if school_id is not None:
        stmt = stmt.join(Student, Student.id == Notification.student_id).where(
            Student.school_id == school_id
        )
    if pupils is not None:
        stmt = stmt.where(Notification.student_id.in_(pupils))
    if guardian_id is not None:
        stmt = stmt.where(Notification.guardian_id == guardian_id)
    if guardian_ids is not None:
        stmt = stmt.where(Notification.guardian_id.in_(guardian_ids))
    if student_ids is not None:
        stmt = stmt.where(Notification.student_id.in_(student_ids))
    if channel is not None:
        stmt = stmt.where(Notification.channel == channel)
    if since is not None:
        stmt = stmt.where(Notification.created_at >= since)
    if until is not None:
        stmt = stmt.where(Notification.created_at < until)
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if event_id is not None:
        stmt = stmt.where(JournalEvent.event_id == event_id)
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = (await session.execute(stmt.order_by(Notification.id.desc()).limit(limit))).all()
    ids = [n.id for n, *_ in rows]
    attempts: dict[int, list[Attempt]] = {i: [] for i in ids}
    if ids:
        for a in await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.notification_id.in_(ids))
            .order_by(DeliveryAttempt.id)
        ):
            attempts[a.notification_id].append(Attempt(a.channel, a.at, a.outcome, a.detail))
    items = tuple(
        LogEntry(
            id=n.id,
            guardian_id=n.guardian_id,
            student_id=n.student_id,
            event=EventRef(source, ev_id, ev_type),
            category=n.category,
            status="scheduled" if n.status == RowStatus.pending and n.attempts == 0 else n.status,
            state=n.status,
            reason=n.reason,
            channel=n.channel,
            due_at=n.due_at,
            sent_at=n.sent_at,
            created_at=n.created_at,
            segments=n.segments,
            cost=n.cost,
            receipt=n.receipt,
            attempts=tuple(attempts[n.id]),
        )
        for n, source, ev_id, ev_type in rows
    )
    return LogPage(items, ids[-1] if len(ids) == limit else None)
