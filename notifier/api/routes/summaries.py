"""The class's weekly summary for print (002 §4.14): one page per pupil whose guardians get it
on paper, as PDF or as HTML for the browser; for the class teacher and the school's admins."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse

from notifier.api.deps import PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of, page
from notifier.summaries import Printout, class_printout, printout_html, printout_pdf

router = APIRouter(prefix="/v1", tags=["summaries"], route_class=DocumentedRoute)

From = Annotated[
    date | None, Query(alias="from", description="first day (default: the last school week)")
]
To = Annotated[date | None, Query(alias="to", description="last day, inclusive")]
Everyone = Annotated[
    bool, Query(alias="all", description="every pupil, not only those whose guardians get paper")
]


async def _printout(
    class_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    start: From = None,
    end: To = None,
    everyone: Everyone = False,
) -> Printout:
    return await class_printout(
        session=session,
        principal=principal,
        class_id=class_id,
        start=start,
        end=end,
        everyone=everyone,
        now=runtime.clock(),
    )


PrintoutDep = Annotated[Printout, Depends(_printout)]


@router.get(
    "/classes/{class_id}/summary.pdf",
    summary="The class's summary for print: one PDF page per pupil",
    response_class=Response,
    responses={**page("application/pdf"), **errors_of(404)},
)
async def class_summary_pdf(printout: PrintoutDep, runtime: RuntimeDep) -> Response:
    pdf = await asyncio.to_thread(printout_pdf, printout, runtime.clock().date())
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{printout.filename}"'},
    )


@router.get(
    "/classes/{class_id}/summary.html",
    summary="The class's summary for print, as a web page",
    response_class=Response,
    responses={**page("text/html"), **errors_of(404)},
)
async def class_summary_html(printout: PrintoutDep, runtime: RuntimeDep) -> HTMLResponse:
    return HTMLResponse(printout_html(runtime.renderer, printout))
