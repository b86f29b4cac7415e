"""The outbox's SQL: claiming due rows under a lease, renewing it, and recording what
happened to them. Delivery (dispatch.py) decides; this module only reads and writes rows."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.elements import BindParameter

from notifier.categories import Mode
from notifier.db.among import Built, among
from notifier.db.bulk import insert_ignore, update_by_id
from notifier.db.engine import SessionFactory
from notifier.db.models import ChannelBlock, DeliveryAttempt, Notification
from notifier.db.plans import unindexed
from notifier.db.states import Outcome, RowStatus
from notifier.db.types import UTCDateTime
from notifier.delivery.claimed import Claimed
from notifier.delivery.day_card import CARD_KEY

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the claim (any constant the application uses for nothing else).
CLAIM_LOCK = 0x6E6F7469  # "noti"
RECORD_TRIES = 6  # at least this many tries (0.2 s doubling, at most RECORD_MAX_DELAY apart)
RECORD_MAX_DELAY = 2.0


def unleased(now: datetime | BindParameter[datetime], *, found: bool = False) -> Any:
    """Pending, and held by no worker at `now` (never leased, or its lease ran out). For rows
    `found` by id or group key the status filters them, and is no index's search: as one,
    SQLite walked (status, due_at) over every pending row. A claim's two leases took 13 and
    6 ms of SQLite's CPU in bench.region, 1.6 ms each by the group keys' index and the primary
    key (db/plans.py)."""
    return and_(
        (unindexed(Notification.status) if found else Notification.status) == RowStatus.pending,
        or_(Notification.lease_until.is_(None), Notification.lease_until < now),
    )


def _due(now: datetime | BindParameter[datetime], *, found: bool = False) -> Any:
    """Pending, due, and not leased (unleased)."""
    return and_(unleased(now, found=found), Notification.due_at <= now)


def _card_free(now: datetime | BindParameter[datetime]) -> Any:
    """A card's edits one at a time: each renders the card from the rows sent so far, so an
    edit made while another is out could leave the other's news off the card."""
    out = aliased(Notification)
    return or_(
        Notification.group_key.is_(None),
        ~Notification.group_key.startswith(CARD_KEY, autoescape=True),
        ~exists().where(
            out.group_key == Notification.group_key,
            out.status == RowStatus.pending,
            out.lease_until >= now,
        ),
    )


@dataclass
class Lease:
    """The rows one claim took, and its token: the rows carry it until another claim takes
    them, and only a record that names it is written (`record`), so a worker paused past its
    lease cannot overwrite what the next one did."""

    token: int
    ids: list[int]
    # time.monotonic() when the lease runs out, as far as this process knows: the claim sets
    # it, each renewal moves it on. Past it, the rows may be another's: nothing more is sent.
    ends: float

    def __bool__(self) -> bool:
        return bool(self.ids)


@dataclass(slots=True)
class RowUpdate:
    """A claimed row's columns after delivery tried it: all written, its lease cleared by the
    record's fence."""

    id: int
    status: RowStatus
    reason: str | None
    attempts: int
    due_at: datetime
    channel: str | None
    sent_at: datetime | None
    segments: int | None
    cost: Decimal | None
    # None leaves a row's group and mode as they are: only a row moved to the evening changes
    # them, and every column written costs its indexes' upkeep.
    group_key: str | None = None
    mode: Mode | None = None

    @classmethod
    def of(cls, note: Claimed) -> RowUpdate:
        """The row as claimed: `dataclasses.replace` it with what changed."""
        return cls(
            note.id,
            RowStatus(note.status),
            note.reason,
            note.attempts,
            note.due_at,
            note.channel,
            note.sent_at,
            note.segments,
            note.cost,
        )

    def written(self) -> tuple[str, ...]:
        """The columns its record writes: all of _RECORDED but the unset of _WHEN_SET."""
        return _ALWAYS + tuple(name for name in _WHEN_SET if getattr(self, name) is not None)

    def columns(self) -> dict[str, Any]:
        """The values written, by column (`id` too)."""
        return {"id": self.id} | {name: getattr(self, name) for name in self.written()}


