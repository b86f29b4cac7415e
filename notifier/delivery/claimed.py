"""A claimed outbox row, its event and its guardian as delivery reads them: typed rows of the
columns it uses, loaded by Core. An ORM object per row (its identity, its state, instrumented
attributes) was a tenth of a claim's time in delivery's profile, and delivery writes its rows
back by values (outbox.RowUpdate), never through the objects."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.among import Built
from notifier.db.models import Guardian, JournalEvent, Notification


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_pk: int
    guardian_id: str
    student_id: str | None
    category: str
    kind: str
    status: str  # a RowStatus
    reason: str | None
    channel: str | None
    due_at: datetime
    attempts: int
    segments: int | None
    cost: Decimal | None
    receipt: str | None  # an Outcome of an SMS receipt
    group_key: str | None
    mode: str  # a Mode
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = [Notification.__table__.c[f.name] for f in fields(Claimed)]
_CLAIMED = Built(
    lambda among: select(*_COLUMNS).where(among(Notification.id, "ids")).order_by(Notification.id)
)


async def load_claimed(session: AsyncSession, ids: Collection[int]) -> list[Claimed]:
    """These rows, in id order."""
    if not ids:
        return []
    return [Claimed(*row) for row in await _CLAIMED.execute(session, ids=ids)]


@dataclass(frozen=True, slots=True)
class Addressee:
    """A batch's guardian: whom its messages are to, in which language, and their addresses."""

    id: str
    full_name: str
    locale: str
    phone: str | None
    email: str | None
    telegram_chat_id: str | None
    telegram_bot_id: str | None
    max_user_id: str | None


_GUARDIAN_COLUMNS = [Guardian.__table__.c[f.name] for f in fields(Addressee)]
_ADDRESSEES = Built(lambda among: select(*_GUARDIAN_COLUMNS).where(among(Guardian.id, "ids")))


async def load_addressees(session: AsyncSession, ids: Collection[str]) -> dict[str, Addressee]:
    """These guardians, by id (those erased meanwhile are not there)."""
    if not ids:
        return {}
    return {row.id: Addressee(*row) for row in await _ADDRESSEES.execute(session, ids=ids)}


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """The journal event a claimed row is about."""

    pk: int
    type: str
    time: datetime | None
    data: dict[str, Any]
    student_id: str | None


_EVENT_COLUMNS = [JournalEvent.__table__.c[f.name] for f in fields(ClaimedEvent)]
_EVENTS = Built(lambda among: select(*_EVENT_COLUMNS).where(among(JournalEvent.pk, "ids")))


async def load_events(session: AsyncSession, pks: Collection[int]) -> dict[int, ClaimedEvent]:
    """These events, by pk."""
    if not pks:
        return {}
    return {row.pk: ClaimedEvent(*row) for row in await _EVENTS.execute(session, ids=pks)}
