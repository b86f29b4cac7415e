"""Linking a messenger's chat (a Telegram chat, a MAX user) to a guardian or a staff member:
single-use, expiring codes, stored only as hashes, each for one messenger; a new code voids the
older unused ones of that messenger; unlinking by the chat or by the school."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit
from notifier.auth import Principal
from notifier.channels.base import Messenger
from notifier.channels.max import MaxChannel
from notifier.channels.telegram import TelegramChannel
from notifier.db.models import (
    ChannelBlock,
    Guardian,
    GuardianStudent,
    LinkCode,
    SchoolClass,
    Staff,
    Student,
)
from notifier.errors import Conflict, InvalidInput, NotFound
from notifier.rendering import PupilView
from notifier.roster.service import active_consent, get_guardian, guardian_bot_token


class LinkSubject(StrEnum):
    """Whose chat a code links."""

    guardian = "guardian"
    staff = "staff"


class Refusal(StrEnum):
    """Why a code linked nothing."""

    unknown = "unknown"
    used = "used"
    expired = "expired"
    replaced = "replaced"  # a newer code was made for the same person


class LinkRefused(InvalidInput):
    """A code that links nothing; `kind` says why."""

    def __init__(self, kind: Refusal, reason: str) -> None:
        super().__init__(reason, field="code")
        self.kind = kind


@dataclass(frozen=True)
class Replaced:
    """The chat a new link took the place of: the bot edge tells it."""

    chat_id: str
    bot_id: str | None


@dataclass(frozen=True)
class Linked:
    guardian_id: str  # or the staff id, when `staff`
    children: tuple[str, ...]  # first names (a teacher: class names), for the confirmation
    staff: bool = False
    locale: str = "ru"
    consent: bool = True  # a guardian without consent in force is linked but hears nothing
    replaced: Replaced | None = None


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def create_link_code(
    *,
    session: AsyncSession,
    guardian_id: str,
    ttl: timedelta,
    now: datetime,
    by_token: int | None,
    subject_type: str = LinkSubject.guardian,
    messenger: Messenger = Messenger.telegram,
    commit: bool = True,
) -> tuple[str, datetime]:
    """A new code for this guardian (or staff member, with subject_type="staff") and one
    messenger, in the deep-link alphabet both Telegram and MAX take, 128 bits; shown once;
    their older unused codes of that messenger stop working. With `commit` False the caller
    commits (a batch of codes stands or falls together)."""
    if subject_type == LinkSubject.staff:
        if await session.get(Staff, guardian_id) is None:
            raise NotFound(f"no staff member {guardian_id!r}")
    else:
        await get_guardian(session=session, guardian_id=guardian_id)
    # Only the newest code links: one handed out earlier (and perhaps lost or forwarded) is void.
    await session.execute(
        update(LinkCode)
        .where(
            LinkCode.subject_type == subject_type,
            LinkCode.subject_id == guardian_id,
            LinkCode.messenger == messenger.value,
            LinkCode.used_at.is_(None),
            LinkCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    code = secrets.token_urlsafe(16)
    expires = now + ttl
    session.add(
        LinkCode(
            code_hash=_hash(code),
            subject_type=subject_type,
            subject_id=guardian_id,
            messenger=messenger.value,
            created_at=now,
            created_by=by_token,
            expires_at=expires,
        )
    )
    if commit:
        await session.commit()
    return code, expires


@dataclass(frozen=True)
class IssuedLink:
    """A fresh code (shown once) and the link that opens the person's bot with it."""

    code: str
    url: str
    expires_at: datetime


NOT_CONFIGURED = {
    Messenger.telegram: "Telegram is not configured: set NOTIFIER_TELEGRAM_TOKEN",
    Messenger.max: "MAX is not configured: set NOTIFIER_MAX_TOKEN",
}


