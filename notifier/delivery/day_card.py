"""The day's card: with the school's `edit_day_card`, a mark, a correction or a deletion that
comes after a guardian's day's report went (and before the evening) edits the report's Telegram
or MAX message instead of waiting for the evening's. An edit makes no sound, so the parent's
phone stays quiet and the card they open is the whole day. Off by default.

The planner keys such a row `c:<guardian>`; dispatch finds the card (the last Telegram or MAX
message the guardian's report rows and earlier edits went in), renders the report again from
the rows it showed plus the new ones, and edits the message. With no card to edit (the report
went by email, the chat is gone, the message can no longer be edited) the rows go in the
evening's message, as they would without the option."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Messenger
from notifier.db.among import among
from notifier.db.models import DeliveryAttempt, Notification
from notifier.db.plans import unindexed
from notifier.db.states import Outcome, RowStatus
from notifier.delivery.claimed import Claimed, ClaimedEvent, load_claimed
from notifier.delivery.grouping import MARK_TYPES, Item, fold

# The keys of a guardian's groups that wait for a time of the school's day.
REPORT_KEY = "r:"  # the day's report: "r:<guardian>"
CARD_KEY = "c:"  # news that edits the day's report once it went: "c:<guardian>"
EVENING_KEY = "d:"  # the evening's message: "d:<guardian>"


def evening_key(guardian_id: str) -> str:
    """The group of a guardian's evening message."""
    return f"{EVENING_KEY}{guardian_id}"


def edits_card(note: Claimed) -> bool:
    """Whether an outbox row edits its guardian's day's card."""
    return (note.group_key or "").startswith(CARD_KEY)


@dataclass
class Card:
    """A guardian's day's report as a messenger shows it: the message and the rows in it."""

    channel: Messenger
    message_id: str
    rows: list[Claimed] = field(default_factory=list)


async def load_cards(session: AsyncSession, since: dict[str, datetime]) -> dict[str, Card]:
    """The card of each guardian in `since` (guardian → when their school's report window
    opened today): the last messenger message their report rows or its edits went in since."""
    if not since:
        return {}
    keys = [f"{prefix}{g}" for g in since for prefix in (REPORT_KEY, CARD_KEY)]
    found = await session.execute(
        select(
            Notification.guardian_id,
            Notification.id,
            DeliveryAttempt.channel,
            DeliveryAttempt.provider_id,
            DeliveryAttempt.at,
        )
        .join(DeliveryAttempt, DeliveryAttempt.notification_id == Notification.id)
        .where(
            among(session, Notification.group_key, keys),
            unindexed(Notification.status) == RowStatus.sent,
            Notification.sent_at >= min(since.values()),
            unindexed(DeliveryAttempt.outcome) == Outcome.sent,
            DeliveryAttempt.channel.in_(list(Messenger)),
            DeliveryAttempt.provider_id.is_not(None),
        )
        .order_by(DeliveryAttempt.at, DeliveryAttempt.id)
    )
    messages: dict[str, tuple[str, str]] = {}
    rows: dict[tuple[str, str, str], list[int]] = {}
    for guardian_id, row_id, channel, provider_id, at in found.all():
        if at < since[guardian_id]:
            continue
        message = (channel, str(provider_id))
        messages[guardian_id] = message  # in time order: the last one stays
        rows.setdefault((guardian_id, *message), []).append(row_id)
    cards = {g: Card(Messenger(channel), mid) for g, (channel, mid) in messages.items()}
    ids = {i: g for g, (ch, mid) in messages.items() for i in rows[(g, ch, mid)]}
    if ids:
        for note in await load_claimed(session, ids):
            cards[ids[note.id]].rows.append(note)
    return cards


def mark_of(item: Item) -> str | None:
    mark_id = item.event.data.get("mark_id") if item.event.type in MARK_TYPES else None
    return str(mark_id) if mark_id is not None else None


def card_items(
    card: Card,
    news: list[Claimed],
    events: dict[int, ClaimedEvent],
    *,
    told_before: dict[tuple[str, str], dict[str, Any]],
    told: dict[tuple[str, str], dict[str, Any]],
) -> tuple[list[Item], list[Claimed]]:
    """What the edited card says, and the new rows that say nothing any more. The card's own
    items are folded as they were sent (`told_before`: what the guardian knew before the
    card); the news as any later message folds them (`told`), so a correction of a mark on the
    card reads "5 → 4" in its place, and a mark changed and changed back leaves it as it was."""
    shown = fold(card.rows, events, told_before).items
    new = fold(news, events, told)
    replaced = {mark for mark in map(mark_of, new.items) if mark is not None}
    kept = [item for item in shown if mark_of(item) not in replaced]
    return sorted([*kept, *new.items], key=lambda item: item.event.pk), new.superseded


def guardians_with_cards(notes: Iterable[Claimed]) -> set[str]:
    return {n.guardian_id for n in notes if edits_card(n)}
