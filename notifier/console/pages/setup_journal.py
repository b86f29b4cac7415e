"""Setup step 5, the journal: an integration token bound to the school, for the journal to post
its events (POST /v1/events) and roster; shown once, with a copy button. The school's
integration tokens are listed with a button that revokes one. (Every kind of token, and console
sessions, are on the running pages' "API tokens".)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Role, create_token, revoke_token
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep
from notifier.console.i18n import translator
from notifier.console.pages.setup import progress, redirect, setup_school, step_of
from notifier.console.web import render
from notifier.db.models import ApiToken, School
from notifier.errors import NotFound
from notifier.runtime import Runtime
from notifier.signin import SignedIn

router = APIRouter()


async def _tokens(session: AsyncSession, school_id: str) -> list[ApiToken]:
    return list(
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.role == Role.integration.value, ApiToken.school_id == school_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


async def _page(
    request: Request,
    user: SignedIn,
    session: AsyncSession,
    runtime: Runtime,
    school: School,
    *,
    new_token: str | None = None,
    done: str = "",
) -> HTMLResponse:
    return render(
        request,
        "setup_journal.html.j2",
        {
            "school": school,
            "step": step_of(await progress(session, school, user.locale), "journal"),
            "tokens": await _tokens(session, school.id),
            "new_token": new_token,
            "done": done,
            "events_url": runtime.settings.public_url.rstrip("/") + "/v1/events",
        },
        title=translator(user.locale)("setup.step.journal"),
    )


@router.get("/setup/journal", response_class=HTMLResponse)
async def journal_page(
    request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep, done: str = ""
) -> HTMLResponse:
    school = await setup_school(session, user)
    return await _page(request, user, session, runtime, school, done=done)


@router.post("/setup/journal/tokens", response_class=HTMLResponse, dependencies=[FormChecked])
async def new_token(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    label: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """The page itself answers the form (no redirect): the token is in it, this once."""
    school = await setup_school(session, user)
    # The audit trail's entry is create_token's, naming the admin (the label only as set).
    token, _ = await create_token(
        session=session,
        role=Role.integration,
        school_id=school.id,
        label=label.strip() or None,
        actor=user.principal,
    )
    return await _page(request, user, session, runtime, school, new_token=token)


@router.post("/setup/journal/tokens/{token_id}/revoke", dependencies=[FormChecked])
async def revoke(
    token_id: int, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    school = await setup_school(session, user)
    row = await session.get(ApiToken, token_id)
    if row is None or row.role != Role.integration.value or row.school_id is None:
        raise NotFound(f"no integration token {token_id}")
    scope.school(user.principal, row.school_id)  # another school's token: 403
    if row.school_id != school.id:
        raise NotFound(f"no integration token {token_id} of school {school.id!r}")
    await revoke_token(
        session=session, token_id=token_id, now=runtime.clock(), actor=user.principal
    )
    return redirect(request, "/setup/journal?done=revoked")
