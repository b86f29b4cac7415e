"""Store a batch of journal events once each and plan their messages, in one transaction."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.categories import Mode
from notifier.db.among import Built
from notifier.db.bulk import insert_ignore, update_by_id
from notifier.db.models import JournalEvent, Notification
from notifier.db.states import EventStatus, RowStatus
from notifier.delivery.grouping import MARK_ID, MARK_TYPES
from notifier.delivery.outbox import unleased
from notifier.delivery.planner import (
    OutboxRow,
    Plan,
    foreign,
    load_reports_sent,
    load_roster,
    named_in,
    notification_rows,
    plan_event,
)
from notifier.events.consumer import Refused, StoreResult
from notifier.events.schema import JournalEventIn
from notifier.metrics import NOTIFICATIONS_PLANNED


def _key(ev: JournalEventIn) -> tuple[str, str, str]:
    return (ev.tenant or "", ev.source, ev.id)


async def store_and_plan(
    *,
    session: AsyncSession,
    events: list[JournalEventIn],
    now: datetime,
    coalesce: timedelta = timedelta(0),
) -> StoreResult:
    """Insert the events not seen before (by tenant, source and id) and their outbox rows;
    commit. Events a school's token may not post are returned as refused, not stored."""
    unique = list({_key(ev): ev for ev in events}.values())
    if not unique:
        return StoreResult(0, len(events), 0)
    named = named_in(unique)
    roster = await load_roster(
        session=session,
        student_ids=named.student_ids,
        class_ids=named.class_ids,
        corrected_marks=named.corrected_marks,
    )
    refused: list[Refused] = []
    if any(ev.tenant is not None for ev in unique):  # only a school's token can name another's
        verdicts = [(ev, foreign(ev, roster)) for ev in unique]
        refused = [Refused(ev, why) for ev, why in verdicts if why is not None]
        unique = [ev for ev, why in verdicts if why is None]
    plans = {_key(ev): plan_event(ev, roster, now) for ev in unique}
    rows = [
        {
            "tenant": ev.tenant or "",
            "source": ev.source,
            "event_id": ev.id,
            "type": ev.type,
            "time": ev.time,
            "data": ev.data,
            "student_id": _pupil(ev.data),
            "received_at": now,
            "status": plans[_key(ev)].status,
            "detail": plans[_key(ev)].detail,
        }
        for ev in unique
    ]
    # Read and work out the rows before the first write: on SQLite the INSERT takes the
    # database's one write lock, held until the commit, and whatever the consumer does after it
    # (a read, or a turn of Python that waits for the GIL behind the worker's loop) holds off
    # the worker's claims and records. A row's event pk is set once the INSERT returns it.
    await load_reports_sent(session, roster, _guardians(plans.values()), now)
    planned = {
        key: notification_rows(0, plan, roster, now, coalesce) for key, plan in plans.items()
    }
    table = JournalEvent.__table__
    stmt = insert_ignore(session, table).returning(  # type: ignore[arg-type]
        table.c.pk, table.c.tenant, table.c.source, table.c.event_id
    )
    inserted = (await session.execute(stmt, rows)).all() if rows else []
    outbox: list[OutboxRow] = []
    for pk, tenant, source, event_id in inserted:
        for row in planned[(tenant, source, event_id)]:
            row.event_pk = pk
            outbox.append(row)
    await _write_outbox(session, outbox, now)
    await session.commit()
    _count_planned(outbox)
    duplicates = len(events) - len(inserted) - len(refused)
    return StoreResult(len(inserted), duplicates, len(outbox), tuple(refused))


INSERT_CHUNK = 2_000  # outbox rows per INSERT (_insert)


def _pupil(data: dict[str, Any]) -> str | None:
    student_id = data.get("student_id")
    return student_id if isinstance(student_id, str) and len(student_id) <= 64 else None


def _count_planned(rows: list[OutboxRow]) -> None:
    for (category, status), n in Counter((r.category, r.status) for r in rows).items():
        NOTIFICATIONS_PLANNED.labels(category, status).inc(n)


async def _write_outbox(session: AsyncSession, rows: list[OutboxRow], now: datetime) -> None:
    """New rows into the outbox, joined to the groups already waiting there."""
    await _join_open_groups(session, rows, now)
    await _join_mark_history(session, rows, now)
    await _advance_groups(session, rows, now)
    await _insert(session, rows)


async def _insert(session: AsyncSession, rows: list[OutboxRow]) -> None:
    # A few thousand rows a statement: each row is a dict of values, and the driver's compiled
    # parameters another, for as long as the statement runs. A batch of 500 events with
    # homework for whole classes planned 14,080 rows in bench.region, and the two copies of
    # all of them were about 13 MB of the worker's peak (tracemalloc).
    stmt = insert_ignore(session, Notification.__table__)  # type: ignore[arg-type]
    for start in range(0, len(rows), INSERT_CHUNK):
        await session.execute(stmt, [r.values() for r in rows[start : start + INSERT_CHUNK]])


def _open(row: OutboxRow) -> bool:
    return row.status is RowStatus.pending and row.mode is Mode.instant


_OPEN_GROUPS = Built(
    lambda among: (
        select(Notification.group_key, func.min(Notification.due_at))
        .where(among(Notification.group_key, "keys"), unleased(bindparam("now"), found=True))
        .group_by(Notification.group_key)
    )
)


