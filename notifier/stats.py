"""The figures of the admin's dashboard (the console's "Running" page), for one school or the
whole region: today's journal events in and messages out per channel, what failed and why,
what was skipped and why, what waits in the outbox and on the event stream, the messages
sent per hour over the last day and per day over the last 30, and each school's SMS this month
against its budget.

Every count is made by the database (GROUP BY over an indexed time range, migration 0009), so a
page costs a handful of queries whatever the school's size. Days and hours are the school's
(the region's: the zone most of its schools keep).

A school's messages are those about its pupils (notifications.student_id, as the delivery log
counts them); its events are those its own tokens posted or that name its pupil or class.
Failure texts come from providers and may quote an address: only their kind ("smtp 550",
"telegram 403", "MAX 403 chat.denied") leaves this module.

The queue readings (`outbox_queue`, `stream_state`) and the SMS spend (`sms_this_month`) are
also what /metrics reports."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy import DateTime, Select, String, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from notifier.categories import Category
from notifier.db.models import (
    DeliveryAttempt,
    JournalEvent,
    Notification,
    School,
    SchoolClass,
    Student,
)
from notifier.db.states import EventStatus, Outcome, Reason, RowStatus
from notifier.delivery.budget import (
    NOTHING,
    SpendLevel,
    level_of,
    month_of,
    month_spend,
)
from notifier.errors import NotFound
from notifier.events.schema import OWN_SOURCE
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM
from notifier.events.types import KINDS
from notifier.roster.preferences import CHANNELS

HOURS = 24  # the hourly chart: the last 24 hours, the current one last
DAYS = 30  # the daily chart: the last 30 days, today last
UNKNOWN = "unknown"  # a failure whose text was cleared (an erased guardian's) or is not ours
_Stmt = TypeVar("_Stmt", bound="Select[*tuple[Any, ...]]")
_REASONS = frozenset(Reason)
_EVENT_STATUSES = frozenset(EventStatus)


# -- The queue: the outbox and the event stream ---------------------------------------------


@dataclass(frozen=True)
class OutboxQueue:
    """Pending outbox rows: due now (a worker should be sending them) and waiting for later
    (quiet hours, digests, scheduled announcements, retries)."""

    due_now: int
    later: int
    oldest_due_at: datetime | None  # the due time of the row that has waited longest

    def waited(self, now: datetime) -> timedelta | None:
        """How long the oldest due row has waited past its time."""
        return None if self.oldest_due_at is None else max(now - self.oldest_due_at, timedelta())


async def outbox_queue(
    session: AsyncSession, *, now: datetime, school_id: str | None = None
) -> OutboxQueue:
    """One aggregate over the pending rows (the (status, due_at) index)."""
    stmt = select(
        func.count().filter(Notification.due_at <= now),
        func.count().filter(Notification.due_at > now),
        func.min(Notification.due_at),
    ).where(Notification.status == RowStatus.pending)
    due_now, later, oldest = (await session.execute(_of_school(stmt, school_id))).one()
    return OutboxQueue(due_now, later, oldest if oldest is not None and oldest <= now else None)


@dataclass(frozen=True)
class StreamState:
    """The event stream, shared by every school: one stream, one consumer group."""

    length: int  # entries in the stream (read ones too, until retention trims them)
    lag: int | None  # entries the group has not read yet (None: no group, or Redis cannot tell)
    pending: int  # entries read by a consumer and not acknowledged yet
    dead: int  # entries parked in the dead-letter stream


async def stream_state(redis: Redis) -> StreamState:
    exists = bool(await redis.exists(STREAM))
    groups = await redis.xinfo_groups(STREAM) if exists else []
    group = next((g for g in groups if g.get("name") in (GROUP, GROUP.encode())), None) or {}
    lag = group.get("lag")
    return StreamState(
        length=await redis.xlen(STREAM) if exists else 0,
        lag=int(lag) if lag is not None else None,
        pending=int(group.get("pending") or 0),
        dead=await redis.xlen(DEAD_STREAM),
    )


# -- Today -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventsIn:
    """The journal's events received today (the service's own announcements and summaries
    are not events in)."""

    by_category: dict[Category, int]  # those with events, in the order parents see them
    other: int  # types we do not know: recorded, no message
    by_status: dict[EventStatus, int]

    @property
    def total(self) -> int:
        return sum(self.by_category.values()) + self.other


@dataclass(frozen=True)
class ChannelCount:
    channel: str
    count: int


@dataclass(frozen=True)
class Failed:
    """Failures of one kind: of messages (every channel refused, or retries ran out; no
    channel or outcome) or of single attempts of one channel (transient or permanent)."""

    kind: str
    count: int
    channel: str | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True)
class Today:
    since: datetime  # the day's start, in the zone
    events: EventsIn
    sent: tuple[ChannelCount, ...]  # every channel, in CHANNELS order, zeros too
    failed_messages: tuple[Failed, ...]  # most first
    failed_attempts: tuple[Failed, ...]  # most first
    skipped: dict[Reason, int]

    @property
    def sent_total(self) -> int:
        return sum(c.count for c in self.sent)


# -- Charts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    start: datetime  # the hour's or the day's start, in the zone
    counts: tuple[int, ...]  # messages sent, per channel in Charts.channels order

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Charts:
    channels: tuple[str, ...]
    hours: tuple[Bucket, ...]  # HOURS of them, the current hour last
    days: tuple[Bucket, ...]  # DAYS of them, today last


@dataclass(frozen=True)
class Dashboard:
    school_id: str | None  # None: the whole region
    zone: ZoneInfo
    now: datetime  # in the zone
    today: Today
    outbox: OutboxQueue
    stream: StreamState
    charts: Charts | None  # None when only the figures were asked for


async def dashboard(
    *,
    session: AsyncSession,
    redis: Redis,
    school_id: str | None,
    now: datetime,
    charts: bool = True,
) -> Dashboard:
    """The dashboard of a school (None: the region). Without `charts`, only today's figures
    and the queue: what the page refreshes every half minute."""
    zone = await zone_of(session, school_id)
    local = now.astimezone(zone)
    day_start = _day_start(local.date(), zone)
    since = _day_start(local.date() - timedelta(days=DAYS - 1), zone) if charts else day_start
    hourly = await _sent_per_hour(session, school_id=school_id, since=since, now=now, zone=zone)
    channels = CHANNELS + tuple(sorted({ch for _, ch, _ in hourly} - set(CHANNELS)))
    sent_today = Counter[str]()
    for start, channel, n in hourly:
        if start >= day_start:
            sent_today[channel] += n
    failed_messages, skipped = await _rows_failed_and_skipped(
        session, school_id=school_id, since=day_start
    )
    today = Today(
        since=day_start,
        events=await _events_in(session, school_id=school_id, since=day_start, now=now),
        sent=tuple(ChannelCount(ch, sent_today[ch]) for ch in channels),
        failed_messages=failed_messages,
        failed_attempts=await _attempts_failed(session, school_id=school_id, since=day_start),
        skipped=skipped,
    )
    return Dashboard(
        school_id=school_id,
        zone=zone,
        now=local,
        today=today,
        outbox=await outbox_queue(session, now=now, school_id=school_id),
        stream=await stream_state(redis),
        charts=_charts(hourly, channels, local, zone) if charts else None,
    )


async def zone_of(session: AsyncSession, school_id: str | None) -> ZoneInfo:
    """The school's time zone; for the region, the one most of its schools keep."""
    if school_id is not None:
        name = await session.scalar(select(School.timezone).where(School.id == school_id))
        if name is None:
            raise NotFound(f"no school {school_id!r}: choose one of the list of schools")
    else:
        name = await session.scalar(
            select(School.timezone)
            .group_by(School.timezone)
            .order_by(func.count().desc(), School.timezone)
            .limit(1)
        )
    return ZoneInfo(name or _model_default_zone())


