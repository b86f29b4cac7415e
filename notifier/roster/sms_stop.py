"""A parent's "STOP" (or "СТОП") answered by SMS: every category of the guardians with that
number goes off but the school's announcements (which carry its urgent ones), each change in
the audit trail as the guardian's own, through the one place preferences change (choices)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.categories import ALL_CATEGORIES, Category, Mode
from notifier.channels.base import Channel, Recipient
from notifier.channels.sms_callbacks import IncomingSms
from notifier.db.models import Guardian, Preference
from notifier.errors import DeliveryError
from notifier.roster.choices import set_mode
from notifier.roster.schemas import normalise_phone

log = logging.getLogger(__name__)

KEPT = Category.announcements  # a school closed by a burst pipe still reaches them
STOPPED = tuple(c for c in ALL_CATEGORIES if c is not KEPT)

CONFIRMATION = (
    "Вы отписаны от SMS об оценках, домашних заданиях, посещаемости и расписании. "
    "Важные объявления школы будут приходить. Вернуть: через классного руководителя."
)


async def stop_by_sms(*, session: AsyncSession, phone: str) -> list[str]:
    """Turn the non-urgent categories off for every guardian with this number; the ids of
    those it changed anything for (none: a number we do not know, not a phone number, or a
    STOP sent again), so each is confirmed once."""
    try:
        number = normalise_phone(phone)
    except ValueError:
        return []
    changed = []
    for guardian_id in list(
        await session.scalars(select(Guardian.id).where(Guardian.phone == number))
    ):
        own = await session.get(Preference, guardian_id)
        chosen = (own.categories or {}) if own is not None else {}
        still_on = [c for c in STOPPED if chosen.get(c) != Mode.off]
        for category in still_on:
            await set_mode(
                session=session,
                guardian_id=guardian_id,
                category=category,
                mode=Mode.off,
                via="sms_stop",
            )
        if still_on:
            changed.append(guardian_id)
    return changed


async def answer_reply(
    *, session: AsyncSession, sms: Channel | None, reply: IncomingSms, now: datetime
) -> int:
    """A parent's SMS to us, from a provider's callback or an SMPP bind: a STOP turns their
    non-urgent categories off and is confirmed once by SMS; anything else is not read. How
    many guardians it stopped."""
    if not reply.is_stop:
        return 0
    stopped = await stop_by_sms(session=session, phone=reply.phone)
    if stopped and sms is not None:
        recipient = Recipient(guardian_id=stopped[0], name="", phone=reply.phone)
        try:
            await sms.send(recipient, CONFIRMATION, ref=f"stop-{stopped[0]}", now=now)
        except DeliveryError as exc:  # the choice holds; only its confirmation is lost
            log.warning(
                "sms.stop_confirmation_failed",
                extra={"guardian_id": stopped[0], "error": type(exc).__name__},
            )
    log.info("sms.stop", extra={"guardians": stopped})
    return len(stopped)
