"""Retention (REQUIREMENTS: journal data 5 years, final marks 25 years, 004 criterion 7.1): a
daily job removes journal events, announcements, delivery records and audit entries older than
the period, keeps period (final) marks for the longer one, and removes link codes past their
expiry. Outside the database it removes, each after its own shorter period, the files of the
file outbox and the entries of the event stream and of the dead-letter stream."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.outbox import remove_older_than
from notifier.config import Settings
from notifier.db.models import (
    Announcement,
    AuditEntry,
    DeliveryAttempt,
    JournalEvent,
    LinkCode,
    Notification,
)
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM

log = logging.getLogger(__name__)

FINAL_MARKS = ("journal.period_mark.created",)
YEAR = timedelta(days=365.25)


@dataclass(frozen=True)
class Purged:
    attempts: int
    notifications: int
    announcements: int
    events: int
    final_marks: int
    link_codes: int
    audit_entries: int


async def purge_expired(
    *, session: AsyncSession, now: datetime, years: float, final_mark_years: float
) -> Purged:
    """Delete what is older than its period; one transaction, committed."""
    cutoff = now - years * YEAR
    final_cutoff = now - final_mark_years * YEAR
    old_rows = select(Notification.id).where(Notification.created_at < cutoff)
    attempts = await session.execute(
        delete(DeliveryAttempt).where(
            (DeliveryAttempt.at < cutoff) | DeliveryAttempt.notification_id.in_(old_rows)
        )
    )
    expired_events = select(JournalEvent.pk).where(
        ((JournalEvent.received_at < cutoff) & JournalEvent.type.not_in(FINAL_MARKS))
        | (JournalEvent.received_at < final_cutoff)
    )
    # A row about an event that goes, goes with it, whatever its own age.
    rows_of_expired = select(Notification.id).where(Notification.event_pk.in_(expired_events))
    await session.execute(
        delete(DeliveryAttempt).where(DeliveryAttempt.notification_id.in_(rows_of_expired))
    )
    notifications = await session.execute(
        delete(Notification).where(
            (Notification.created_at < cutoff) | Notification.event_pk.in_(expired_events)
        )
    )
    announcements = await session.execute(
        delete(Announcement).where(Announcement.event_pk.in_(expired_events))
    )
    finals = await session.execute(
        delete(JournalEvent).where(
            JournalEvent.type.in_(FINAL_MARKS), JournalEvent.received_at < final_cutoff
        )
    )
    events = await session.execute(
        delete(JournalEvent).where(
            JournalEvent.received_at < cutoff, JournalEvent.type.not_in(FINAL_MARKS)
        )
    )
    # Used or not, a code is no use past its expiry (link_chat refuses it); until then a used
    # one stays, so that a second try is told "already used".
    codes = await session.execute(delete(LinkCode).where(LinkCode.expires_at <= now))
    audit = await session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    await session.commit()
    purged = Purged(
        attempts=attempts.rowcount,  # type: ignore[attr-defined]
        notifications=notifications.rowcount,  # type: ignore[attr-defined]
        announcements=announcements.rowcount,  # type: ignore[attr-defined]
        events=events.rowcount,  # type: ignore[attr-defined]
        final_marks=finals.rowcount,  # type: ignore[attr-defined]
        link_codes=codes.rowcount,  # type: ignore[attr-defined]
        audit_entries=audit.rowcount,  # type: ignore[attr-defined]
    )
    log.info("retention.purged", extra=vars(purged))
    return purged


@dataclass(frozen=True)
class Swept:
    """What went outside the database."""

    outbox_files: int
    stream_entries: int
    dead_letters: int


async def sweep_outside(
    *,
    redis: Redis,
    outbox_dir: Path,
    now: datetime,
    outbox_days: float,
    stream_days: float,
    dead_letter_days: float,
) -> Swept:
    """Delete outbox files and stream entries older than their periods."""
    files = await asyncio.to_thread(
        remove_older_than, outbox_dir, now - timedelta(days=outbox_days)
    )
    cutoff = stream_id(now - timedelta(days=stream_days))
    # Never what the consumer group has not stored yet (unread, or read and not acknowledged):
    # after a long outage of the consumers those are events that exist nowhere else.
    kept = await _first_kept(redis)
    entries = 0
    if kept is not None:
        entries = await _trim_before(redis, STREAM, min(cutoff, kept, key=_id_order))
    dead = await _trim_before(redis, DEAD_STREAM, stream_id(now - timedelta(days=dead_letter_days)))
    swept = Swept(outbox_files=files, stream_entries=entries, dead_letters=dead)
    log.info("retention.swept", extra=vars(swept))
    return swept


async def apply_retention(
    *, session: AsyncSession, redis: Redis, settings: Settings, now: datetime
) -> tuple[Purged, Swept]:
    """The nightly job: the database's periods, then those of the files and streams."""
    purged = await purge_expired(
        session=session,
        now=now,
        years=settings.retention_years,
        final_mark_years=settings.final_marks_retention_years,
    )
    swept = await sweep_outside(
        redis=redis,
        outbox_dir=settings.outbox_dir,
        now=now,
        outbox_days=settings.outbox_retention_days,
        stream_days=settings.stream_retention_days,
        dead_letter_days=settings.dead_letter_retention_days,
    )
    return purged, swept


def stream_id(moment: datetime) -> str:
    """The first stream id at or after a moment (ids are milliseconds of Redis's clock)."""
    return f"{int(moment.timestamp() * 1000)}-0"


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def _first_kept(redis: Redis) -> str | None:
    """The oldest id of the event stream that must stay: the group's oldest unacknowledged
    entry, else the one after its last read ("0-0" while there is no group); None without a
    stream."""
    try:
        groups = await redis.xinfo_groups(STREAM)
    except ResponseError:  # no such key: nothing to trim
        return None
    mine = [g for g in groups if _text(g["name"]) == GROUP]
    if not mine:
        return "0-0"
    pending = await redis.xpending(STREAM, GROUP)
    if pending["pending"]:
        return _text(pending["min"])
    ms, seq = _id_order(_text(mine[0]["last-delivered-id"]))
    return f"{ms}-{seq + 1}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _trim_before(redis: Redis, stream: str, min_id: str) -> int:
    """XTRIM MINID: whole nodes first, at most 10,000 entries a call (Redis's default limit
    for `~`), so a long backlog never blocks Redis at once; then exactly, for the rest."""
    removed = 0
    while trimmed := int(await redis.xtrim(stream, minid=min_id, approximate=True)):
        removed += trimmed
    return removed + int(await redis.xtrim(stream, minid=min_id, approximate=False))