def _model_default_zone() -> str:
    # A region without schools yet: the zone a new school gets (models.School.timezone).
    default = School.__table__.c.timezone.default
    return str(getattr(default, "arg", "UTC"))


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


# -- The queries -----------------------------------------------------------------------------


def _of_school(stmt: _Stmt, school_id: str | None) -> _Stmt:
    """Outbox rows about the school's pupils (None: every row). As `IN (its pupils)`, not a
    join: the databases then look each row's pupil up in a small set made once."""
    if school_id is None:
        return stmt
    pupils = select(Student.id).where(Student.school_id == school_id)
    return stmt.where(Notification.student_id.in_(pupils))


async def _events_in(
    session: AsyncSession, *, school_id: str | None, since: datetime, now: datetime
) -> EventsIn:
    stmt = (
        select(JournalEvent.type, JournalEvent.status, func.count())
        .where(
            JournalEvent.received_at >= since,
            JournalEvent.received_at <= now,
            JournalEvent.status != EventStatus.refused,  # another school's pupil: never shown
            ~JournalEvent.source.startswith(OWN_SOURCE),
        )
        .group_by(JournalEvent.type, JournalEvent.status)
    )
    if school_id is not None:
        class_id = JournalEvent.data["class_id"].as_string()
        stmt = (
            stmt.outerjoin(Student, Student.id == JournalEvent.student_id)
            .outerjoin(SchoolClass, SchoolClass.id == class_id)
            .where(
                or_(
                    JournalEvent.tenant == school_id,
                    Student.school_id == school_id,
                    SchoolClass.school_id == school_id,
                )
            )
        )
    by_category: Counter[Category] = Counter()
    by_status: Counter[EventStatus] = Counter()
    other = 0
    for type_, status, n in await session.execute(stmt):
        kind = KINDS.get(type_)
        if kind is None:
            other += n
        else:
            by_category[kind.category] += n
        if status in _EVENT_STATUSES:
            by_status[EventStatus(status)] += n
    ordered = {c: by_category[c] for c in Category if by_category[c]}
    return EventsIn(ordered, other, dict(by_status))


