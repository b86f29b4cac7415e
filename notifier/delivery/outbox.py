"""The outbox's SQL: claiming due rows under a lease, renewing it, and recording what
happened to them. Delivery (dispatch.py) decides; this module only reads and writes rows."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from notifier.db.bulk import insert_ignore
from notifier.db.engine import SessionFactory
from notifier.db.models import ChannelBlock, DeliveryAttempt, Notification
from notifier.db.states import RowStatus
from notifier.delivery.day_card import CARD_KEY

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the claim (any constant the application uses for nothing else).
CLAIM_LOCK = 0x6E6F7469  # "noti"
RECORD_TRIES = 6  # at least this many tries (0.2 s doubling, at most RECORD_MAX_DELAY apart)
RECORD_MAX_DELAY = 2.0


def _due(now: datetime) -> Any:
    return and_(
        Notification.status == RowStatus.pending,
        Notification.due_at <= now,
        or_(Notification.lease_until.is_(None), Notification.lease_until < now),
    )


def _card_free(now: datetime) -> Any:
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


async def claim(*, session: AsyncSession, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Lease up to `limit` due rows, and the rest of their groups, to this worker; others
    skip them until the lease ends."""
    pick = (
        select(Notification.id)
        .where(_due(now), _card_free(now))
        .order_by(Notification.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # One claim at a time per database. Two claims taking whole groups lock rows in no
        # set order and deadlock (seen in the region benchmark with two delivery runs in one
        # worker); a claim is two short statements, so taking turns costs nothing.
        await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
        pick = pick.with_for_update(skip_locked=True)
    lease_them = (
        update(Notification)
        .values(lease_until=now + lease)
        .returning(Notification.id, Notification.group_key)
        .execution_options(synchronize_session=False)
    )
    # Picked first, leased second: as `id IN (subquery)`, PostgreSQL could run the locking,
    # limited subquery once per outer row, each time skipping the rows it had just locked, and
    # lease the whole backlog in one claim (9,980 rows for a limit of 200, in 8.5 s).
    picked = list(await session.scalars(pick))
    if not picked:
        await session.commit()
        return []
    # The lease checks `due` again: on SQLite another process may have leased a row since.
    rows = list(
        (await session.execute(lease_them.where(Notification.id.in_(picked), _due(now)))).all()
    )
    keys = {key for _, key in rows if key}
    if keys:  # a group leaves whole, even when the limit cut it
        rows += (
            await session.execute(lease_them.where(Notification.group_key.in_(keys), _due(now)))
        ).all()
    await session.commit()
    return sorted({row_id for row_id, _ in rows})


async def renew_lease(*, session: AsyncSession, ids: list[int], until: datetime) -> None:
    """Keep a batch leased while it is out (rows already recorded are left alone)."""
    await session.execute(
        update(Notification)
        .where(
            Notification.id.in_(ids),
            Notification.status == RowStatus.pending,
            Notification.lease_until.is_not(None),
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def record(
    sessions: SessionFactory,
    updates: list[dict[str, Any]],
    attempts: list[dict[str, Any]],
    blocks: list[dict[str, Any]],
    *,
    lease_ends: float,
) -> None:
    """Write what happened. The messages are out: a lost record would send them again when
    the lease ends, so a deadlock or a dropped connection is retried, not given up on.

    Found by tests/faults/: six tries (about 6 s) were shorter than a PostgreSQL
    restart, after which every message of the batch went a second time. It now keeps
    trying (at least RECORD_TRIES times) until shortly before the batch's lease ends
    (`lease_ends`, monotonic), so nobody can have claimed the rows meanwhile."""
    give_up = lease_ends - RECORD_MAX_DELAY
    attempt = 0
    while True:
        try:
            async with sessions() as session:
                await session.execute(update(Notification), updates)
                if attempts:
                    await session.execute(insert(DeliveryAttempt), attempts)
                if blocks:
                    ignore = insert_ignore(session, ChannelBlock.__table__)  # type: ignore[arg-type]
                    await session.execute(ignore, blocks)
                await session.commit()
            return
        except IntegrityError:
            raise
        except (DBAPIError, OSError) as exc:
            delay = min(RECORD_MAX_DELAY, 0.2 * 2**attempt)
            attempt += 1
            if attempt >= RECORD_TRIES and time.monotonic() + delay > give_up:
                raise
            log.warning(
                "delivery.record_retry",
                extra={"error": type(exc).__name__, "rows": len(updates), "try": attempt},
            )
            await asyncio.sleep(delay)
