"""A school's monthly SMS budget (SPEC §8, `sms_budget_month`, in segments): what it spent this
calendar month in its own time zone, read once per batch and counted on as messages go.

Several workers each count their own sends between batches, so a month can end a batch's worth
of SMS over the cap; the next batch reads the true figure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import Notification, School, Student

SMS = "sms"
ALERT_SHARE = 0.8  # the school's admins are told once when this much is spent


def month_start(now: datetime, zone: str) -> datetime:
    """The first moment of `now`'s calendar month in `zone`, in UTC."""
    local = now.astimezone(ZoneInfo(zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def month_of(now: datetime, zone: str) -> str:
    """ "2026-12": the month a school's budget and its alert are counted in."""
    return now.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


async def spent_this_month(session: AsyncSession, school: School, now: datetime) -> int:
    """Segments of the school's SMS sent since its month began (a message's segments are on
    its first row: see Dispatcher._send)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Notification.segments), 0))
        .join(Student, Student.id == Notification.student_id)
        .where(
            Student.school_id == school.id,
            Notification.channel == SMS,
            Notification.sent_at >= month_start(now, school.timezone),
        )
    )
    return int(total or 0)


class SmsBudget:
    """The budgets of a batch's schools: which are spent, and the count as SMS go."""

    def __init__(self) -> None:
        self._limit: dict[str, int] = {}
        self._spent: dict[str, int] = {}

    async def load(self, session: AsyncSession, schools: Iterable[School], now: datetime) -> None:
        self._limit.clear()
        self._spent.clear()
        for school in schools:
            if school.sms_budget_month is not None:
                self._limit[school.id] = school.sms_budget_month
                self._spent[school.id] = await spent_this_month(session, school, now)

    def spent(self, school_id: str | None) -> bool:
        """Whether the school has no SMS left this month."""
        limit = self._limit.get(school_id or "")
        return limit is not None and self._spent[school_id or ""] >= limit

    def count(self, school_id: str | None, segments: int | None) -> None:
        if school_id in self._spent and segments:
            self._spent[school_id] += segments
