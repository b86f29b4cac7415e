"""The outbox against what the channel servers received: lost, duplicated and unattributed
messages (each message carries its event's number), per channel and recipient (a Telegram chat
id, a MAX user id, an email address, a phone number)."""

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
                Guardian.max_user_id,
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
        for status, reason, channel, chat, max_user, email, phone, provider_id in rows:
            outcomes[status if status != "skipped" else f"skipped:{reason}"] += 1
            if status == "sent":
                recipient = {"telegram": chat, "max": max_user, "email": email, "sms": phone}[
                    channel
                ]
                messages.add((channel, recipient, provider_id))
    expected = Counter((channel, to) for channel, to, _ in messages)
    return expected, outcomes


def received(
    records: dict[str, list[tuple[str, str, float]]],
) -> dict[tuple[str, str, int], list[float]]:
    got: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for kind, rows in records.items():
        channel = channel_of(kind)
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
    unattributed: received with no event number in it: an SMS in its short form names the
    subjects by abbreviations (a sibling's event in one segment with a pupil's, both named Пётр
    in the bench: "Пётр: ДЗ русс Пётр: ДЗ англ"); they are counted per recipient like the rest.
    rows_sent: outbox rows marked sent.
    Per channel besides (`received_max`, `lost_max`, `duplicated_max`, `unattributed_sms`,
    …): rows still pending or failed have no channel yet, so they count in `lost` only."""
    expected, outcomes = planned
    got: Counter[tuple[str, str]] = Counter()
    unattributed: Counter[str] = Counter()
    for kind, rows in records.items():
        for recipient, body, _ in rows:
            got[(channel_of(kind), recipient)] += 1
            unattributed[channel_of(kind)] += not MARKER.search(body)
    tally = Counter(unattributed=unattributed.total(), rows_sent=outcomes["sent"])
    for channel in sorted({channel_of(kind) for kind in records}):
        tally[f"received_{channel}"] = sum(n for (c, _), n in got.items() if c == channel)
        tally[f"unattributed_{channel}"] = unattributed[channel]
        tally[f"lost_{channel}"] = sum(
            max(0, n - got[key]) for key, n in expected.items() if key[0] == channel
        )
        tally[f"duplicated_{channel}"] = sum(
            max(0, n - expected[key]) for key, n in got.items() if key[0] == channel
        )
    tally["lost"] = sum(max(0, n - got[key]) for key, n in expected.items())
    tally["lost"] += outcomes["pending"] + outcomes["failed"]
    tally["duplicated"] = sum(max(0, n - expected[key]) for key, n in got.items())
    return tally


def channel_of(kind: str) -> str:
    """The outbox's channel of a channel server (bench/sinks.py): the SMTP server is email's."""
    return "email" if kind == "smtp" else kind