async def _rows_failed_and_skipped(
    session: AsyncSession, *, school_id: str | None, since: datetime
) -> tuple[tuple[Failed, ...], dict[Reason, int]]:
    """Rows that failed or were skipped today. A row's due time is when it was last tried
    (a skip at planning is due, and done, at once), so the (status, due_at) index finds them."""
    stmt = (
        select(Notification.status, Notification.reason, func.count())
        .where(
            Notification.status.in_([RowStatus.failed, RowStatus.skipped]),
            Notification.due_at >= since,
        )
        .group_by(Notification.status, Notification.reason)
    )
    failed: Counter[str] = Counter()
    skipped: Counter[Reason] = Counter()
    for status, reason, n in await session.execute(_of_school(stmt, school_id)):
        if status == RowStatus.failed:
            failed[failure_kind(reason)] += n
        elif reason in _REASONS:
            skipped[Reason(reason)] += n
    return tuple(Failed(kind, n) for kind, n in _most_first(failed)), dict(skipped)


async def _attempts_failed(
    session: AsyncSession, *, school_id: str | None, since: datetime
) -> tuple[Failed, ...]:
    stmt = (
        select(
            DeliveryAttempt.channel, DeliveryAttempt.outcome, DeliveryAttempt.detail, func.count()
        )
        .where(
            DeliveryAttempt.outcome.in_([Outcome.transient, Outcome.permanent]),
            DeliveryAttempt.at >= since,
        )
        .group_by(DeliveryAttempt.channel, DeliveryAttempt.outcome, DeliveryAttempt.detail)
    )
    if school_id is not None:
        stmt = stmt.join(Notification, Notification.id == DeliveryAttempt.notification_id)
        stmt = _of_school(stmt, school_id)
    counts: Counter[tuple[str, Outcome, str]] = Counter()
    for channel, outcome, detail, n in await session.execute(stmt):
        counts[(channel, Outcome(outcome), failure_kind(detail))] += n
    return tuple(
        Failed(kind, n, channel=channel, outcome=outcome)
        for (channel, outcome, kind), n in _most_first(counts)
    )


