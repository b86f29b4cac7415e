"""When a guardian hears of an event, beyond the mode they (or their school) chose: the rules of
SPEC §8 "Quiet defaults" that look at the event itself and at the clock.

- A mark in the day's report goes now when it matters: a value or a work type the school counts
  as important (by default a 1 or a 2, a test or контрольная), or a correction of a mark the
  guardian was told of at once.
- A guardian reached first by SMS gets at most two SMS on a typical school day: only an
  absence, a timetable change for today (or for tomorrow once the evening has gone) and an
  announcement go now; everything else, marks that matter included, is in one evening SMS.
- A timetable change for a day after tomorrow does not need the parent now: the evening.
- A report row planned after the day's report went joins the evening's message, else the next
  day's report: "in the next message". A school may choose that it edits the report's card in
  Telegram or MAX instead (delivery/day_card).
- In the two hours before the report, a message that goes now takes the report with it.

The mode a category has (categories.DEFAULTS ← the school's ← the guardian's) is decided in
roster/preferences; this module only moves a row between now, the report and the evening.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from notifier.categories import Category, Mode
from notifier.db.models import School
from notifier.delivery.grouping import CORRECTIONS, MARK_TYPES, TOLD_TYPES
from notifier.delivery.timing import hhmm, next_at

SCHEDULE_CHANGED = "journal.schedule.changed"
# A change for today or tomorrow goes now; one for a later day can wait for the evening.
SCHEDULE_NOW_DAYS = 1


@dataclass(frozen=True)
class ImportantMarks:
    """Which marks go now instead of in the day's report (a school may set its own)."""

    values: frozenset[str]
    work_types: tuple[str, ...]  # lower case; a work type containing one of them

    @classmethod
    def of(cls, school: School | None) -> ImportantMarks:
        rule = school.important_marks if school is not None else None
        if not rule:
            return IMPORTANT
        return cls(
            frozenset(str(v).strip() for v in rule.get("values") or ()),
            tuple(str(w).strip().lower() for w in rule.get("work_types") or ()),
        )

    def match(self, data: Mapping[str, Any]) -> bool:
        value = data.get("value")
        if value is not None and str(value).strip() in self.values:
            return True
        work = str(data.get("work_type") or "").lower()
        return bool(work) and any(word in work for word in self.work_types)


# "контрольн" covers контрольная, контрольная работа, контрольный диктант; "тест" and "test"
# the journals' other spellings of a test.
IMPORTANT = ImportantMarks(frozenset({"1", "2"}), ("контрольн", "тест", "test", "экзамен", "exam"))


@dataclass(frozen=True)
class EventFacts:
    """What the rules need to know of one event, read once per event."""

    type: str
    important: bool = False  # a mark the school counts as important
    mark_id: str | None = None
    days_ahead: int = 0  # a timetable change: for today (0), tomorrow (1), ...
    evening_ahead: bool = False  # the school's evening message is still to come today

    @property
    def correction(self) -> bool:
        return self.type in CORRECTIONS

    @property
    def later_day(self) -> bool:
        """A timetable change for a day after tomorrow."""
        return self.days_ahead > SCHEDULE_NOW_DAYS

    @property
    def not_today(self) -> bool:
        return self.days_ahead > 0


def facts(
    ev_type: str, data: Mapping[str, Any], school: School | None, now: datetime
) -> EventFacts:
    if ev_type in MARK_TYPES:
        mark_id = data.get("mark_id")
        return EventFacts(
            ev_type,
            important=ev_type in TOLD_TYPES and ImportantMarks.of(school).match(data),
            mark_id=str(mark_id) if mark_id is not None else None,
        )
    if ev_type == SCHEDULE_CHANGED and school is not None:
        local = now.astimezone(ZoneInfo(school.timezone))
        return EventFacts(
            ev_type,
            days_ahead=_days_ahead(data.get("date"), local.date()),
            evening_ahead=local.time().replace(tzinfo=None) < hhmm(school.digest_time),
        )
    return EventFacts(ev_type)


