"""A region-wide admin's list of schools, and the choice of the one the admin pages show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from notifier import scope
from notifier.auth import Role
from notifier.console.deps import FormChecked, SessionDep, UserDep
from notifier.console.web import render
from notifier.db.models import School
from notifier.errors import NotFound
from notifier.signin import choose_school

router = APIRouter()


@router.get("/schools", response_class=HTMLResponse)
async def schools(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    user.principal.require(Role.admin)
    stmt = select(School).order_by(School.name)
    if user.principal.school_id is not None:
        stmt = stmt.where(School.id == user.principal.school_id)
    return render(request, "schools.html.j2", {"schools": list(await session.scalars(stmt))})


@router.post("/schools", dependencies=[FormChecked])
async def choose(
    request: Request,
    user: UserDep,
    session: SessionDep,
    school_id: Annotated[str, Form(max_length=64)],
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    user.principal.require(Role.admin)
    scope.school(user.principal, school_id)
    if await session.get(School, school_id) is None:
        raise NotFound(f"no school {school_id!r}")
    await choose_school(
        session=session, session_id=user.session_id, principal=user.principal, school_id=school_id
    )
    base = request.scope.get("root_path", "")
    # Only a path of the console itself: the form cannot send the browser elsewhere.
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    return RedirectResponse(f"{base}{target}", status_code=303)
