"""The outbox against what the channel servers received: lost, duplicated and unattributed
messages (each message carries its event's number)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bench.region.database import analyze
from notifier.db.models import DeliveryAttempt, Guardian, JournalEvent, Notification

if TYPE_CHECKING:
    from bench.region.phases import Phase

MARKER = re.compile(r"№(\d+)")


async def expected_deliveries(
    sessions: Any, phase: Phase
) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """(channel, recipient) → how many messages the outbox says went (rows sent as one message,
    a list or a mark folded with its correction, count once); and the rows' outcomes."""
    messages: set[tuple[str, str, str | None]] = set()
    outcomes: Counter[str] = Counter()
    await analyze(sessions)
    async with sessions() as s:
        rows = await s.execute(
            select(
                Notification.status,
                Notification.reason,
                Notification.channel,
                Guardian.telegram_chat_id,
                Guardian.email,
                Guardian.phone,
                DeliveryAttempt.provider_id,
            )
            .join(JournalEvent, JournalEvent.pk == Notification.event_pk)
            .join(Guardian, Guardian.id == Notification.guardian_id)
            .outerjoin(
                DeliveryAttempt,
                (DeliveryAttempt.notification_id == Notification.id)
                & (DeliveryAttempt.outcome == "sent"),
            )
            .where(JournalEvent.source == phase.source)
        )
        for status, reason, channel, chat, email, phone, provider_id in rows:
            outcomes[status if status != "skipped" else f"skipped:{reason}"] += 1
            if status == "sent":
                recipient = {"telegram": chat, "email": email, "sms": phone}[channel]
                messages.add((channel, recipient, provider_id))
    expected = Counter((channel, to) for channel, to, _ in messages)
    return expected, outcomes


def received(
    records: dict[str, list[tuple[str, str, float]]],
) -> dict[tuple[str, str, int], list[float]]:
    got: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for kind, rows in records.items():
        channel = "email" if kind == "smtp" else kind
        for recipient, body, at in rows:
            for marker in {int(m) for m in MARKER.findall(body)}:
                got[(channel, recipient, marker)].append(at)
    return got


def reconcile(
    planned: tuple[Counter[tuple[str, str]], Counter[str]],
    records: dict[str, list[tuple[str, str, float]]],
) -> Counter[str]:
    """Messages per recipient, outbox against servers. lost: sent by the outbox's account (or
    still pending, or failed) and not received; duplicated: received more often than sent;
    unattributed: received with no event number in it; rows_sent: outbox rows marked sent."""
    expected, outcomes = planned
    got: Counter[tuple[str, str]] = Counter()
    unattributed = 0
    for kind, rows in records.items():
        for recipient, body, _ in rows:
            got[("email" if kind == "smtp" else kind, recipient)] += 1
            unattributed += not MARKER.search(body)
    lost = sum(max(0, n - got[key]) for key, n in expected.items())
    lost += outcomes["pending"] + outcomes["failed"]
    duplicated = sum(max(0, n - expected[key]) for key, n in got.items())
    return Counter(
        lost=lost, duplicated=duplicated, unattributed=unattributed, rows_sent=outcomes["sent"]
    )
