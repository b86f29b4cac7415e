"""The weekly summary (сводная ведомость, 002 §4.14): planned for every pupil's guardians on
Saturday at the school's digest time (the `summary` category, on unless turned off), and built
for a class and any period as printable pages for the guardians who get it on paper; the
week's page an SMS links to (/s/<token>)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Principal, Role
from notifier.db.bulk import insert_ignore
from notifier.db.models import (
    ChannelBlock,
    Consent,
    Guardian,
    GuardianStudent,
    JournalEvent,
    Notification,
    Preference,
    School,
    SchoolClass,
    Student,
)
from notifier.db.states import EventStatus
from notifier.delivery.budget import SmsBudget
from notifier.delivery.message import PAGE_DATA, PAGE_PATH, page_row, page_token_valid
from notifier.delivery.planner import OutboxRow, Roster, audience, due_time, load_roster, outbox_row
from notifier.delivery.timing import hhmm
from notifier.errors import InvalidInput, NotFound
from notifier.rendering import Renderer
from notifier.reports import summary
from notifier.reports.marks import pupil_report, week_of
from notifier.roster.preferences import SUMMARY, PreferenceCache
from notifier.text import ascii_filename

log = logging.getLogger(__name__)

SATURDAY, SUNDAY = 5, 6
WEEK_MARKER = "notifier.summary.week"  # one per school and week: that week's summaries exist


def summary_due(school: School, now: datetime) -> tuple[date, date] | None:
    """The week to summarise when it is time: from Saturday's digest time, and all Sunday so
    a worker that was down on Saturday catches up."""
    local = now.astimezone(ZoneInfo(school.timezone))
    saturday_evening = local.weekday() == SATURDAY and local.time() >= hhmm(school.digest_time)
    if not saturday_evening and local.weekday() != SUNDAY:
        return None
    return week_of(now, school.timezone)


async def plan_weekly(
    *, session: AsyncSession, now: datetime, public_url: str | None = None
) -> int:
    """Plan this week's summaries of every school whose time has come, once per school and
    week; returns how many outbox rows were written. With `public_url` an SMS summary links
    to the week's page there."""
    # Each school's week is decided before any is planned: a school another worker is planning
    # ends our transaction by a rollback, which expires every School object of the session.
    due = [
        (school.id, week)
        for school in await session.scalars(select(School).order_by(School.id))
        if (week := summary_due(school, now)) is not None
    ]
    written = 0
    for school_id, week in due:
        marker = f"{school_id}:{week[0].isoformat()}"
        done = await session.scalar(select(exists().where(*_marker_is(marker))))
        if not done:
            written += await _plan_school(session, school_id, week, marker, now, public_url)
    return written


def _marker_is(marker: str) -> tuple[Any, ...]:
    """The week's marker, by the journal's idempotency key (uq_event_tenant_source_id): the
    service's own events are the region's (tenant ""). Without the tenant no index serves
    it, and each school's check, each minute, would read every event."""
    return (
        JournalEvent.tenant == "",
        JournalEvent.source == summary.SOURCE,
        JournalEvent.event_id == marker,
    )


def _page(public_url: str | None) -> dict[str, Any]:
    """What a pupil's week keeps for its page link: a random key of its own (see
    delivery/message.py, page_token), and where the page is."""
    page = {"key": secrets.token_urlsafe(16)}
    if public_url:
        page["base"] = public_url.rstrip("/") + PAGE_PATH
    return {PAGE_DATA: page}