@dataclass(slots=True)
class AttemptRow:
    """One row of delivery_attempts: one try of one channel for one outbox row."""

    notification_id: int
    channel: str
    at: datetime
    outcome: Outcome
    detail: str | None
    provider_id: str | None = None
    segments: int | None = None
    cost: Decimal | None = None


@dataclass(slots=True)
class BlockRow:
    """One row of channel_blocks: a guardian's channel found unusable (a blocked bot, a
    number that does not exist)."""

    guardian_id: str
    channel: str
    reason: str
    at: datetime


@dataclass
class Write:
    """What happened to one group of a lease: its rows, their attempts, the channels found
    dead."""

    token: int
    updates: list[RowUpdate] = field(default_factory=list)
    attempts: list[AttemptRow] = field(default_factory=list)
    blocks: list[BlockRow] = field(default_factory=list)


async def claim(*, session: AsyncSession, now: datetime, limit: int, lease: timedelta) -> Lease:
    """Lease up to `limit` due rows, and the rest of their groups, to this worker; others
    skip them until the lease ends."""
    ends = time.monotonic() + lease.total_seconds()
    token = secrets.randbits(62) + 1
    if session.get_bind().dialect.name == "sqlite":
        return await _claim_at_once(
            session, now=now, until=now + lease, limit=limit, token=token, ends=ends
        )
    # One claim at a time per database. Two claims taking whole groups lock rows in no set
    # order and can deadlock; a claim is two short statements, so taking turns costs nothing.
    await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
    pick = (
        select(Notification.id)
        .where(_due(now), _card_free(now))
        .order_by(Notification.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    lease_them = (
        update(Notification)
        .values(lease_until=now + lease, lease_token=token)
        .returning(Notification.id, Notification.group_key)
        .execution_options(synchronize_session=False)
    )
    # Picked first, leased second: as `id IN (subquery)`, PostgreSQL could run the locking,
    # limited subquery once per outer row, each time skipping the rows it had just locked, and
    # lease the whole backlog in one claim (9,980 rows for a limit of 200, in 8.5 s).
    picked = list(await session.scalars(pick))
    if not picked:
        await session.commit()
        return Lease(token, [], ends)
    # The lease checks `due` again: a group's other rows may not be due, or be out already.
    still_due = _due(now, found=True)
    rows = list(
        (await session.execute(lease_them.where(Notification.id.in_(picked), still_due))).all()
    )
    keys = {key for _, key in rows if key}
    if keys:  # a group leaves whole, even when the limit cut it
        in_groups = lease_them.where(Notification.group_key.in_(keys), still_due)
        rows += (await session.execute(in_groups)).all()
    await session.commit()
    return Lease(token, sorted({row_id for row_id, _ in rows}), ends)


def _claim_at_once_statement() -> ReturningUpdate[int, str | None]:
    """SQLite's claim, as one statement. Its one write lock is held from a transaction's first
    write to its commit, and each statement of a busy worker waits for a turn on the loop: with
    the lock held, the lease, the group lease and the commit were three such waits (a claim
    took 80 ms at p50 at 200 events/s, docs/scaling.md). The picked rows are taken once
    (MATERIALIZED) and lead to their groups; SQLite runs one writer at a time, so nothing can
    lease a row between the pick and the lease. Built once (db/among.py, Built): its times,
    limit and token are parameters."""
    columns = Notification.__table__.c
    now = bindparam("now", type_=columns.due_at.type)
    picked = (
        select(Notification.id, Notification.group_key)
        .where(_due(now), _card_free(now))
        .order_by(Notification.due_at)
        .limit(bindparam("limit", type_=Integer()))
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )
    grouped = select(picked.c.group_key).where(picked.c.group_key.is_not(None))
    return (
        update(Notification)
        .values(
            lease_until=bindparam("until", type_=columns.lease_until.type),
            lease_token=bindparam("token", type_=columns.lease_token.type),
        )
        .where(
            or_(Notification.id.in_(select(picked.c.id)), Notification.group_key.in_(grouped)),
            _due(now, found=True),
        )
        .returning(Notification.id, Notification.group_key)
        .execution_options(synchronize_session=False)
    )


_CLAIM_AT_ONCE = Built(lambda _: _claim_at_once_statement())


async def _claim_at_once(
    session: AsyncSession, *, now: datetime, until: datetime, limit: int, token: int, ends: float
) -> Lease:
    params = {"now": now, "until": until, "limit": limit, "token": token}
    ids = sorted(row_id for row_id, _ in await _CLAIM_AT_ONCE.execute(session, params))
    await session.commit()
    return Lease(token, ids, ends)


async def renew_lease(*, session: AsyncSession, lease: Lease, until: datetime) -> None:
    """Keep a lease's rows leased while they are out (rows already recorded, or taken by
    another claim, are left alone)."""
    await session.execute(
        update(Notification)
        .where(
            among(session, Notification.id, lease.ids),
            Notification.lease_token == lease.token,
            unindexed(Notification.status) == RowStatus.pending,
            Notification.lease_until.is_not(None),
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def record(sessions: SessionFactory, writes: list[Write], *, lease_ends: float) -> int:
    """Write what happened, for rows whose lease is still ours; returns how many rows were
    refused because another claim had taken them. The messages are out: a lost record would
    send them again when the lease ends, so a deadlock or a dropped connection is retried,
    not given up on.

    It keeps trying (at least RECORD_TRIES times, about 6 s, which a PostgreSQL restart can
    outlast) until shortly before the lease ends (`lease_ends`, monotonic, the earliest of the
    writes'): until then nobody else can have claimed the rows."""
    give_up = lease_ends - RECORD_MAX_DELAY
    attempt = 0
    while True:
        try:
            async with sessions() as session:
                if session.get_bind().dialect.name == "postgresql":
                    refused = await _write_at_once(session, writes)
                else:
                    refused = await _write(session, writes)
                    await session.commit()
            return refused
        except IntegrityError:
            raise
        except (DBAPIError, OSError) as exc:
            delay = min(RECORD_MAX_DELAY, 0.2 * 2**attempt)
            attempt += 1
            if attempt >= RECORD_TRIES and time.monotonic() + delay > give_up:
                raise
            log.warning(
                "delivery.record_retry",
                extra={
                    "error": type(exc).__name__,
                    "rows": sum(len(w.updates) for w in writes),
                    "try": attempt,
                },
            )
            await asyncio.sleep(delay)


_FENCE = Built(
    lambda among: (
        update(Notification)
        .where(
            among(Notification.id, "ids"),
            Notification.lease_token == bindparam("token", type_=Notification.lease_token.type),
        )
        .values(lease_until=None)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
)


async def _write(session: AsyncSession, writes: list[Write]) -> int:
    # The fence first: one statement per lease marks the rows that still carry its token (it
    # also takes their locks, SQLite's write lock), and only those are written.
    owned: set[tuple[int, int]] = set()  # (token, row id)
    for token in {w.token for w in writes}:
        ids = [u.id for w in writes if w.token == token for u in w.updates]
        if ids:
            mine = await _FENCE.execute(session, {"token": token}, ids=ids)
            owned.update((token, row_id) for row_id in mine.scalars())
    updates = [u.columns() for w in writes for u in w.updates if (w.token, u.id) in owned]
    attempts = [
        _row(a, _ATTEMPT)
        for w in writes
        for a in w.attempts
        if (w.token, a.notification_id) in owned
    ]
    blocks = [_row(b, _BLOCK) for w in writes for b in w.blocks]
    if updates:
        await update_by_id(session, Notification.__table__, updates)  # type: ignore[arg-type]
    if attempts:
        await session.execute(insert(DeliveryAttempt.__table__), attempts)  # type: ignore[arg-type]
    if blocks:
        ignore = insert_ignore(session, ChannelBlock.__table__)  # type: ignore[arg-type]
        await session.execute(ignore, blocks)
    return sum(len(w.updates) for w in writes) - len(updates)


# The columns a record writes (RowUpdate's), and their types.
_RECORDED = {
    "status": "varchar", "reason": "varchar", "attempts": "integer", "due_at": "timestamp",
    "channel": "varchar", "sent_at": "timestamp", "segments": "integer", "cost": "numeric",
    "group_key": "varchar", "mode": "varchar",
}  # fmt: skip
_WHEN_SET = ("group_key", "mode")
_ALWAYS = tuple(name for name in _RECORDED if name not in _WHEN_SET)
_BIT = {name: 1 << i for i, name in enumerate(_RECORDED)}  # of a row's `changed` in _RECORD
_ATTEMPT = {
    "notification_id": "integer", "channel": "varchar", "at": "timestamp",
    "outcome": "varchar", "detail": "varchar", "provider_id": "varchar", "segments": "integer",
    "cost": "numeric",
}  # fmt: skip
_BLOCK = {"guardian_id": "varchar", "channel": "varchar", "reason": "varchar", "at": "timestamp"}


def _row(row: AttemptRow | BlockRow, columns: dict[str, str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in columns}


def _arrays(prefix: str, columns: dict[str, str]) -> str:
    return ", ".join(f"CAST(:{prefix}{name} AS {kind}[])" for name, kind in columns.items())


# _write's fence and writes as one statement, in a transaction of its own. A worker's loop is
# busy while it sends, and each round trip waits for a turn on it: this is one (prepared once,
# the values in arrays) where _write's BEGIN, fence, updates, attempts and COMMIT are five. A
# message sent and not yet recorded goes again if the worker dies, so this wait is what a kill
# costs in duplicates. Each row's `changed` bit i says it writes the i-th column of _RECORDED.
_CHANGED = ", ".join(
    f"{name} = CASE WHEN r.changed & {1 << i} <> 0 THEN r.{name} ELSE n.{name} END"
    for i, name in enumerate(_RECORDED)
)
_RECORD = text(
    f"""
    WITH mine AS (
        UPDATE notifications AS n SET lease_until = NULL, {_CHANGED}
        FROM unnest(CAST(:token AS bigint[]), CAST(:id AS integer[]),
                    CAST(:changed AS integer[]), {_arrays("", _RECORDED)})
            AS r(token, id, changed, {", ".join(_RECORDED)})
        WHERE n.id = r.id AND n.lease_token = r.token
        RETURNING n.id, n.lease_token
    ), tried AS (
        INSERT INTO delivery_attempts ({", ".join(_ATTEMPT)})
        SELECT {", ".join(f"a.{name}" for name in _ATTEMPT)}
        FROM unnest(CAST(:a_token AS bigint[]), {_arrays("a_", _ATTEMPT)})
            AS a(token, {", ".join(_ATTEMPT)})
        JOIN mine ON mine.id = a.notification_id AND mine.lease_token = a.token
    ), blocked AS (
        INSERT INTO channel_blocks ({", ".join(_BLOCK)})
        SELECT * FROM unnest({_arrays("b_", _BLOCK)})
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) FROM mine
    """  # noqa: S608 - the names are the constants above; the values are bound
)


_UTC = UTCDateTime()


def _bound(value: Any) -> Any:
    """A value as its column stores it (UTCDateTime: naive UTC)."""
    if isinstance(value, datetime):
        return _UTC.process_bind_param(value, None)  # type: ignore[arg-type]
    return value


async def _write_at_once(session: AsyncSession, writes: list[Write]) -> int:
    """_write on PostgreSQL, in one round trip (_RECORD)."""
    updates = [(w.token, u) for w in writes for u in w.updates]
    attempts = [(w.token, a) for w in writes for a in w.attempts]
    blocks = [b for w in writes for b in w.blocks]
    params: dict[str, list[Any]] = {
        "token": [token for token, _ in updates],
        "id": [u.id for _, u in updates],
        "changed": [sum(_BIT[name] for name in u.written()) for _, u in updates],
        "a_token": [token for token, _ in attempts],
    }
    for name in _RECORDED:
        params[name] = [_bound(getattr(u, name)) for _, u in updates]
    for name in _ATTEMPT:
        params[f"a_{name}"] = [_bound(getattr(a, name)) for _, a in attempts]
    for name in _BLOCK:
        params[f"b_{name}"] = [_bound(getattr(b, name)) for b in blocks]
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    written = int((await session.execute(_RECORD, params)).scalar_one())
    return len(updates) - written