async def issue_link(
    *,
    session: AsyncSession,
    messenger: Messenger = Messenger.telegram,
    channel: TelegramChannel | MaxChannel | None,
    actor: Principal,
    subject: LinkSubject,
    subject_id: str,
    ttl: timedelta,
    now: datetime,
) -> IssuedLink:
    """A new code for a guardian (or staff member) and the link that opens `channel`'s bot
    with it: in Telegram, a guardian's school's own bot if it has one, else the service's. Their
    older codes of that messenger stop working; the audit trail records who made it. The
    caller checks scope; `channel` (that messenger's) None means it is not configured."""
    if channel is None:
        raise Conflict(NOT_CONFIGURED[messenger])
    token = (
        await guardian_bot_token(session=session, guardian_id=subject_id)
        if subject == LinkSubject.guardian and isinstance(channel, TelegramChannel)
        else None
    )
    audit.record(session, actor, f"{channel.messenger}_link.create", subject.value, subject_id)
    code, expires = await create_link_code(
        session=session,
        guardian_id=subject_id,
        subject_type=subject,
        messenger=channel.messenger,
        ttl=ttl,
        now=now,
        by_token=actor.token_id,
    )
    return IssuedLink(code, await channel.start_link(code, bot_token=token), expires)


async def link_chat(
    *,
    session: AsyncSession,
    code: str,
    chat_id: str,
    bot_id: str | None,
    now: datetime,
    messenger: Messenger = Messenger.telegram,
) -> Linked:
    """Spend a code in `messenger`'s bot: the chat (a MAX user) now receives this guardian's
    messages there. A code made for another messenger is unknown here."""
    row = await session.scalar(
        select(LinkCode).where(
            LinkCode.code_hash == _hash(code), LinkCode.messenger == messenger.value
        )
    )
    if row is None:
        raise LinkRefused(Refusal.unknown, "no such code")
    if row.used_at is not None:
        raise LinkRefused(Refusal.used, "this code was already used")
    if row.expires_at <= now:
        if await _newer_code(session, row):
            raise LinkRefused(Refusal.replaced, "a newer code was made; use that one")
        raise LinkRefused(Refusal.expired, "this code has expired")
    # Spend it in the same statement that checks it, so two chats cannot both win (and a code
    # voided by a newer one meanwhile does not).
    spent = await session.execute(
        update(LinkCode)
        .where(LinkCode.id == row.id, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .values(used_at=now, used_by_chat=chat_id)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkRefused(Refusal.used, "this code was already used or replaced")
    if row.subject_type == LinkSubject.staff:
        return await _link_staff(session, row.subject_id, messenger, chat_id, bot_id, now)
    guardian = await session.get(Guardian, row.subject_id)
    if guardian is None:
        raise LinkRefused(Refusal.unknown, "the guardian of this code no longer exists")
    replaced = _attach(guardian, messenger, chat_id, bot_id, now)
    await session.execute(
        delete(ChannelBlock).where(
            ChannelBlock.guardian_id == guardian.id, ChannelBlock.channel == messenger.value
        )
    )
    names = await session.scalars(
        select(Student.full_name)
        .join(GuardianStudent, GuardianStudent.student_id == Student.id)
        .where(GuardianStudent.guardian_id == guardian.id)
        .order_by(Student.full_name)
    )
    children = tuple(PupilView("", name).first_name for name in names)
    consent = await active_consent(session=session, guardian_id=guardian.id) is not None
    await session.commit()
    return Linked(guardian.id, children, locale=guardian.locale, consent=consent, replaced=replaced)


async def _newer_code(session: AsyncSession, row: LinkCode) -> bool:
    newer = await session.scalar(
        select(LinkCode.id)
        .where(
            LinkCode.subject_type == row.subject_type,
            LinkCode.subject_id == row.subject_id,
            LinkCode.messenger == row.messenger,
            LinkCode.id > row.id,
        )
        .limit(1)
    )
    return newer is not None


# Where each messenger's link is kept on a guardian or a staff member: the chat (a MAX user),
# and in Telegram the bot it was linked through (only that bot may write to it).
def _attach(
    person: Guardian | Staff,
    messenger: Messenger,
    chat_id: str,
    bot_id: str | None,
    now: datetime,
) -> Replaced | None:
    """Link `chat_id` to `person` in `messenger`; the chat it replaced, if another."""
    if messenger is Messenger.max:
        old_chat, old_bot = person.max_user_id, None
        person.max_user_id = chat_id
        if isinstance(person, Guardian):
            person.max_linked_at = now
    else:
        old_chat, old_bot = person.telegram_chat_id, person.telegram_bot_id
        person.telegram_chat_id, person.telegram_bot_id = chat_id, bot_id
        if isinstance(person, Guardian):
            person.telegram_linked_at = now
    return Replaced(old_chat, old_bot) if old_chat and old_chat != chat_id else None


def _detach(person: Guardian | Staff, messenger: Messenger) -> bool:
    """Unlink `person`'s chat in `messenger`; whether one was linked."""
    if messenger is Messenger.max:
        was_linked = person.max_user_id is not None
        person.max_user_id = None
        if isinstance(person, Guardian):
            person.max_linked_at = None
    else:
        was_linked = person.telegram_chat_id is not None
        person.telegram_chat_id = person.telegram_bot_id = None
        if isinstance(person, Guardian):
            person.telegram_linked_at = None
    return was_linked


def chat_column(model: type[Guardian] | type[Staff], messenger: Messenger) -> Any:
    """The column that holds `model`'s chat in `messenger` (the bots find people by it)."""
    return model.max_user_id if messenger is Messenger.max else model.telegram_chat_id


async def _link_staff(
    session: AsyncSession,
    staff_id: str,
    messenger: Messenger,
    chat_id: str,
    bot_id: str | None,
    now: datetime,
) -> Linked:
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise LinkRefused(Refusal.unknown, "the staff member of this code no longer exists")
    replaced = _attach(staff, messenger, chat_id, bot_id, now)
    names = tuple(
        await session.scalars(
            select(SchoolClass.name)
            .where(SchoolClass.class_teacher_id == staff_id)
            .order_by(SchoolClass.name)
        )
    )
    await session.commit()
    return Linked(staff_id, names, staff=True, replaced=replaced)


async def unlink_chat(
    *, session: AsyncSession, chat_id: str, messenger: Messenger = Messenger.telegram
) -> int:
    """Stop sending to this chat (a MAX user); returns how many guardians it was linked to."""
    guardians = list(
        await session.scalars(select(Guardian).where(chat_column(Guardian, messenger) == chat_id))
    )
    staff = await session.scalars(select(Staff).where(chat_column(Staff, messenger) == chat_id))
    for person in (*guardians, *staff):
        _detach(person, messenger)
    await session.commit()
    return len(guardians)


async def unlink(
    *,
    session: AsyncSession,
    subject: LinkSubject,
    subject_id: str,
    messenger: Messenger = Messenger.telegram,
) -> bool:
    """Unlink a guardian's (or staff member's) chat in `messenger` at once; False if none
    was linked."""
    person: Guardian | Staff
    if subject == LinkSubject.staff:
        staff = await session.get(Staff, subject_id)
        if staff is None:
            raise NotFound(f"no staff member {subject_id!r}")
        person = staff
    else:
        person = await get_guardian(session=session, guardian_id=subject_id)
    was_linked = _detach(person, messenger)
    await session.commit()
    return was_linked


class LinkThrottle:
    """Wrong codes from one chat are counted; past the limit, codes are not even checked."""

    def __init__(
        self,
        redis: Redis,
        *,
        limit: int,
        window_seconds: int = 3600,
        messenger: Messenger = Messenger.telegram,
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window_seconds
        self.messenger = messenger

    def _key(self, chat_id: str) -> str:
        return f"notifier:link-failures:{self.messenger}:{chat_id}"

    async def blocked(self, chat_id: str) -> bool:
        count = await self.redis.get(self._key(chat_id))
        return count is not None and int(count) >= self.limit

    async def failed(self, chat_id: str) -> None:
        key = self._key(chat_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window, nx=True)
            await pipe.execute()

    async def reset(self, chat_id: str) -> None:
        await self.redis.delete(self._key(chat_id))
