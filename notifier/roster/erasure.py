"""Erasing a guardian (152-FZ), the parts besides deleting their rows: what names them inside
kept records (group keys, the audit trail, delivery details, spent link codes) and outside
the database (outbox files, Redis keys). `service.erase_guardian` puts them together."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import typing
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import String, Table, bindparam, cast, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Messenger
from notifier.channels.outbox import remove_messages
from notifier.db.models import AuditEntry, DeliveryAttempt, LinkCode, Notification

GUARDIAN = "guardian"  # AuditEntry.subject_type and LinkCode.subject_type of a guardian

# Redis keys that name a chat: its rate bucket under each bot, `<prefix>tg:chat:<bot>:<chat>`,
# or a MAX user's, `<prefix>max:chat:<user>`, and that bucket's `:pause` (channels/telegram.py,
# channels/max.py, RateLimiter's prefix); its count of wrong link codes per messenger
# (roster/chat_link.py), both gone within the hour anyway; and the bots' conversation state,
# `fsm:<messenger>:<chat>:announce` (bots/core/state.py, an hour), or aiogram's older
# `fsm:<chat>:<user>:<part>`, which stays.
CHAT_BUCKETS = ("notifier:rl:tg:chat:*", "notifier:rl:max:chat:*")
LINK_FAILURES = "notifier:link-failures:{messenger}:{chat}"
BOT_STATE = "fsm:*"


def new_pseudonym() -> str:
    """A name for the kept records that leads back to nobody (64 random bits)."""
    return f"erased-{secrets.token_hex(8)}"


async def chats_of(session: AsyncSession, guardian_id: str, *linked: str | None) -> set[str]:
    """Every chat the guardian used: the linked ones (a Telegram chat, a MAX user) and those
    that spent their codes."""
    spent = await session.scalars(
        select(LinkCode.used_by_chat).where(
            LinkCode.subject_type == GUARDIAN,
            LinkCode.subject_id == guardian_id,
            LinkCode.used_by_chat.is_not(None),
        )
    )
    return {chat for chat in (*linked, *spent) if chat}


def rekey(group_key: str, guardian_id: str, pseudonym: str) -> str:
    """A group key with the guardian's id replaced where it stands as a `:`-separated part
    (`d:<g>`, `i:<g>:<pupil>:<category>`, `s:<g>:...`, `a:<announcement>:<g>`; planner.py,
    summaries.py, announcements.py). One-to-one, so distinct groups stay distinct."""
    part = re.compile(rf"(?<=:){re.escape(guardian_id)}(?=:|$)")
    return part.sub(pseudonym, group_key)


async def pseudonymise_rows(session: AsyncSession, guardian_id: str, pseudonym: str) -> int:
    """The guardian's outbox rows stay for statistics under the pseudonym: their group keys
    rewritten, the free texts of their failures (a relay's refusal may quote the address)
    cleared; outcome, channel and time stay. Returns how many rows were kept."""
    mine = select(Notification.id).where(Notification.guardian_id == guardian_id)
    await session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.notification_id.in_(mine), DeliveryAttempt.detail.is_not(None))
        .values(detail=None)
    )
    await session.execute(
        update(Notification)
        .where(Notification.guardian_id == guardian_id, Notification.status == "failed")
        .values(reason=None)
    )
    keys = await session.scalars(
        select(Notification.group_key)
        .where(Notification.guardian_id == guardian_id, Notification.group_key.is_not(None))
        .distinct()
    )
    renamed = [
        {"old": key, "new": rekey(key, guardian_id, pseudonym)} for key in keys if key is not None
    ]
    if renamed:
        # executemany: one statement for every key (a guardian of five years has hundreds).
        # The table's UPDATE, not the ORM's: the ORM takes a list of rows as updates by key.
        table = typing.cast(Table, Notification.__table__)
        await session.execute(
            table.update()
            .where(table.c.guardian_id == guardian_id, table.c.group_key == bindparam("old"))
            .values(group_key=bindparam("new")),
            renamed,
        )
    kept = await session.execute(
        update(Notification)
        .where(Notification.guardian_id == guardian_id)
        .values(guardian_id=pseudonym)
    )
    return int(kept.rowcount or 0)  # type: ignore[attr-defined]


async def pseudonymise_audit(session: AsyncSession, guardian_id: str, pseudonym: str) -> None:
    """Who did what stays in the trail, under the pseudonym; what the guardian's entries held
    goes. Another entry that names the guardian in its detail names the pseudonym instead."""
    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.subject_type == GUARDIAN, AuditEntry.subject_id == guardian_id)
        .values(subject_id=pseudonym, detail=None)
    )
    # The id as a JSON string, as SQLite keeps it (ASCII-escaped) and as PostgreSQL prints
    # jsonb; a LIKE narrows the rows, the exact match is made below.
    quoted = {json.dumps(guardian_id), json.dumps(guardian_id, ensure_ascii=False)}
    detail = cast(AuditEntry.detail, String)
    entries = await session.scalars(
        select(AuditEntry).where(or_(*(detail.contains(q, autoescape=True) for q in quoted)))
    )
    for entry in entries:
        entry.detail = _replaced(entry.detail, guardian_id, pseudonym)


def _replaced(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, list):
        return [_replaced(v, old, new) for v in value]
    if isinstance(value, dict):
        return {(new if k == old else k): _replaced(v, old, new) for k, v in value.items()}
    return value


async def forget_chats_in_link_codes(session: AsyncSession, chats: Collection[str]) -> None:
    """A spent code keeps when it was spent, not by which chat (codes of others this chat
    spent too: the chat is the guardian's)."""
    if chats:
        await session.execute(
            update(LinkCode).where(LinkCode.used_by_chat.in_(chats)).values(used_by_chat=None)
        )


async def forget_chats_in_redis(redis: Redis, chats: AbstractSet[str]) -> int:
    """Delete the Redis keys that name these chats; returns how many there were."""
    if not chats:
        return 0
    keys: list[bytes | str] = [
        LINK_FAILURES.format(messenger=messenger, chat=chat)
        for chat in chats
        for messenger in Messenger
    ]
    # One pass over each kind whatever the number of chats, matching whole `:` parts.
    ends = tuple(f":{chat}{tail}" for chat in chats for tail in ("", ":pause"))
    for pattern in CHAT_BUCKETS:
        async for key in redis.scan_iter(match=pattern, count=1000):
            if key.decode().endswith(ends):
                keys.append(key)
    async for key in redis.scan_iter(match=BOT_STATE, count=1000):
        if not chats.isdisjoint(key.decode().split(":")):
            keys.append(key)
    return int(await redis.delete(*keys))


async def remove_outbox_files(outbox_dir: Path, notification_ids: Collection[int]) -> int:
    """Delete the outbox files of the guardian's messages; returns how many there were."""
    return await asyncio.to_thread(remove_messages, outbox_dir, notification_ids)