async def _plan_school(
    session: AsyncSession,
    school_id: str,
    week: tuple[date, date],
    marker: str,
    now: datetime,
    public_url: str | None,
) -> int:
    start, end = week
    events = JournalEvent.__table__
    claimed = (
        await session.execute(
            insert_ignore(session, events).returning(events.c.pk),  # type: ignore[arg-type]
            [_event_row(marker, WEEK_MARKER, {"school_id": school_id}, start, end, now)],
        )
    ).all()
    if not claimed:  # another worker is planning this school's week
        await session.rollback()
        return 0
    class_ids = list(
        await session.scalars(select(SchoolClass.id).where(SchoolClass.school_id == school_id))
    )
    roster = await load_roster(session=session, class_ids=class_ids)
    pupils = sorted(
        s.id
        for s in roster.students.values()
        if s.school_id == school_id and roster.guardians_of[s.id]
    )
    rows = [
        _event_row(
            f"{pupil}:{start.isoformat()}",
            summary.EVENT_TYPE,
            {"student_id": pupil, **_page(public_url)},
            start,
            end,
            now,
        )
        for pupil in pupils
    ]
    outbox: list[OutboxRow] = []
    if rows:
        inserted = (
            await session.execute(
                insert_ignore(session, events).returning(events.c.pk, events.c.student_id),  # type: ignore[arg-type]
                rows,
            )
        ).all()
        for pk, pupil in inserted:
            outbox.extend(_rows(pk, pupil, start, roster, now))
    if outbox:
        await session.execute(
            insert_ignore(session, Notification.__table__),  # type: ignore[arg-type]
            [r.values() for r in outbox],
        )
    await session.commit()
    log.info(
        "summary.planned",
        extra={
            "school_id": school_id,
            "week": start.isoformat(),
            "pupils": len(rows),
            "rows": len(outbox),
        },
    )
    return len(outbox)


def _event_row(
    event_id: str, type_: str, data: dict[str, Any], start: date, end: date, now: datetime
) -> dict[str, Any]:
    return {
        "source": summary.SOURCE,
        "event_id": event_id,
        "type": type_,
        "time": now,
        "data": {**data, "from": start.isoformat(), "to": end.isoformat()},
        "student_id": data.get("student_id"),
        "received_at": now,
        "status": EventStatus.planned,
        "detail": None,
    }


def _rows(event_pk: int, pupil: str, start: date, roster: Roster, now: datetime) -> list[OutboxRow]:
    return [
        outbox_row(
            event_pk,
            target,
            category=SUMMARY,
            kind=summary.KIND,
            due_at=due_time(target, roster, now, timedelta(0)),
            # Each summary is a message of its own, never folded with another.
            group_key=f"s:{target.guardian_id}:{pupil}:{start.isoformat()}",
            now=now,
        )
        for target in audience(roster, [pupil], SUMMARY)
    ]


# -- The class's printable summary -------------------------------------------------------------


ELECTRONIC = ("telegram", "max", "email", "sms")  # the channels that carry a summary


def paper_reason(
    guardian: Guardian,
    *,
    consented: bool,
    channels: tuple[str, ...],
    blocked: set[str],
    mode: str,
    sms_left: bool,
) -> str | None:
    """Why this guardian's summary must be printed: they asked for paper, or no channel that
    carries a summary can reach them (SMS only while the school's month's SMS budget lasts);
    None when it goes by Telegram, MAX, email or SMS (or is off)."""
    if mode == "off":
        return None
    if not consented:
        return "нет согласия на электронную рассылку"
    addresses = {
        "telegram": guardian.telegram_chat_id,
        "max": guardian.max_user_id,
        "email": guardian.email,
        "sms": guardian.phone,
    }
    spent = False
    for channel in channels:
        if channel == "paper":
            return "выбрал(а) бумажную ведомость"
        if channel not in ELECTRONIC or not addresses[channel] or channel in blocked:
            continue
        if channel == "sms" and not sms_left:
            spent = True
            continue
        return None
    if spent:
        return "SMS-бюджет школы на этот месяц израсходован"
    return "нет Telegram, MAX, электронной почты и телефона"


MAX_DAYS = 366  # the longest period a printout covers


@dataclass(frozen=True)
class Printout:
    """The class's summary for print: one page per pupil whose summary goes on paper to some
    guardian (every pupil, if `everyone`), those pupils first."""

    school_class: SchoolClass
    school: School
    start: date
    end: date
    pages: tuple[summary.SummaryPage, ...]
    everyone: bool

    @property
    def filename(self) -> str:
        """summary-7b-2026-11-23.pdf, ASCII so no header needs encoding."""
        return ascii_filename(f"summary-{self.school_class.id}-{self.start.isoformat()}.pdf")


