"""Send what is due: claim a batch from the outbox, render, send by the first reachable
channel, retry transient failures with backoff, fall back on permanent ones, log every try."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Channel, Recipient
from notifier.config import Settings
from notifier.db.bulk import insert_ignore
from notifier.db.engine import SessionFactory
from notifier.db.models import (
    ChannelBlock,
    Consent,
    DeliveryAttempt,
    Guardian,
    JournalEvent,
    Notification,
    Preference,
    Student,
)
from notifier.delivery.context import (
    PersonView,
    load_places,
    previous_mark,
    template_context,
)
from notifier.errors import PermanentDelivery, TransientDelivery
from notifier.rendering import Renderer
from notifier.roster.preferences import effective

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass
class DeliveryStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, other: DeliveryStats) -> None:
        for name in ("claimed", "sent", "retried", "failed", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Outcome:
    values: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)


def _due(now: datetime) -> Any:
    return and_(
        Notification.status == "pending",
        Notification.due_at <= now,
        or_(Notification.lease_until.is_(None), Notification.lease_until < now),
    )


async def claim(*, session: AsyncSession, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Lease up to `limit` due messages to this worker; others skip them until the lease ends."""
    pick = select(Notification.id).where(_due(now)).order_by(Notification.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(Notification)
        .where(Notification.id.in_(pick.scalar_subquery()), _due(now))
        .values(lease_until=now + lease)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    ids = list((await session.scalars(stmt)).all())
    await session.commit()
    return ids


class Dispatcher:
    """One per worker process; `run()` is the body of the `deliver_due` job."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        channels: dict[str, Channel],
        renderer: Renderer,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.sessions = sessions
        self.channels = channels
        self.renderer = renderer
        self.settings = settings
        self.clock = clock
        self._limit = asyncio.Semaphore(settings.delivery_concurrency)

    async def run(self, *, time_budget: float = 10.0) -> DeliveryStats:
        """Deliver batches until nothing is due or the time slice is used up."""
        total = DeliveryStats()
        started = time.monotonic()
        while time.monotonic() - started < time_budget:
            stats = await self.deliver_batch()
            total.add(stats)
            if stats.claimed < self.settings.delivery_batch_size:
                break
        return total

    async def deliver_batch(self) -> DeliveryStats:
        now = self.clock()
        async with self.sessions() as session:
            ids = await claim(
                session=session,
                now=now,
                limit=self.settings.delivery_batch_size,
                lease=timedelta(seconds=self.settings.lease_seconds),
            )
            if not ids:
                return DeliveryStats()
            jobs = await self._prepare(session, ids, now)
        outcomes = await asyncio.gather(*(self._deliver(now, *job) for job in jobs))
        stats = DeliveryStats(claimed=len(ids))
        async with self.sessions() as session:
            updates = []
            attempts = []
            blocks = []
            for outcome in outcomes:
                updates.append(outcome.values)
                attempts.extend(outcome.attempts)
                blocks.extend(outcome.blocks)
                status = outcome.values["status"]
                if status == "sent":
                    stats.sent += 1
                elif status == "failed":
                    stats.failed += 1
                elif status == "skipped":
                    stats.skipped += 1
                else:
                    stats.retried += 1
            await session.execute(update(Notification), updates)
            if attempts:
                session.add_all(DeliveryAttempt(**a) for a in attempts)
            if blocks:
                await session.execute(insert_ignore(session, ChannelBlock.__table__, blocks))  # type: ignore[arg-type]
            await session.commit()
        log.info("delivery.batch", extra=vars(stats))
        return stats

    async def _prepare(
        self, session: AsyncSession, ids: list[int], now: datetime
    ) -> list[tuple[Notification, dict[str, Any] | None, Recipient | None, tuple[str, ...]]]:
        for configured in self.channels.values():
            await configured.refresh(session)
        notes = list(await session.scalars(select(Notification).where(Notification.id.in_(ids))))
        events = {
            e.pk: e
            for e in await session.scalars(
                select(JournalEvent).where(JournalEvent.pk.in_({n.event_pk for n in notes}))
            )
        }
        guardian_ids = {n.guardian_id for n in notes}
        guardians = {
            g.id: g
            for g in await session.scalars(select(Guardian).where(Guardian.id.in_(guardian_ids)))
        }
        students = {
            s.id: s
            for s in await session.scalars(
                select(Student).where(Student.id.in_({n.student_id for n in notes if n.student_id}))
            )
        }
        consented = set(
            await session.scalars(
                select(Consent.guardian_id).where(
                    Consent.guardian_id.in_(guardian_ids), Consent.revoked_at.is_(None)
                )
            )
        )
        prefs = {
            p.guardian_id: effective(p)
            for p in await session.scalars(
                select(Preference).where(Preference.guardian_id.in_(guardian_ids))
            )
        }
        blocked: dict[str, set[str]] = {}
        for guardian_id, channel in await session.execute(
            select(ChannelBlock.guardian_id, ChannelBlock.channel).where(
                ChannelBlock.guardian_id.in_(guardian_ids)
            )
        ):
            blocked.setdefault(guardian_id, set()).add(channel)
        schools, classes = await load_places(session=session, students=list(students.values()))
        jobs: list[tuple[Notification, dict[str, Any] | None, Recipient | None, tuple[str, ...]]]
        jobs = []
        for note in notes:
            guardian = guardians.get(note.guardian_id)
            event = events[note.event_pk]
            if guardian is None or note.guardian_id not in consented:
                jobs.append((note, None, None, ()))
                continue
            student = students.get(note.student_id or "")
            previous = (
                await previous_mark(session=session, event=event)
                if event.type in ("journal.mark.deleted", "journal.mark.updated")
                else None
            )
            context = template_context(
                event=event,
                student=student,
                guardian=PersonView(guardian.id, guardian.full_name),
                school=schools.get(student.school_id) if student else None,
                class_name=classes.get(student.class_id or "") if student else None,
                previous=previous,
            )
            recipient = Recipient(
                guardian_id=guardian.id,
                name=guardian.full_name,
                email=guardian.email,
                phone=guardian.phone,
                telegram_chat_id=guardian.telegram_chat_id,
                telegram_bot_id=guardian.telegram_bot_id,
            )
            dead = blocked.get(guardian.id, set())
            order = tuple(
                c for c in prefs.get(guardian.id, effective(None)).channels if c not in dead
            )
            jobs.append((note, context, recipient, order))
        return jobs

    def _render(self, channel: str, kind: str, context: dict[str, Any]) -> Any:
        if channel == "email":
            return self.renderer.email(kind, context)
        if channel == "telegram":
            return self.renderer.telegram(kind, context)
        return self.renderer.text(kind, f"{channel}.txt.j2", context)

    async def _deliver(
        self,
        now: datetime,
        note: Notification,
        context: dict[str, Any] | None,
        recipient: Recipient | None,
        order: tuple[str, ...],
    ) -> _Outcome:
        base = {
            "id": note.id,
            "lease_until": None,
            "attempts": note.attempts,
            "due_at": note.due_at,
            "channel": note.channel,
            "sent_at": None,
            "segments": note.segments,
        }
        if context is None or recipient is None:
            return _Outcome({**base, "status": "skipped", "reason": "no_consent"})
        candidates = [
            name
            for name in order
            if name in self.channels and self.channels[name].reachable(recipient)
        ]
        if not candidates:
            return _Outcome({**base, "status": "skipped", "reason": "no_channel"})
        outcome = _Outcome(base)
        reasons = []
        # The first reachable channel only; the next one only when this one failed for good.
        for name in candidates:
            channel = self.channels[name]
            try:
                content = self._render(name, note.kind, context)
                async with self._limit:
                    result = await channel.send(
                        recipient, content, ref=f"notifier-{note.id}", now=now
                    )
            except TransientDelivery as exc:
                outcome.attempts.append(self._attempt(note, name, now, "transient", exc.reason))
                outcome.values = self._retry(base, note, now, exc)
                return outcome
            except PermanentDelivery as exc:
                outcome.attempts.append(self._attempt(note, name, now, "permanent", exc.reason))
                reasons.append(f"{name}: {exc.reason}")
                if exc.unusable:
                    outcome.blocks.append(
                        {
                            "guardian_id": note.guardian_id,
                            "channel": name,
                            "reason": exc.reason[:500],
                            "at": now,
                        }
                    )
                log.info(
                    "delivery.permanent",
                    extra={"notification_id": note.id, "channel": name, "unusable": exc.unusable},
                )
                continue
            outcome.attempts.append(
                self._attempt(note, name, now, "sent", result.detail, result.provider_id)
            )
            log.info("delivery.sent", extra={"notification_id": note.id, "channel": name})
            outcome.values = {
                **base,
                "status": "sent",
                "reason": None,
                "channel": name,
                "sent_at": now,
                "attempts": note.attempts + 1,
                "segments": result.segments,
            }
            return outcome
        outcome.values = {
            **base,
            "status": "failed",
            "reason": "; ".join(reasons)[:500],
            "attempts": note.attempts + 1,
        }
        return outcome

    def _retry(
        self, base: dict[str, Any], note: Notification, now: datetime, exc: TransientDelivery
    ) -> dict[str, Any]:
        """Pending again after a backoff (or the channel's own retry_after), or failed."""
        tries = note.attempts + 1
        s = self.settings
        if exc.retry_after is not None:
            delay = float(exc.retry_after)
        else:
            delay = min(s.retry_max_seconds, s.retry_base_seconds * 2 ** (tries - 1))
            delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        due = now + timedelta(seconds=delay)
        if (due - note.created_at).total_seconds() > s.retry_budget_seconds:
            log.info("delivery.gave_up", extra={"notification_id": note.id, "tries": tries})
            return {
                **base,
                "status": "failed",
                "attempts": tries,
                "reason": f"gave up after {tries} tries: {exc.reason}"[:500],
            }
        log.info(
            "delivery.retry",
            extra={"notification_id": note.id, "tries": tries, "delay": round(delay, 1)},
        )
        return {
            **base,
            "status": "pending",
            "attempts": tries,
            "due_at": due,
            "reason": exc.reason[:500],
        }

    @staticmethod
    def _attempt(
        note: Notification,
        channel: str,
        now: datetime,
        outcome: str,
        detail: str | None,
        provider_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "notification_id": note.id,
            "channel": channel,
            "at": now,
            "outcome": outcome,
            "detail": detail,
            "provider_id": provider_id,
        }

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
