"""A school's monthly SMS budget (SPEC §8, `sms_budget_month`, in segments): what it spent this
calendar month in its own time zone, read once per batch and counted on as messages go.

Several workers each count their own sends between batches, so a month can end a batch's worth
of SMS over the cap; the next batch reads the true figure."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from notifier.channels.base import Channel, Recipient
from notifier.db.engine import SessionFactory
from notifier.db.models import DeliveryAttempt, Notification, School, Staff, Student
from notifier.db.states import Outcome
from notifier.db.types import UTCDateTime
from notifier.errors import DeliveryError
from notifier.rendering import RenderedEmail
from notifier.signin import ADMIN_ROLE

log = logging.getLogger(__name__)

SMS = "sms"
ALERT_SHARE = 0.8  # the school's admins are told once when this much is spent


class SpendLevel(StrEnum):
    """How much of its monthly SMS budget a school has spent (the marks the console draws)."""

    no_cap = "no_cap"  # no budget set: SMS go whatever they cost
    under = "under"  # below the share at which its admins are told
    alert = "alert"  # ALERT_SHARE or more: its admins were (or are about to be) told
    spent = "spent"  # all of it: SMS go only with urgent announcements


def level_of(segments: int, budget: int | None) -> SpendLevel:
    """The one reading of a month's segments against a budget: the dispatcher stops SMS at
    `spent`, the admins are told at `alert`, the console draws both (a budget of 0 is spent from
    the month's first day)."""
    if budget is None:
        return SpendLevel.no_cap
    if segments >= budget:
        return SpendLevel.spent
    if segments >= ALERT_SHARE * budget:
        return SpendLevel.alert
    return SpendLevel.under


def month_start(now: datetime, zone: str) -> datetime:
    """The first moment of `now`'s calendar month in `zone`, in UTC."""
    local = now.astimezone(ZoneInfo(zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def month_of(now: datetime, zone: str) -> str:
    """ "2026-12": the month a school's budget and its alert are counted in."""
    return now.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


@dataclass(frozen=True)
class MonthSpend:
    """A school's SMS this month, as its providers billed them."""

    messages: int  # SMS sent (one of several segments is one)
    segments: int
    cost: Decimal | None  # roubles, of the messages whose provider said a price; None: none did
    priced: int  # messages with a price (fewer than `messages`: the cost is a lower bound)


NOTHING = MonthSpend(0, 0, None, 0)


class Zoned(Protocol):
    """A school as month_spend needs it: a School, or a row of its id and zone."""

    id: str
    timezone: str


async def month_spend(
    session: AsyncSession, schools: Sequence[Zoned], now: datetime
) -> dict[str, MonthSpend]:
    """Each of these schools' SMS since its month began, in one query however many schools.

    Counted from the delivery log's sent attempts, which carry a message's segments and cost
    on its first row (Dispatcher._send): an SMS whose receipt later said undelivered was billed
    all the same, though its message then went by email. A school's month starts at midnight
    on the 1st in its zone, so each row is compared with its school's start (a CASE over the
    few zones the schools keep), the earliest start alone bounding the range the index reads."""
    if not schools:
        return {}
    starts = {zone: month_start(now, zone) for zone in {s.timezone for s in schools}}
    start_of_school: ColumnElement[datetime] = (
        literal(next(iter(starts.values())), UTCDateTime())
        if len(starts) == 1
        else case(
            {zone: literal(start, UTCDateTime()) for zone, start in starts.items()},
            value=School.timezone,
        )
    )
    stmt = (
        select(
            Student.school_id,
            func.count(DeliveryAttempt.segments),
            func.coalesce(func.sum(DeliveryAttempt.segments), 0),
            func.sum(DeliveryAttempt.cost),
            func.count(DeliveryAttempt.cost),
        )
        .join(Notification, Notification.id == DeliveryAttempt.notification_id)
        .join(Student, Student.id == Notification.student_id)
        .join(School, School.id == Student.school_id)
        .where(
            # Literals, not parameters: the partial index over sent SMS attempts (migration
            # 0012) then serves a prepared statement's generic plan too.
            DeliveryAttempt.channel == literal_column(f"'{SMS}'"),
            DeliveryAttempt.outcome == literal_column(f"'{Outcome.sent.value}'"),
            DeliveryAttempt.at >= min(starts.values()),
            DeliveryAttempt.at >= start_of_school,
            Student.school_id.in_([s.id for s in schools]),
        )
        .group_by(Student.school_id)
    )
    return {
        school_id: MonthSpend(
            int(messages),
            int(segments or 0),
            Decimal(cost) if cost is not None else None,
            int(priced),
        )
        for school_id, messages, segments, cost, priced in await session.execute(stmt)
    }


async def spent_this_month(session: AsyncSession, school: School, now: datetime) -> int:
    """Segments of the school's SMS sent since its month began."""
    return (await month_spend(session, [school], now)).get(school.id, NOTHING).segments


class SmsBudget:
    """The budgets of a batch's schools: which are spent, and the count as SMS go."""

    def __init__(self) -> None:
        self._limit: dict[str, int] = {}
        self._spent: dict[str, int] = {}

    async def load(self, session: AsyncSession, schools: Iterable[School], now: datetime) -> None:
        capped = [s for s in schools if s.sms_budget_month is not None]
        spend = await month_spend(session, capped, now)
        self._limit = {s.id: s.sms_budget_month or 0 for s in capped}
        self._spent = {s.id: spend.get(s.id, NOTHING).segments for s in capped}

    def spent(self, school_id: str | None) -> bool:
        """Whether the school has no SMS left this month."""
        key = school_id or ""
        limit = self._limit.get(key)
        return limit is not None and level_of(self._spent[key], limit) is SpendLevel.spent

    def count(self, school_id: str | None, segments: int | None) -> None:
        if school_id in self._spent and segments:
            self._spent[school_id] += segments


ALERT = (
    "{school}: израсходовано {share}% SMS-бюджета на {month} ({spent} из {budget} частей). "
    "Когда он кончится, SMS будут уходить только со срочными объявлениями; остальное родители "
    "без других каналов получат на бумаге. Бюджет меняют в консоли: Настройка → Школа."
)


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
            if level_of(spent, budget) is SpendLevel.under:
                continue
            text = ALERT.format(
                school=school.name,
                share=min(100, round(100 * spent / budget)),
                month=month,
                spent=spent,
                budget=budget,
            )
            admins = await session.scalars(
                select(Staff).where(Staff.school_id == school.id, Staff.role == ADMIN_ROLE)
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
