"""Retention (REQUIREMENTS: journal data 5 years, final marks 25 years, 004 criterion 7.1): a
daily job removes journal events, announcements and delivery records older than the period,
and keeps period (final) marks for the longer one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import Announcement, DeliveryAttempt, JournalEvent, Notification

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
    await session.commit()
    purged = Purged(
        attempts=attempts.rowcount,  # type: ignore[attr-defined]
        notifications=notifications.rowcount,  # type: ignore[attr-defined]
        announcements=announcements.rowcount,  # type: ignore[attr-defined]
        events=events.rowcount,  # type: ignore[attr-defined]
        final_marks=finals.rowcount,  # type: ignore[attr-defined]
    )
    log.info("retention.purged", extra=vars(purged))
    return purged
