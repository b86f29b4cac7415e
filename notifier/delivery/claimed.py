"""A claimed outbox row, its event and its guardian as delivery reads them: typed rows of the
columns it uses, loaded by Core. An ORM object per row (its identity, its state, instrumented
attributes) was a tenth of a claim's time in delivery's profile, and delivery writes its rows
back by values (outbox.RowUpdate), never through the objects."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import FromClause, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.among import Built
from notifier.db.models import Guardian, JournalEvent, Notification

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


R = TypeVar("R", bound="DataclassInstance")


class _Read(Generic[R]):
    """A typed row's columns (its fields, by name) of `table`, read by a list of `key` values
    (the statement built once: db/among.py)."""

    def __init__(self, row: type[R], table: FromClause, key: str, *, ordered: bool = False) -> None:
        self._row = row
        by = table.c[key]
        read = select(*(table.c[f.name] for f in fields(row)))
        if ordered:
            read = read.order_by(by)
        self._built = Built(lambda among: read.where(among(by, "ids")))

    async def __call__(self, session: AsyncSession, keys: Collection[int | str]) -> list[R]:
        if not keys:
            return []
        return [self._row(*values) for values in await self._built.execute(session, ids=keys)]


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


_CLAIMED = _Read(Claimed, Notification.__table__, "id", ordered=True)


async def load_claimed(session: AsyncSession, ids: Collection[int]) -> list[Claimed]:
    """These rows, in id order."""
    return await _CLAIMED(session, ids)


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


_ADDRESSEES = _Read(Addressee, Guardian.__table__, "id")


async def load_addressees(session: AsyncSession, ids: Collection[str]) -> dict[str, Addressee]:
    """These guardians, by id (those erased meanwhile are not there)."""
    return {guardian.id: guardian for guardian in await _ADDRESSEES(session, ids)}


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """The journal event a claimed row is about."""

    pk: int
    type: str
    time: datetime | None
    data: dict[str, Any]
    student_id: str | None


_EVENTS = _Read(ClaimedEvent, JournalEvent.__table__, "pk")


async def load_events(session: AsyncSession, pks: Collection[int]) -> dict[int, ClaimedEvent]:
    """These events, by pk."""
    return {event.pk: event for event in await _EVENTS(session, pks)}