async def class_printout(
    *,
    session: AsyncSession,
    principal: Principal,
    class_id: str,
    start: date | None,
    end: date | None,
    everyone: bool,
    now: datetime,
) -> Printout:
    """The printout of a class the principal may see (its class teacher, the school's admins)
    for the period asked, or by default the last school week."""
    principal.require(Role.admin, Role.teacher)
    school_class = await scope.klass(session, principal, class_id)
    school = await session.get(School, school_class.school_id)
    assert school is not None
    start, end = _period(school, start, end, now)
    pages = await _class_pages(
        session, school_class, school, start=start, end=end, everyone=everyone, now=now
    )
    return Printout(school_class, school, start, end, tuple(pages), everyone)


def _period(
    school: School, start: date | None, end: date | None, now: datetime
) -> tuple[date, date]:
    """The asked period; by default the last school week: this one from Saturday on, else the
    one before."""
    if start is None and end is None:
        this_monday, this_sunday = week_of(now, school.timezone)
        today = now.astimezone(ZoneInfo(school.timezone)).date()
        if today >= this_monday + timedelta(days=SATURDAY):
            return this_monday, this_sunday
        return week_of(now, school.timezone, previous=True)
    if start is None or end is None:
        raise InvalidInput("give both from and to (YYYY-MM-DD), or neither", field="from")
    if end < start:
        raise InvalidInput("to: must not be before from", field="to")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"the period may span at most {MAX_DAYS} days", field="to")
    return start, end


def printout_html(renderer: Renderer, printout: Printout) -> str:
    """The printout as a web page to print from the browser."""
    return renderer.page(
        "_class_summary/page.html.j2",
        {
            "school": printout.school,
            "class_name": printout.school_class.name,
            "start": printout.start,
            "end": printout.end,
            "pages": printout.pages,
            "everyone": printout.everyone,
        },
    )


def printout_pdf(printout: Printout, generated: date) -> bytes:
    """The printout as PDF, one A4 page per pupil (CPU-bound: call it in a thread)."""
    from notifier.reports.pdf import summary_pdf  # here, not at the top: see its docstring

    return summary_pdf(printout.pages, generated=generated)


async def _class_pages(
    session: AsyncSession,
    school_class: SchoolClass,
    school: School,
    *,
    start: date,
    end: date,
    everyone: bool,
    now: datetime,
) -> list[summary.SummaryPage]:
    """One page per pupil whose summary goes on paper to some guardian, each naming the
    guardians it is for; with `everyone`, the other pupils' pages after those."""
    pupils = list(
        await session.scalars(
            select(Student).where(Student.class_id == school_class.id).order_by(Student.full_name)
        )
    )
    links = (
        await session.execute(
            select(GuardianStudent.student_id, Guardian)
            .join(Guardian, Guardian.id == GuardianStudent.guardian_id)
            .where(GuardianStudent.student_id.in_([p.id for p in pupils]))
            .order_by(Guardian.full_name)
        )
    ).all()
    guardian_ids = {g.id for _, g in links}
    consented = set(
        await session.scalars(
            select(Consent.guardian_id).where(
                Consent.guardian_id.in_(guardian_ids), Consent.revoked_at.is_(None)
            )
        )
    )
    prefs = {
        p.guardian_id: p
        for p in await session.scalars(
            select(Preference).where(Preference.guardian_id.in_(guardian_ids))
        )
    }
    blocked: dict[str, set[str]] = {}
    for guardian_id, channel in await session.execute(
        select(ChannelBlock.guardian_id, ChannelBlock.channel).where(
            ChannelBlock.guardian_id.in_(guardian_ids)
        )
    ):
        blocked.setdefault(guardian_id, set()).add(channel)
    chosen_by = PreferenceCache(prefs, {school.id: school})
    # A month whose SMS are spent sends summaries to SMS-only guardians nowhere (over_budget,
    # delivery/dispatch.py): they are on paper until the budget is raised or the month ends.
    budget = SmsBudget()
    await budget.load(session, [school], now)
    readers: dict[str, list[str]] = {}
    for student_id, guardian in links:
        chosen = chosen_by.of(guardian.id, school.id)
        why = paper_reason(
            guardian,
            consented=guardian.id in consented,
            channels=chosen.channels,
            blocked=blocked.get(guardian.id, set()),
            mode=chosen.mode(SUMMARY, student_id),
            sms_left=not budget.spent(school.id),
        )
        if why is not None:
            readers.setdefault(student_id, []).append(guardian.full_name)
    # The paper list first: a teacher printing the whole class hands those out, the rest
    # are for the file (sorted is stable, so each part keeps the order of names).
    pupils.sort(key=lambda pupil: pupil.id not in readers)
    pages = []
    for pupil in pupils:
        if not everyone and pupil.id not in readers:
            continue
        report = await pupil_report(session=session, student_id=pupil.id, start=start, end=end)
        pages.append(
            summary.SummaryPage(
                school=school.name,
                class_name=school_class.name,
                pupil=pupil.full_name,
                report=report,
                guardians=tuple(readers.get(pupil.id, ())),
            )
        )
    return pages


