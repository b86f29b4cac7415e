"""The delivery-log search (the admin's "did the parent get it?"): the messages of the school in
view, by guardian, pupil or event, status, channel and days, newest first, a page at a time.
The same service as GET /v1/notifications (notifier/delivery/log.py). An SMS shows the parts
and price it was billed and what its delivery receipt said; above the log, the school's SMS
this month against its budget (the dashboard has the details).

Also the small helpers the other operations pages share: the school's time zone, and a range
of days typed in it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope, stats
from notifier.auth import Role
from notifier.console.deps import RuntimeDep, SessionDep, UserDep, school_in_view, zone_in_view
from notifier.console.sms_spend import roubles, spend_view
from notifier.console.web import render
from notifier.db.models import Guardian, GuardianStudent, Student
from notifier.db.states import Reason, RowStatus
from notifier.delivery.log import delivery_log
from notifier.errors import InvalidInput
from notifier.roster.preferences import CHANNELS
from notifier.signin import SignedIn

router = APIRouter()

PAGE = 50
Text = Annotated[str, Query(max_length=200)]


def day_range(since: str, until: str, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """Days typed in the school's zone (either may be empty) → [start of `since`, end of
    `until`) as instants."""
    try:
        first = date.fromisoformat(since) if since else None
        last = date.fromisoformat(until) if until else None
    except ValueError:
        raise InvalidInput("dates look like 2026-11-23 (the date field fills them in)") from None
    if first and last and first > last:
        raise InvalidInput("the first day comes after the last one: swap them")
    start = datetime.combine(first, time(), zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), zone) if last else None
    return start, end


@dataclass(frozen=True)
class Search:
    """What the search form holds; shown again above the results (or with a problem)."""

    guardian: str = ""
    pupil: str = ""
    event: str = ""
    status: str = ""
    channel: str = ""
    since: str = ""
    until: str = ""

    def query(self, **more: object) -> str:
        fields = {
            "from" if k == "since" else "to" if k == "until" else k: v
            for k, v in asdict(self).items()
        }
        fields.update({k: str(v) for k, v in more.items()})
        return urlencode({k: v for k, v in fields.items() if v})


@dataclass(frozen=True)
class Row:
    """One message as the page shows it."""

    id: int
    guardian_id: str
    guardian: str
    student_id: str | None
    pupil: str
    event_type: str
    event_id: str
    status: str
    reason: str | None  # a Reason (shown in words) or a channel's own words for a failure
    known_reason: bool
    channel: str | None
    created_at: datetime
    sent_at: datetime | None
    attempts: tuple[tuple[str, datetime, str, str | None], ...]
    segments: int | None  # an SMS's billed parts (on a message's first row only)
    cost: str | None  # its price, written in the reader's language
    receipt: str | None  # delivered | undelivered, as the operator's receipt said


async def _guardians(
    session: AsyncSession, user: SignedIn, school_id: str, text: str
) -> list[str] | None:
    """The guardians a search names: one by id, or those of the school whose name contains the
    text (any case)."""
    if not text:
        return None
    if await session.get(Guardian, text) is not None:
        await scope.guardian(session, user.principal, text)
        return [text]
    rows = await session.execute(
        select(Guardian.id, Guardian.full_name)
        .join(GuardianStudent, GuardianStudent.guardian_id == Guardian.id)
        .join(Student, Student.id == GuardianStudent.student_id)
        .where(Student.school_id == school_id)
        .distinct()
    )
    # Matched here, not in SQL: SQLite's lower() knows no Cyrillic.
    needle = text.casefold()
    return [gid for gid, name in rows if needle in name.casefold()]


async def _pupils(
    session: AsyncSession, user: SignedIn, school_id: str, text: str
) -> list[str] | None:
    if not text:
        return None
    if await session.get(Student, text) is not None:
        await scope.pupils(session, user.principal, [text])
        return [text]
    rows = await session.execute(
        select(Student.id, Student.full_name).where(Student.school_id == school_id)
    )
    needle = text.casefold()
    return [sid for sid, name in rows if needle in name.casefold()]


def _check(search: Search) -> None:
    if search.status and search.status not in set(RowStatus):
        raise InvalidInput(f"status: one of {', '.join(RowStatus)}")
    if search.channel and search.channel not in CHANNELS:
        raise InvalidInput(f"channel: one of {', '.join(CHANNELS)}")


@router.get("/deliveries", response_class=HTMLResponse)
async def deliveries(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    guardian: Text = "",
    pupil: Text = "",
    event: Text = "",
    status: Annotated[str, Query(max_length=20)] = "",
    channel: Annotated[str, Query(max_length=20)] = "",
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    user.principal.require(Role.admin)
    school_id = school_in_view(user)
    zone = await zone_in_view(session, school_id)
    search = Search(guardian.strip(), pupil.strip(), event.strip(), status, channel, since, until)
    spend = await stats.sms_this_month(session, now=runtime.clock(), school_id=school_id)
    context: dict[str, object] = {
        "sms": spend_view(spend[0], user.locale) if spend else None,
        "search": search,
        "zone": zone,
        "statuses": list(RowStatus),
        "channels": CHANNELS,
        "rows": [],
        "next": None,
        "problem": None,
        "searched": any(asdict(search).values()),
    }
    try:
        _check(search)
        start, end = day_range(search.since, search.until, zone)
        guardian_ids = await _guardians(session, user, school_id, search.guardian)
        student_ids = await _pupils(session, user, school_id, search.pupil)
    except InvalidInput as exc:
        context["problem"] = exc.reason
        return render(request, "ops_deliveries.html.j2", context, status=422)
    page = await delivery_log(
        session,
        school_id=school_id,
        guardian_ids=guardian_ids,
        student_ids=student_ids,
        event_id=search.event or None,
        status=search.status or None,
        channel=search.channel or None,
        since=start,
        until=end,
        limit=PAGE,
        before=before,
    )
    guardians = dict(
        (
            await session.execute(
                select(Guardian.id, Guardian.full_name).where(
                    Guardian.id.in_({e.guardian_id for e in page.items})
                )
            )
        ).all()
    )
    pupils = dict(
        (
            await session.execute(
                select(Student.id, Student.full_name).where(
                    Student.id.in_({e.student_id for e in page.items if e.student_id})
                )
            )
        ).all()
    )
    context["rows"] = [
        Row(
            id=e.id,
            guardian_id=e.guardian_id,
            guardian=guardians.get(e.guardian_id, e.guardian_id),
            student_id=e.student_id,
            pupil=pupils.get(e.student_id or "", e.student_id or ""),
            event_type=e.event.type,
            event_id=e.event.id,
            status=e.status,
            reason=e.reason,
            known_reason=e.reason in set(Reason),
            channel=e.channel,
            created_at=e.created_at,
            sent_at=e.sent_at,
            attempts=tuple((a.channel, a.at, a.outcome, a.detail) for a in e.attempts),
            segments=e.segments,
            cost=roubles(e.cost, user.locale) if e.cost is not None else None,
            receipt=e.receipt,
        )
        for e in page.items
    ]
    context["next"] = search.query(before=page.next_before) if page.next_before else None
    return render(request, "ops_deliveries.html.j2", context)
