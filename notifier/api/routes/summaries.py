"""The class's weekly summary for print (002 §4.14): one page per pupil whose guardians get it
on paper, as PDF or as HTML for the browser; for the class teacher and the school's admins."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.api.deps import PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of, page
from notifier.auth import Principal, Role
from notifier.db.models import School, SchoolClass
from notifier.errors import InvalidInput
from notifier.reports import summary
from notifier.reports.marks import week_of
from notifier.reports.pdf import summary_pdf
from notifier.runtime import Runtime
from notifier.summaries import class_pages

router = APIRouter(prefix="/v1", tags=["summaries"], route_class=DocumentedRoute)
MAX_DAYS = 366

From = Annotated[
    date | None, Query(alias="from", description="first day (default: the last school week)")
]
To = Annotated[date | None, Query(alias="to", description="last day, inclusive")]
Everyone = Annotated[
    bool, Query(alias="all", description="every pupil, not only those whose guardians get paper")
]


async def _allowed(session: AsyncSession, principal: Principal, class_id: str) -> SchoolClass:
    principal.require(Role.admin, Role.teacher)
    return await scope.klass(session, principal, class_id)


def _period(
    runtime: Runtime, school: School, start: date | None, end: date | None
) -> tuple[date, date]:
    """The asked period; by default the last school week: this one from Saturday on, else the
    one before."""
    if start is None and end is None:
        now = runtime.clock()
        this_monday, this_sunday = week_of(now, school.timezone)
        today = now.astimezone(ZoneInfo(school.timezone)).date()
        return (
            (this_monday, this_sunday)
            if today >= this_monday + timedelta(days=5)
            else (week_of(now, school.timezone, previous=True))
        )
    if start is None or end is None:
        raise InvalidInput("give both from and to (YYYY-MM-DD), or neither", field="from")
    if end < start:
        raise InvalidInput("to: must not be before from", field="to")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"the period may span at most {MAX_DAYS} days", field="to")
    return start, end


async def _pages(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    class_id: str,
    start: date | None,
    end: date | None,
    everyone: bool,
) -> tuple[SchoolClass, School, tuple[date, date], list[summary.SummaryPage]]:
    school_class = await _allowed(session, principal, class_id)
    school = await session.get(School, school_class.school_id)
    assert school is not None
    period = _period(runtime, school, start, end)
    _, _, pages = await class_pages(
        session=session, class_id=class_id, start=period[0], end=period[1], everyone=everyone
    )
    return school_class, school, period, pages


@router.get(
    "/classes/{class_id}/summary.pdf",
    summary="The class's summary for print: one PDF page per pupil",
    response_class=Response,
    responses={**page("application/pdf"), **errors_of(404)},
)
async def class_summary_pdf(
    class_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    start: From = None,
    end: To = None,
    everyone: Everyone = False,
) -> Response:
    _, _, period, pages = await _pages(session, runtime, principal, class_id, start, end, everyone)
    pdf = await asyncio.to_thread(summary_pdf, pages, generated=runtime.clock().date())
    name = f"summary-{class_id}-{period[0].isoformat()}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{_ascii(name)}"'},
    )


@router.get(
    "/classes/{class_id}/summary.html",
    summary="The class's summary for print, as a web page",
    response_class=Response,
    responses={**page("text/html"), **errors_of(404)},
)
async def class_summary_html(
    class_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    start: From = None,
    end: To = None,
    everyone: Everyone = False,
) -> HTMLResponse:
    school_class, school, period, pages = await _pages(
        session, runtime, principal, class_id, start, end, everyone
    )
    html = runtime.renderer.page(
        "_class_summary/page.html.j2",
        {
            "school": school,
            "class_name": school_class.name,
            "start": period[0],
            "end": period[1],
            "pages": pages,
            "everyone": everyone,
        },
    )
    return HTMLResponse(html)


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
