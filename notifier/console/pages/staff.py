"""The admin's staff page: send a member of staff a sign-in link (the bootstrap admin's way to
invite the first teachers), and end someone's console sessions (a lost or shared device)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Role
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep
from notifier.console.pages.signin import mail_link
from notifier.console.web import render
from notifier.db.models import ConsoleSession, Staff
from notifier.errors import NotFound
from notifier.signin import SignedIn, end_sessions_of

router = APIRouter()


@dataclass(frozen=True)
class StaffRow:
    id: str
    name: str
    role: str
    school_id: str
    has_email: bool
    telegram: bool
    max: bool
    sessions: int


@router.get("/staff", response_class=HTMLResponse)
async def staff_page(
    request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep, done: str = ""
) -> HTMLResponse:
    user.principal.require(Role.admin)
    members = list(await session.scalars(scope.staff_members(user.principal)))
    open_sessions = dict(
        (
            await session.execute(
                select(ConsoleSession.staff_id, func.count())
                .where(
                    ConsoleSession.staff_id.in_([m.id for m in members]),
                    ConsoleSession.ended_at.is_(None),
                )
                .group_by(ConsoleSession.staff_id)
            )
        ).all()
    )
    rows = [
        StaffRow(
            m.id,
            m.full_name,
            m.role,
            m.school_id,
            bool(m.email),
            bool(m.telegram_chat_id),
            bool(m.max_user_id),
            open_sessions.get(m.id, 0),
        )
        for m in members
    ]
    # MAX's column where the service has a MAX bot (or someone still has a MAX chat linked).
    max_on = runtime.max is not None or any(r.max for r in rows)
    return render(
        request,
        "staff.html.j2",
        {"rows": rows, "done": done, "max_on": max_on, "max_links": runtime.max is not None},
    )


async def _member(session: AsyncSession, user: SignedIn, staff_id: str) -> Staff:
    user.principal.require(Role.admin)
    member = await scope.staff(session, user.principal, staff_id)
    if member is None:
        raise NotFound(f"no staff member {staff_id!r}")
    return member


@router.post("/staff/{staff_id}/invite", dependencies=[FormChecked])
async def invite(
    staff_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    member = await _member(session, user, staff_id)
    sent = await mail_link(runtime, session, member)
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/staff?done={'sent' if sent else 'not_sent'}", 303)


@router.post("/staff/{staff_id}/end-sessions", dependencies=[FormChecked])
async def end_sessions(
    staff_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await _member(session, user, staff_id)
    await end_sessions_of(
        session=session, principal=user.principal, staff_id=staff_id, now=runtime.clock()
    )
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/staff?done=ended", 303)
