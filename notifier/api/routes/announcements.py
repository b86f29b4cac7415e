"""Announcements (SPEC §5) and the public page an SMS links to when the text did not fit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse

from notifier import announcements as service
from notifier.api.deps import PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.api.routes.summary_page import PUBLIC_HEADERS
from notifier.db.models import Announcement, School
from notifier.errors import NotFound

router = APIRouter(tags=["announcements"], route_class=DocumentedRoute)


@router.post(
    "/v1/announcements",
    status_code=201,
    summary="Send (or schedule) an announcement to classes and/or pupils' guardians",
    responses=errors_of((409, "This Idempotency-Key was used with another body")),
)
async def create(
    body: service.AnnouncementIn,
    session: SessionDep,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    created = await service.create(
        session=session,
        principal=principal,
        body=body,
        idempotency_key=idempotency_key,
        now=runtime.clock(),
        public_url=runtime.settings.public_url,
    )
    a = created.announcement
    return JSONResponse({"id": a.id, "status": a.status}, status_code=201 if created.new else 200)


@router.get("/v1/announcements", summary="A teacher's own announcements (an admin's school's)")
async def listing(
    session: SessionDep, principal: PrincipalDep, limit: int = Query(50, ge=1, le=500)
) -> dict[str, Any]:
    return {"items": await service.listing(session=session, principal=principal, limit=limit)}


@router.get(
    "/v1/announcements/{ident}",
    summary="Status and a per-guardian delivery report",
    responses=errors_of(404),
)
async def report(ident: str, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    announcement = await service.get(session=session, principal=principal, ident=ident)
    return await service.report(session=session, announcement=announcement)


@router.delete(
    "/v1/announcements/{ident}",
    summary="Cancel what has not been sent",
    responses=errors_of(404, (409, "Nothing is left to cancel: every message has gone")),
)
async def cancel(ident: str, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    announcement = await service.get(session=session, principal=principal, ident=ident)
    cancelled = await service.cancel(session=session, announcement=announcement)
    return {"id": ident, "status": "cancelled", "cancelled_messages": cancelled}


@router.get("/a/{ident}", response_class=HTMLResponse, include_in_schema=False)
async def public_text(ident: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """The whole text of an announcement (its id is 128 random bits: the link is the key), on
    a page an old phone reads: one column, no script, long links wrapped."""
    announcement = await session.get(Announcement, ident)
    if announcement is None or announcement.status == "cancelled":
        raise NotFound("no such announcement")
    school = await session.get(School, announcement.school_id) if announcement.school_id else None
    page = runtime.renderer.page(
        "_public/announcement.html.j2",
        {"text": announcement.text, "school": school.name if school is not None else None},
    )
    return HTMLResponse(page, headers=PUBLIC_HEADERS)
