"""The class's summary for print, opened in the browser with the console session: the same
service as GET /v1/classes/{id}/summary.pdf|html, paper families first."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BeforeValidator

from notifier.console.deps import RuntimeDep, SessionDep, UserDep
from notifier.summaries import Printout, class_printout, printout_html, printout_pdf

router = APIRouter()
# The printable page is self-contained: its own <style>, no scripts, nothing loaded.
PRINT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _blank_is_none(value: object) -> object:
    """A date field left empty in the form is sent as `from=`: no date, the default period."""
    return value or None


From = Annotated[date | None, BeforeValidator(_blank_is_none), Query(alias="from")]
To = Annotated[date | None, BeforeValidator(_blank_is_none), Query(alias="to")]
Everyone = Annotated[bool, Query(alias="all")]


async def _printout(
    class_id: str,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    start: From = None,
    end: To = None,
    everyone: Everyone = False,
) -> Printout:
    return await class_printout(
        session=session,
        principal=user.principal,
        class_id=class_id,
        start=start,
        end=end,
        everyone=everyone,
        now=runtime.clock(),
    )


PrintoutDep = Annotated[Printout, Depends(_printout)]


@router.get("/classes/{class_id}/summary.pdf")
async def summary_pdf(
    printout: Annotated[Printout, Depends(_printout)], runtime: RuntimeDep
) -> Response:
    pdf = await asyncio.to_thread(printout_pdf, printout, runtime.clock().date())
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{printout.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/classes/{class_id}/summary.html", response_class=HTMLResponse)
async def summary_html(
    printout: Annotated[Printout, Depends(_printout)], runtime: RuntimeDep
) -> HTMLResponse:
    return HTMLResponse(printout_html(runtime.renderer, printout), headers=PRINT_HEADERS)
