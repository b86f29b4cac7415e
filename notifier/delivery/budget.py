"""A school's monthly SMS budget (SPEC §8, `sms_budget_month`, in segments): what it spent this
calendar month in its own time zone, read once per batch and counted on as messages go.

Several workers each count their own sends between batches, so a month can end a batch's worth
of SMS over the cap; the next batch reads the true figure."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Channel, Recipient
from notifier.db.engine import SessionFactory
from notifier.db.models import Notification, School, Staff, Student
from notifier.errors import DeliveryError
from notifier.rendering import RenderedEmail

log = logging.getLogger(__name__)

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


ALERT = (
    "{school}: израсходовано {share}% SMS-бюджета на {month} ({spent} из {budget} частей). "
    "Когда он кончится, SMS будут уходить только со срочными объявлениями; остальное родители "
    "без других каналов получат на бумаге. Бюджет меняют в консоли: Настройка → Школа."
)
ADMIN = "admin"  # the staff role told (signin.ADMIN_ROLE: a school's admin in the console)


async def alert_admins(
    *, sessions: SessionFactory, channels: Mapping[str, Channel], now: datetime
) -> int:
    """Tell each school's admins, once a month and by their own channel (Telegram, MAX, else
    email), that 80% of its SMS budget is spent. How many schools were told."""
    told = 0
    async with sessions() as session:
        schools = list(
            await session.scalars(select(School).where(School.sms_budget_month.is_not(None)))
        )
        for school in schools:
            month = month_of(now, school.timezone)
            budget = school.sms_budget_month or 0
            if school.sms_alert_month == month or budget <= 0:
                continue
            spent = await spent_this_month(session, school, now)
            if spent < ALERT_SHARE * budget:
                continue
            text = ALERT.format(
                school=school.name,
                share=min(100, round(100 * spent / budget)),
                month=month,
                spent=spent,
                budget=budget,
            )
            admins = await session.scalars(
                select(Staff).where(Staff.school_id == school.id, Staff.role == ADMIN)
            )
            reached = [await _tell(staff, text, channels, now) for staff in admins]
            if not any(reached):
                log.warning("sms.budget_alert_unreached", extra={"school_id": school.id})
            # Told, or nobody to tell: either way not again this month (the console shows it).
            school.sms_alert_month = month
            await session.commit()
            told += 1
    return told


async def _tell(staff: Staff, text: str, channels: Mapping[str, Channel], now: datetime) -> bool:
    """By the first of Telegram, MAX, email that reaches this staff member and takes it."""
    recipient = Recipient(
        guardian_id=f"staff:{staff.id}",
        name="",
        email=staff.email,
        telegram_chat_id=staff.telegram_chat_id,
        telegram_bot_id=staff.telegram_bot_id,
        max_user_id=staff.max_user_id,
    )
    mail = RenderedEmail(
        subject=f"{text.split(':', 1)[0]}: SMS-бюджет",
        text=text + "\n",
        html=f"<p>{html.escape(text)}</p>",
    )
    for name in ("telegram", "max", "email"):
        channel = channels.get(name)
        if channel is None or not channel.reachable(recipient):
            continue
        content = mail if name == "email" else html.escape(text)
        try:
            await channel.send(recipient, content, ref=f"budget-{staff.id}", now=now)
        except DeliveryError as exc:
            log.info(
                "sms.budget_alert_failed",
                extra={"staff_id": staff.id, "channel": name, "error": type(exc).__name__},
            )
            continue
        return True
    return False
