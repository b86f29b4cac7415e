"""When a message may go: quiet hours and digest times, in the school's own time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=256)
def hhmm(value: str) -> time:
    """ "19:00" → 19:00 (a school's or guardian's setting, validated when stored)."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone)


# Pure functions of their arguments, asked the same question for every row of a batch (one
# `now`, a school's zone and window): cached, planning a class's homework asks once.
@lru_cache(maxsize=1024)
def quiet_until(now: datetime, *, zone: str, start: str, end: str) -> datetime | None:
    """The end of the quiet window `now` falls in (aware), or None if it is not quiet.

    The window may cross midnight (21:00–08:00) or not (13:00–15:00); equal ends mean none.
    """
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    begin, finish = hhmm(start), hhmm(end)
    clock = local.time().replace(tzinfo=None)
    if begin == finish:
        return None
    if begin < finish:
        inside = begin <= clock < finish
        return _at(local.date(), finish, tz) if inside else None
    if clock >= begin:
        return _at(local.date() + timedelta(days=1), finish, tz)
    if clock < finish:
        return _at(local.date(), finish, tz)
    return None


@lru_cache(maxsize=1024)
def defer_past_quiet(when: datetime, *, zone: str, start: str, end: str) -> datetime:
    """`when`, or the end of the quiet window it falls in."""
    return quiet_until(when, zone=zone, start=start, end=end) or when


@lru_cache(maxsize=1024)
def next_at(now: datetime, *, zone: str, at: str, quiet: tuple[str, str]) -> datetime:
    """The next time `at` of the day after `now` (today's if still ahead, else tomorrow's): the
    evening digest, the day's report; when it falls in quiet hours, the morning after them."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    moment = _at(local.date(), hhmm(at), tz)
    if moment <= local:
        moment = _at(local.date() + timedelta(days=1), hhmm(at), tz)
    return defer_past_quiet(moment, zone=zone, start=quiet[0], end=quiet[1])