def _days_ahead(value: object, today: date) -> int:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return 0  # the event's schema checks the date; unreadable here means now
    return (day - today).days


# What still goes now by SMS (a child's safety, a teacher's announcement); the rest waits for
# the evening SMS.
NOW_BY_SMS = (Category.attendance, Category.schedule, Category.announcements)


def adjust(mode: Mode, event: EventFacts, category: str, *, told_now: bool, by_sms: bool) -> Mode:
    """The mode of one guardian's row: the chosen `mode`, moved by the event's urgency.
    `told_now`: the guardian heard of this mark at once (its correction goes at once too);
    `by_sms`: SMS is the first channel the guardian can be reached by."""
    if by_sms:
        return _by_sms(mode, event, category, told_now=told_now)
    if mode is Mode.report:
        if event.important or (event.correction and told_now):
            return Mode.instant
        return Mode.report
    if mode is Mode.instant and event.later_day:
        return Mode.digest
    return mode


# By SMS, a timetable change for today waits up to half an hour for more news of the guardian's
# children (the morning's absences come within the first lesson): one SMS instead of two. An
# absence itself waits for nothing, and takes whatever is waiting with it.
SMS_GATHER: dict[str, timedelta] = {Category.schedule: timedelta(minutes=30)}


def gather(category: str) -> timedelta:
    """How long a row that goes now by SMS waits for more of the guardian's news."""
    return SMS_GATHER.get(category, timedelta(0))


def _by_sms(mode: Mode, event: EventFacts, category: str, *, told_now: bool) -> Mode:
    if mode is Mode.report:
        # A correction of a mark told at once goes at once; every other mark in the evening.
        return Mode.instant if event.correction and told_now else Mode.digest
    if mode is not Mode.instant:
        return mode
    if category not in NOW_BY_SMS:
        return Mode.digest
    if event.not_today and event.evening_ahead:
        return Mode.digest  # tomorrow's timetable, in time in the evening SMS
    return mode


# In the two hours before the day's report, a message that goes to a guardian now (an absence,
# a 2) takes their report with it: the marks waiting so far ride in it, and later ones wait for
# the evening. The parent gets one message instead of two an hour apart; nothing waits longer
# than the evening it would have waited for anyway.
EARLY_REPORT = timedelta(hours=2)


class ReportSlot(StrEnum):
    """Where a row for the day's report goes, by the school's clock."""

    ahead = "ahead"  # today's report is still to come
    early = "early"  # ahead, within EARLY_REPORT: a message going now takes the report
    evening = "evening"  # the report has gone: the evening's message is the next one
    tomorrow = "tomorrow"  # the evening has gone too: tomorrow's report


def report_slot(now: datetime, school: School, *, sent_today: bool) -> ReportSlot:
    """`sent_today`: the guardian's report went early today, with a message that went now."""
    local = now.astimezone(ZoneInfo(school.timezone))
    clock = local.time().replace(tzinfo=None)
    report, evening = hhmm(school.day_report_time), hhmm(school.digest_time)
    if clock >= evening:
        return ReportSlot.tomorrow
    if clock >= report or sent_today:
        return ReportSlot.evening if report < evening else ReportSlot.tomorrow
    opens = datetime.combine(local.date(), report, tzinfo=local.tzinfo) - EARLY_REPORT
    return ReportSlot.early if local >= opens else ReportSlot.ahead


def early_since(now: datetime, school: School) -> datetime:
    """When today's early-report window opened (aware): a guardian's report that went since
    then is today's."""
    local = now.astimezone(ZoneInfo(school.timezone))
    report = datetime.combine(local.date(), hhmm(school.day_report_time), tzinfo=local.tzinfo)
    return report - EARLY_REPORT


def evening_at(now: datetime, school: School, quiet: tuple[str, str]) -> datetime:
    """When the guardian's next evening message goes (`quiet`: their quiet hours)."""
    return next_at(now, zone=school.timezone, at=school.digest_time, quiet=quiet)
