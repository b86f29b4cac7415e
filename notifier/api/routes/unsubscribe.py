"""One-click unsubscribe (RFC 8058) from the link in every email: a POST turns the link's
categories off for its guardian, without logging in; a GET only asks, because mail scanners
open links. Pages are in Russian; a link that was altered is refused."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.api.deps import RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, Responses, page
from notifier.categories import ALL_CATEGORIES
from notifier.categories import TITLES as CATEGORY_TITLES
from notifier.db.models import Guardian
from notifier.roster.choices import set_mode
from notifier.runtime import Runtime
from notifier.unsubscribe import InvalidLink, Unsubscribe, load_links

log = logging.getLogger(__name__)
router = APIRouter(tags=["unsubscribe"], route_class=DocumentedRoute)
PAGE = "_unsubscribe/page.html.j2"
PAGES: Responses = {
    **page("text/html"),
    **page("text/html", 400, "The link was altered: a page says so"),
    **page("text/html", 404, "The link's guardian is no longer known: a page says so"),
}


def _page(runtime: Runtime, status: int, state: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(runtime.renderer.page(PAGE, {"state": state, **context}), status)


async def _read(session: AsyncSession, runtime: Runtime, token: str) -> Unsubscribe | HTMLResponse:
    links = await load_links(session, runtime.settings)
    try:
        request = links.read(token)
    except InvalidLink:
        log.info("unsubscribe.invalid")
        return _page(runtime, 400, "invalid")
    if await session.get(Guardian, request.guardian_id) is None:
        return _page(runtime, 404, "unknown")
    return request


def _titles(request: Unsubscribe) -> list[str]:
    return [CATEGORY_TITLES.get(c, c) for c in request.categories if c in ALL_CATEGORIES]


@router.get(
    "/unsubscribe/{token}",
    summary="The page an unsubscribe link opens: asks to confirm",
    response_class=Response,
    responses=PAGES,
)
async def confirm(token: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    found = await _read(session, runtime, token)
    if isinstance(found, HTMLResponse):
        return found
    return _page(runtime, 200, "confirm", titles=_titles(found), token=token)


@router.post(
    "/unsubscribe/{token}",
    summary="One-click unsubscribe (RFC 8058): turns the link's categories off",
    response_class=Response,
    responses=PAGES,
)
async def unsubscribe(token: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    found = await _read(session, runtime, token)
    if isinstance(found, HTMLResponse):
        return found
    for category in found.categories:
        if category in ALL_CATEGORIES:
            await set_mode(
                session=session,
                guardian_id=found.guardian_id,
                category=category,
                mode="off",
                via="unsubscribe_link",
            )
    log.info(
        "unsubscribe.done",
        extra={"guardian_id": found.guardian_id, "categories": list(found.categories)},
    )
    return _page(runtime, 200, "done", titles=_titles(found))
