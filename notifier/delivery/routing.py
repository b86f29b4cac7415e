"""Which way a message goes, decided without I/O: wait for the end of quiet hours, or try these
channels in this order, or go nowhere (and why)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from notifier.channels.base import Channel, Recipient
from notifier.db.models import Guardian, School
from notifier.db.states import Reason
from notifier.delivery.claimed import Addressee
from notifier.delivery.timing import quiet_until
from notifier.roster.preferences import EffectivePreferences

PAPER = "paper"  # a guardian's choice in the channel order: nothing electronic after it


def held_until(
    *, now: datetime, prefs: EffectivePreferences, school: School | None, urgent: bool
) -> datetime | None:
    """The end of the quiet hours (the guardian's, else the school's) a message must wait
    for, or None: it may go now. Urgent messages never wait."""
    if school is None or urgent:
        return None
    start, end = prefs.quiet_window(school)
    return quiet_until(now, zone=school.timezone, start=start, end=end)


def recipient_of(guardian: Guardian | Addressee) -> Recipient:
    """The addresses of a guardian as a channel sees them (channels never read the database)."""
    return Recipient(
        guardian_id=guardian.id,
        name=guardian.full_name,
        email=guardian.email,
        phone=guardian.phone,
        telegram_chat_id=guardian.telegram_chat_id,
        telegram_bot_id=guardian.telegram_bot_id,
        max_user_id=guardian.max_user_id,
    )


@dataclass(frozen=True)
class Route:
    """The channels to try in order, first reachable first; when there are none,
    `unreachable` says why."""

    channels: tuple[str, ...] = ()
    unreachable: Reason = Reason.no_channel


def route(
    *,
    prefs: EffectivePreferences,
    blocked: Collection[str],
    allows: Collection[str] | None,
    recipient: Recipient,
    channels: Mapping[str, Channel],
) -> Route:
    """The guardian's channel order, without channels that failed for good, stopping at
    paper, keeping those the message may use (`allows`, None: any) and that reach the
    recipient."""
    order = [c for c in prefs.channels if c not in blocked]
    on_paper = PAPER in order
    if on_paper:
        order = order[: order.index(PAPER)]
    usable = tuple(
        name
        for name in order
        if (allows is None or name in allows)
        and name in channels
        and channels[name].reachable(recipient)
    )
    return Route(usable, Reason.paper if on_paper else Reason.no_channel)