def _most_first(counts: Counter[Any]) -> list[tuple[Any, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


async def _sent_per_hour(
    session: AsyncSession, *, school_id: str | None, since: datetime, now: datetime, zone: ZoneInfo
) -> list[tuple[datetime, str, int]]:
    """(hour's start, channel, messages) of the rows sent since `since`; hours as the zone
    counts them (a zone half an hour off UTC has its hours start at :30 UTC)."""
    shift = _minutes_off_the_hour(zone, now)
    hour = _hour_of(session, Notification.sent_at, shift)
    stmt = (
        select(hour, Notification.channel, func.count())
        .where(
            Notification.sent_at.is_not(None),
            Notification.sent_at >= since,
            Notification.sent_at <= now,
        )
        .group_by(hour, Notification.channel)
    )
    # Pupil by pupil through ix_notifications_pupil_sent, the region's too (all its pupils):
    # a school's count reads only its own rows, and one index serves both.
    pupils = select(Student.id)
    if school_id is not None:
        pupils = pupils.where(Student.school_id == school_id)
    stmt = stmt.where(Notification.student_id.in_(pupils))
    return [
        (_hour_start(value, shift), channel or UNKNOWN, n)
        for value, channel, n in await session.execute(stmt)
    ]


def _minutes_off_the_hour(zone: ZoneInfo, now: datetime) -> int:
    offset = now.astimezone(zone).utcoffset() or timedelta()
    return int(offset.total_seconds() // 60) % 60


def _hour_of(session: AsyncSession, column: Any, shift: int) -> ColumnElement[Any]:
    """The UTC hour of a stored time moved by `shift` minutes, as the database truncates it.
    Literals, not parameters, so that SELECT and GROUP BY are the same expression."""
    if session.get_bind().dialect.name == "postgresql":
        moved = column + literal_column(f"interval '{shift} minutes'") if shift else column
        return func.date_trunc(literal_column("'hour'"), moved, type_=DateTime())
    if shift:
        return func.strftime(
            literal_column("'%Y-%m-%d %H'"),
            column,
            literal_column(f"'{shift:+d} minutes'"),
            type_=String(),
        )
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff": the hour is its first 13 characters.
    return func.substr(column, literal_column("1"), literal_column("13"), type_=String())


def _hour_start(value: datetime | str, shift: int) -> datetime:
    parsed = datetime.strptime(value, "%Y-%m-%d %H") if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) - timedelta(minutes=shift)


def _charts(
    hourly: Iterable[tuple[datetime, str, int]],
    channels: Sequence[str],
    local: datetime,
    zone: ZoneInfo,
) -> Charts:
    index = {ch: i for i, ch in enumerate(channels)}
    this_hour = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    hour_starts = [this_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    days = [local.date() - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    per_hour = {start: [0] * len(channels) for start in hour_starts}
    per_day = {day: [0] * len(channels) for day in days}
    for start, channel, n in hourly:
        if start in per_hour:
            per_hour[start][index[channel]] += n
        day = start.astimezone(zone).date()
        if day in per_day:
            per_day[day][index[channel]] += n
    return Charts(
        channels=tuple(channels),
        hours=tuple(Bucket(s.astimezone(zone), tuple(c)) for s, c in per_hour.items()),
        days=tuple(Bucket(_day_start(d, zone), tuple(c)) for d, c in per_day.items()),
    )


# -- SMS this month --------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsSpend:
    """A school's SMS this calendar month, in its own time zone, counted as its budget counts
    them (delivery/budget.py): a message's segments and cost are on its first row."""

    school_id: str
    school_name: str
    month: str  # "2026-12": the school's month
    messages: int  # SMS sent (one of several segments is one)
    segments: int
    cost: Decimal | None  # roubles, of the messages whose provider said a price; None: none did
    priced: int  # messages with a price (fewer than `messages`: the cost is a lower bound)
    budget: int | None  # segments a month; None: no cap
    alerted: bool  # its admins were told this month that ALERT_SHARE was spent

    @property
    def share(self) -> float | None:
        """Segments spent over the budget (1.0 and more: spent; None: no cap). A budget of 0
        is spent from the month's first day, as the dispatcher reads it."""
        if self.budget is None:
            return None
        return self.segments / self.budget if self.budget else 1.0

    @property
    def level(self) -> SpendLevel:
        return level_of(self.segments, self.budget)


async def sms_this_month(
    session: AsyncSession, *, now: datetime, school_id: str | None = None
) -> tuple[SmsSpend, ...]:
    """Each school's SMS this month: of the schools that sent any or have a budget, by name;
    with `school_id`, that school's (zeros too). Two queries whatever the number of schools:
    the schools, and budget.month_spend (the one count of what a school spent)."""
    listed = select(
        School.id, School.name, School.timezone, School.sms_budget_month, School.sms_alert_month
    ).order_by(School.name, School.id)
    if school_id is not None:
        listed = listed.where(School.id == school_id)
    schools = (await session.execute(listed)).all()
    if not schools:
        return ()
    sums = await month_spend(session, schools, now)
    spend = []
    for school in schools:
        messages, segments, cost, priced = astuple(sums.get(school.id, NOTHING))
        if school_id is None and not messages and school.sms_budget_month is None:
            continue
        month = month_of(now, school.timezone)
        spend.append(
            SmsSpend(
                school_id=school.id,
                school_name=school.name,
                month=month,
                messages=int(messages),
                segments=int(segments or 0),
                cost=Decimal(cost) if cost is not None else None,
                priced=int(priced),
                budget=school.sms_budget_month,
                alerted=school.sms_alert_month == month,
            )
        )
    return tuple(spend)


# -- Failure kinds ---------------------------------------------------------------------------

_GAVE_UP = re.compile(r"^gave up after \d+ tries: ")
# A failed row's reason lists each channel's refusal: "telegram: telegram 403 …; email: smtp …"
_CHANNEL_PART = re.compile(rf"(?:^|; )({'|'.join(map(re.escape, CHANNELS))}): ")
# MAX's refusals name MAX's error code ("MAX 403 chat.denied"): a dotted word of its own, kept;
# a connection failure keeps the exception's class, as Telegram's does.
_KIND = re.compile(
    r"smtp connection|smtp \d{3}|telegram \d{3}|telegram [A-Za-z]+|sms gateway \d{3}|"
    r"sms gateway: [A-Za-z]+|sms gateway|sms\.ru HTTP \d{3}|sms\.ru \d+|"
    r"MAX \d{3} [a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+|MAX \d{3}|MAX connection failed \([A-Za-z]+\)|"
    r"MAX timeout|MAX answered without the message sent|MAX: the bot has no username|"
    r"MAX's certificate is not trusted|internal error|"
    r"cannot render|rate limiter unavailable|bad address|guardian has no [A-Za-z ]+|"
    r"the bot this chat was linked through is not configured"
)


def failure_kind(reason: str | None) -> str:
    """A failure's kind, without what a provider's text may quote: 'smtp 550', 'telegram 403',
    'MAX 403 chat.denied', 'max: MAX 403 chat.denied + email: smtp 550' for a message every
    channel refused."""
    if not reason:
        return UNKNOWN
    text = _GAVE_UP.sub("", reason)
    parts = _CHANNEL_PART.split(text)
    if len(parts) == 1:
        return _kind(text)
    # split() gives [before, channel, text, channel, text, ...]
    kinds = (f"{ch}: {_kind(part)}" for ch, part in zip(parts[1::2], parts[2::2], strict=True))
    return " + ".join(dict.fromkeys(kinds))


def _kind(text: str) -> str:
    found = _KIND.match(text.strip())
    return found.group(0).strip() if found else UNKNOWN
