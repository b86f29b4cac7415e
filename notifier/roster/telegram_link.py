"""Linking a Telegram chat to a guardian (or a staff member): single-use, expiring codes, stored
only as hashes; a new code voids the older unused ones; unlinking by the chat or by the school."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit
from notifier.auth import Principal
from notifier.channels.telegram import TelegramChannel, deep_link
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
    commit: bool = True,
) -> tuple[str, datetime]:
    """A new code for this guardian (or staff member, with subject_type="staff") in
    Telegram's deep-link alphabet, 128 bits; shown once; their older unused codes stop working.
    With `commit` False the caller commits (a batch of codes stands or falls together)."""
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
    """A fresh code (shown once) and the t.me link that opens the person's bot with it."""

    code: str
    url: str
    expires_at: datetime


async def issue_link(
    *,
    session: AsyncSession,
    telegram: TelegramChannel | None,
    actor: Principal,
    subject: LinkSubject,
    subject_id: str,
    ttl: timedelta,
    now: datetime,
) -> IssuedLink:
    """A new code for a guardian (or staff member) and its deep link, through the bot the
    person should use: a guardian's school's own bot if it has one, else the service's. Their
    older codes stop working; the audit trail records who made it. The caller checks scope."""
    if telegram is None:
        raise Conflict("Telegram is not configured: set NOTIFIER_TELEGRAM_TOKEN")
    token = (
        await guardian_bot_token(session=session, guardian_id=subject_id)
        if subject == LinkSubject.guardian
        else None
    )
    bot = telegram.add_bot(token) if token else telegram.default_bot
    me = await bot.me()
    audit.record(session, actor, "telegram_link.create", subject.value, subject_id)
    code, expires = await create_link_code(
        session=session,
        guardian_id=subject_id,
        subject_type=subject,
        ttl=ttl,
        now=now,
        by_token=actor.token_id,
    )
    return IssuedLink(code, deep_link(me.username, code), expires)


async def link_chat(
    *, session: AsyncSession, code: str, chat_id: str, bot_id: str, now: datetime
) -> Linked:
    """Spend a code: the chat now receives this guardian's messages."""
    row = await session.scalar(select(LinkCode).where(LinkCode.code_hash == _hash(code)))
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
        return await _link_staff(session, row.subject_id, chat_id, bot_id)
    guardian = await session.get(Guardian, row.subject_id)
    if guardian is None:
        raise LinkRefused(Refusal.unknown, "the guardian of this code no longer exists")
    replaced = _replaced(guardian.telegram_chat_id, guardian.telegram_bot_id, chat_id)
    guardian.telegram_chat_id, guardian.telegram_bot_id = chat_id, bot_id
    guardian.telegram_linked_at = now
    await session.execute(
        delete(ChannelBlock).where(
            ChannelBlock.guardian_id == guardian.id, ChannelBlock.channel == "telegram"
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
            LinkCode.id > row.id,
        )
        .limit(1)
    )
    return newer is not None


def _replaced(old_chat: str | None, old_bot: str | None, new_chat: str) -> Replaced | None:
    return Replaced(old_chat, old_bot) if old_chat and old_chat != new_chat else None


async def _link_staff(session: AsyncSession, staff_id: str, chat_id: str, bot_id: str) -> Linked:
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise LinkRefused(Refusal.unknown, "the staff member of this code no longer exists")
    replaced = _replaced(staff.telegram_chat_id, staff.telegram_bot_id, chat_id)
    staff.telegram_chat_id, staff.telegram_bot_id = chat_id, bot_id
    names = tuple(
        await session.scalars(
            select(SchoolClass.name)
            .where(SchoolClass.class_teacher_id == staff_id)
            .order_by(SchoolClass.name)
        )
    )
    await session.commit()
    return Linked(staff_id, names, staff=True, replaced=replaced)


async def unlink_chat(*, session: AsyncSession, chat_id: str) -> int:
    """Stop sending to this chat; returns how many guardians it was linked to."""
    result = await session.execute(
        update(Guardian)
        .where(Guardian.telegram_chat_id == chat_id)
        .values(telegram_chat_id=None, telegram_bot_id=None, telegram_linked_at=None)
    )
    await session.execute(
        update(Staff)
        .where(Staff.telegram_chat_id == chat_id)
        .values(telegram_chat_id=None, telegram_bot_id=None)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def unlink(*, session: AsyncSession, subject: LinkSubject, subject_id: str) -> bool:
    """Unlink a guardian's (or staff member's) chat at once; False if none was linked."""
    if subject == LinkSubject.staff:
        staff = await session.get(Staff, subject_id)
        if staff is None:
            raise NotFound(f"no staff member {subject_id!r}")
        was_linked = staff.telegram_chat_id is not None
        staff.telegram_chat_id = staff.telegram_bot_id = None
    else:
        guardian = await get_guardian(session=session, guardian_id=subject_id)
        was_linked = guardian.telegram_chat_id is not None
        guardian.telegram_chat_id = guardian.telegram_bot_id = None
        guardian.telegram_linked_at = None
    await session.commit()
    return was_linked


class LinkThrottle:
    """Wrong codes from one chat are counted; past the limit, codes are not even checked."""

    def __init__(self, redis: Redis, *, limit: int, window_seconds: int = 3600) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window_seconds

    def _key(self, chat_id: str) -> str:
        return f"notifier:link-failures:{chat_id}"

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