async def _join_open_groups(session: AsyncSession, rows: list[OutboxRow], now: datetime) -> None:
    """A new instant row joins its guardian-child-category group already waiting to go, so the
    window counts from the group's first event and the group leaves as one message."""
    keys = {r.group_key for r in rows if _open(r)}
    if not keys:
        return
    waiting = dict((await _OPEN_GROUPS.execute(session, {"now": now}, keys=keys)).all())
    for row in rows:
        due = waiting.get(row.group_key)
        if due is not None and _open(row):
            row.due_at = min(row.due_at, due)


_MARK_HISTORY = Built(
    lambda among: (
        select(Notification.id, Notification.guardian_id, MARK_ID, Notification.group_key)
        .join(JournalEvent, JournalEvent.pk == Notification.event_pk)
        .where(
            among(Notification.guardian_id, "guardians"),
            unleased(bindparam("now"), found=True),
            JournalEvent.type.in_(MARK_TYPES),
            among(MARK_ID, "marks"),
        )
    )
)


async def _join_mark_history(session: AsyncSession, rows: list[OutboxRow], now: datetime) -> None:
    """A mark's rows still waiting in another group (a 5 for the day's report, then corrected
    to a 2 that goes now) move to the new row's group: one message folds the mark's whole
    history into its final state, and no later message tells a state that is gone."""
    latest = {
        (r.guardian_id, r.mark_id): r
        for r in rows
        if r.mark_id is not None and r.status is RowStatus.pending
    }
    if not latest:
        return
    waiting = await _MARK_HISTORY.execute(
        session,
        {"now": now},
        guardians={g for g, _ in latest},
        marks={m for _, m in latest},
    )
    moves = [
        {"id": pk, "group_key": row.group_key, "due_at": row.due_at, "mode": row.mode}
        for pk, guardian_id, mark_id, key in waiting.all()
        if (row := latest.get((guardian_id, str(mark_id)))) is not None and key != row.group_key
    ]
    if moves:
        await update_by_id(session, Notification.__table__, moves)  # type: ignore[arg-type]


def _guardians(plans: Iterable[Plan]) -> set[str]:
    return {t.guardian_id for plan in plans for t in plan.targets}


_ADVANCE = Built(
    lambda among: (
        update(Notification)
        .where(
            among(Notification.group_key, "keys"),
            unleased(bindparam("now"), found=True),
            Notification.due_at > bindparam("at"),
        )
        .values(due_at=bindparam("at"))
    )
)


async def _advance_groups(session: AsyncSession, rows: list[OutboxRow], now: datetime) -> None:
    """A group goes when its most urgent row is due: a row going now that takes the day's report
    with it (planner.settle), an absence joining a timetable change that waited for more news
    by SMS. The group's rows waiting for a later time go with it."""
    keys_by_due: dict[datetime, set[str]] = defaultdict(set)
    for r in rows:
        if r.status is RowStatus.pending and r.mode is Mode.instant:
            keys_by_due[r.due_at].add(r.group_key)
    for at, keys in keys_by_due.items():  # one due time for a batch's rows, mostly
        await _ADVANCE.execute(session, {"now": now, "at": at}, keys=keys)


@dataclass(frozen=True)
class ReplayResult:
    planned: int
    still_unmatched: int
    notifications: int


async def replan_unmatched(
    *,
    session: AsyncSession,
    now: datetime,
    coalesce: timedelta = timedelta(0),
    pks: list[int] | None = None,
    limit: int = 1000,
    tenant: str | None = None,
) -> ReplayResult:
    """Plan again the events whose pupil or class was unknown (after the roster was fixed);
    with `tenant`, only the events that school's tokens posted."""
    stmt = select(JournalEvent).where(JournalEvent.status == EventStatus.unmatched)
    if tenant is not None:
        stmt = stmt.where(JournalEvent.tenant == tenant)
    if pks:
        stmt = stmt.where(JournalEvent.pk.in_(pks))
    rows = list(await session.scalars(stmt.order_by(JournalEvent.pk).limit(limit)))
    events = {
        row.pk: JournalEventIn(
            row.source, row.event_id, row.type, row.time, dict(row.data), row.tenant or None
        )
        for row in rows
    }
    named = named_in(events.values())
    roster = await load_roster(
        session=session,
        student_ids=named.student_ids,
        class_ids=named.class_ids,
        corrected_marks=named.corrected_marks,
    )
    plans: dict[int, Plan] = {}
    for row in rows:
        if (why := foreign(events[row.pk], roster)) is not None:
            # Its pupil turned up in another school: that school's records never show it.
            row.status, row.detail = EventStatus.refused, why
            continue
        plan = plan_event(events[row.pk], roster, now)
        row.status, row.detail = plan.status, plan.detail
        if plan.status != EventStatus.unmatched:
            plans[row.pk] = plan
    await load_reports_sent(session, roster, _guardians(plans.values()), now)
    outbox = [
        r for pk, plan in plans.items() for r in notification_rows(pk, plan, roster, now, coalesce)
    ]
    await _write_outbox(session, outbox, now)
    await session.commit()
    return ReplayResult(len(plans), len(rows) - len(plans), len(outbox))
