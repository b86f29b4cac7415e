"""SMS delivery receipts applied to the outbox: a sent SMS becomes delivered, or undelivered and
due again by the next channel (a fallback like a failed send's, see `Batch.excluded`).

Receipts come late, twice, out of order, or for ids we never sent; each is applied at most once
per message: the first final state wins, a `pending` changes nothing, and an unknown id is only
counted. Every receipt applied is a row of the delivery log (outcome delivered | undelivered)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.sms_provider import Receipt, ReceiptState
from notifier.channels.smsc import SmscGateway
from notifier.db.engine import SessionFactory
from notifier.db.models import DeliveryAttempt, Guardian, Notification
from notifier.db.plans import unindexed
from notifier.db.states import Outcome, RowStatus
from notifier.errors import DeliveryError

log = logging.getLogger(__name__)

SMS = "sms"


@dataclass
class Applied:
    """What a set of receipts did (the callback's answer and the log line count these)."""

    delivered: int = 0
    undelivered: int = 0  # messages due again by the next channel
    pending: int = 0  # not final: nothing changed
    repeated: int = 0  # a message that already had its final receipt
    # No SMS we sent has that id: another system's, already purged, or not recorded yet (an
    # SMSC may answer before the worker writes down what it sent: ReceiptInbox tries again).
    unknown: list[Receipt] = field(default_factory=list)


async def apply_receipts(
    *, session: AsyncSession, receipts: Sequence[Receipt], now: datetime
) -> Applied:
    """Apply `receipts` and commit."""
    applied = Applied()
    for receipt in receipts:
        if receipt.state is ReceiptState.pending:
            applied.pending += 1
            continue
        ids = list(
            await session.scalars(
                select(DeliveryAttempt.notification_id).where(
                    DeliveryAttempt.provider_id == receipt.provider_id,
                    DeliveryAttempt.channel == SMS,
                    # By the provider's id: as a search, the outcome walked every attempt
                    # that went, for each receipt (db/plans.py).
                    unindexed(DeliveryAttempt.outcome) == Outcome.sent,
                )
            )
        )
        if not ids:
            applied.unknown.append(receipt)
            continue
        # Only rows still waiting for their receipt: the check and the change are one
        # statement, so two copies of a receipt handled at once change a row once.
        final = (
            Outcome.delivered if receipt.state is ReceiptState.delivered else Outcome.undelivered
        )
        changes: dict[str, object] = {"receipt": final.value}
        if final is Outcome.undelivered:
            changes.update(
                status=RowStatus.pending,
                due_at=now,
                channel=None,
                sent_at=None,
                lease_until=None,
                reason=f"sms undelivered ({_code(receipt)})"[:500],
            )
        # Only rows still waiting for their receipt: the check and the change are one
        # statement, so two copies of a receipt handled at once change a row once.
        result = await session.execute(
            update(Notification)
            .where(
                Notification.id.in_(ids),
                Notification.channel == SMS,
                Notification.status == RowStatus.sent,
                Notification.receipt.is_(None),
            )
            .values(**changes)
            .returning(Notification.id)
        )
        changed = list(result.scalars())
        if not changed:
            applied.repeated += 1
            continue
        await session.execute(
            insert(DeliveryAttempt),
            [
                {
                    "notification_id": note_id,
                    "channel": SMS,
                    "at": now,
                    "outcome": final,
                    "detail": f"{receipt.provider} receipt: {_code(receipt)}"[:500],
                    "provider_id": receipt.provider_id,
                }
                for note_id in changed
            ],
        )
        if final is Outcome.delivered:
            applied.delivered += 1
        else:
            applied.undelivered += 1
    await session.commit()
    log.info(
        "sms.receipts",
        extra={
            "delivered": applied.delivered,
            "undelivered": applied.undelivered,
            "pending": applied.pending,
            "repeated": applied.repeated,
            "unknown": len(applied.unknown),
        },
    )
    return applied


def _code(receipt: Receipt) -> str:
    return receipt.detail or receipt.state.value


class ReceiptInbox:
    """Where a provider that gets receipts on its own connection (an SMPP bind's deliver_sm)
    puts them: applied in lots every `interval` seconds. A receipt naming a send not recorded
    yet (the worker records a batch when all of it is out) is tried again for `retry_for`."""

    def __init__(
        self,
        sessions: SessionFactory,
        clock: Callable[[], datetime],
        *,
        interval: float = 1.0,
        retry_for: float = 600.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.interval = interval
        self.retry_for = retry_for
        self._waiting: list[tuple[Receipt, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def put(self, receipt: Receipt) -> None:
        self._waiting.append((receipt, time.monotonic()))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        """Apply what waits now; keep the unknown ones that are young enough."""
        lot, self._waiting = self._waiting, []
        if not lot:
            return
        first_seen = {id(receipt): seen for receipt, seen in lot}
        try:
            async with self.sessions() as session:
                applied = await apply_receipts(
                    session=session, receipts=[r for r, _ in lot], now=self.clock()
                )
        except Exception as exc:  # the database is away: the lot waits for the next round
            log.warning("sms.receipts_deferred", extra={"error": type(exc).__name__})
            self._waiting = lot + self._waiting
            return
        now = time.monotonic()
        self._waiting += [
            (r, first_seen[id(r)])
            for r in applied.unknown
            if now - first_seen[id(r)] < self.retry_for
        ]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


# The status query (smsc.ru's status.php) asks after SMS sent at least this long ago and not
# longer than the providers keep trying, that have no final receipt yet: a lost callback, or
# callbacks not set up at all.
POLL_AFTER = timedelta(minutes=10)
POLL_UNTIL = timedelta(days=3)


async def poll_receipts(
    *, sessions: SessionFactory, gateway: SmscGateway, now: datetime, limit: int = 100
) -> Applied:
    """Ask the provider about up to `limit` SMS without a final receipt, and
    apply what it says."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(DeliveryAttempt.provider_id, Guardian.phone)
                .join(Notification, Notification.id == DeliveryAttempt.notification_id)
                .join(Guardian, Guardian.id == Notification.guardian_id)
                .where(
                    DeliveryAttempt.channel == SMS,
                    DeliveryAttempt.outcome == Outcome.sent,
                    # A sent attempt's time is its row's sent_at: by these the (outcome, at)
                    # index reads the window's attempts, not every SMS the year kept.
                    DeliveryAttempt.at <= now - POLL_AFTER,
                    DeliveryAttempt.at > now - POLL_UNTIL,
                    DeliveryAttempt.provider_id.is_not(None),
                    Notification.channel == SMS,
                    Notification.status == RowStatus.sent,
                    Notification.receipt.is_(None),
                    Notification.sent_at <= now - POLL_AFTER,
                    Notification.sent_at > now - POLL_UNTIL,
                )
                .distinct()
                .order_by(DeliveryAttempt.provider_id)
                .limit(limit)
            )
        ).all()
        receipts = []
        for provider_id, phone in rows:
            if not phone:
                continue
            try:
                receipts.append(await gateway.status(str(provider_id), phone))
            except DeliveryError as exc:  # smsc.ru cannot say now: the next round asks again
                log.info("sms.status_unknown", extra={"error": type(exc).__name__})
        return await apply_receipts(session=session, receipts=receipts, now=now)