# -- The week's page an SMS links to (/s/<token>) ----------------------------------------------

PAGE_DAYS = 60  # how long after the week was planned its link opens the page
LOCALES = ("ru", "en")


class SummaryLinkInvalid(NotFound):
    """The link was cut short, altered, or never made here."""


class Closed(StrEnum):
    expired = "expired"  # older than PAGE_DAYS
    withdrawn = "withdrawn"  # the guardian no longer hears of the pupil (unlinked, no consent)


class SummaryLinkClosed(NotFound):
    """A link we made, which no longer opens its page; `locale` is its guardian's."""

    def __init__(self, reason: str, *, why: Closed, locale: str) -> None:
        super().__init__(reason)
        self.why = why
        self.locale = locale


@dataclass(frozen=True)
class SummaryWeek:
    """What /s/<token> shows: the pupil's week as the email's table has it, in the guardian's
    language, and until when the link opens it."""

    row_id: int
    page: summary.SummaryPage
    locale: str
    until: date


async def summary_week(*, session: AsyncSession, token: str, now: datetime) -> SummaryWeek:
    """The week a summary SMS links to; SummaryLinkInvalid for a token we did not make (or
    one altered), SummaryLinkClosed once it is PAGE_DAYS old or its guardian is no longer the
    pupil's (or withdrew consent). Marks are read afresh, so later corrections show."""
    row_id = page_row(token)
    note = await session.get(Notification, row_id) if row_id is not None else None
    event = None
    if note is not None and note.kind == summary.KIND:
        event = await session.get(JournalEvent, note.event_pk)
    if note is None or event is None or not page_token_valid(event.data, token):
        raise SummaryLinkInvalid("the link is cut short or altered: open the whole link")
    guardian = await session.get(Guardian, note.guardian_id)
    locale = guardian.locale if guardian is not None and guardian.locale in LOCALES else "ru"
    ends = note.created_at + timedelta(days=PAGE_DAYS)
    if now >= ends:
        raise SummaryLinkClosed("the link has expired", why=Closed.expired, locale=locale)
    student = await _still_theirs(session, note.guardian_id, note.student_id)
    school = await session.get(School, student.school_id) if student is not None else None
    if student is None or school is None:
        raise SummaryLinkClosed(
            "this guardian no longer gets the pupil's summaries",
            why=Closed.withdrawn,
            locale=locale,
        )
    report = await pupil_report(
        session=session,
        student_id=student.id,
        start=date.fromisoformat(event.data["from"]),
        end=date.fromisoformat(event.data["to"]),
    )
    school_class = await session.get(SchoolClass, student.class_id) if student.class_id else None
    page = summary.SummaryPage(
        school=school.name,
        class_name=school_class.name if school_class is not None else None,
        pupil=student.full_name,
        report=report,
    )
    last_day = (ends - timedelta(microseconds=1)).astimezone(ZoneInfo(school.timezone)).date()
    return SummaryWeek(note.id, page, locale, last_day)


async def _still_theirs(
    session: AsyncSession, guardian_id: str, student_id: str | None
) -> Student | None:
    """The pupil, while the guardian is still theirs and their consent is in force."""
    if student_id is None:
        return None
    found = await session.scalar(
        select(Student)
        .join(GuardianStudent, GuardianStudent.student_id == Student.id)
        .where(
            Student.id == student_id,
            GuardianStudent.guardian_id == guardian_id,
            exists().where(Consent.guardian_id == guardian_id, Consent.revoked_at.is_(None)),
        )
    )
    return found
