"""Who can get in: the API tokens (list, create one shown once, revoke) and the open console
sessions of the school's staff (end one, or all of someone's). Tokens are made and voided by
the same functions as `notifier token create` / `revoke` (notifier/auth.py); a token made here
is bound to the school in view (a region-wide one is the operator's, on the command line)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Role, create_token, revoke_token
from notifier.console.deps import (
    FormChecked,
    RuntimeDep,
    SessionDep,
    UserDep,
    limits,
    school_in_view,
    zone_in_view,
)
from notifier.console.web import render
from notifier.db.models import ApiToken, ConsoleSession, School, Staff
from notifier.errors import Forbidden, InvalidInput, NotFound
from notifier.runtime import Runtime
from notifier.signin import SignedIn, end_session, end_sessions_of

router = APIRouter()

ROLES = (Role.integration, Role.admin, Role.teacher)
# A create form's one-time key: sent twice (a reload, a double click), it makes one token.
FORM_KEY = "notifier:console:token-form:{}"
FORM_KEY_SECONDS = 3600
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class TokenRow:
    id: int
    role: str
    school: str | None  # its school's name; None: region-wide
    staff: str | None  # the teacher's name (their id if not of the school in view)
    label: str | None  # a note for whom it is; may name a person (admins only see this page)
    created_at: datetime
    revoked_at: datetime | None


@dataclass
class TokenDraft:
    """What the create form holds; shown again with a problem."""

    role: str = Role.integration.value
    staff_id: str = ""
    label: str = ""
    key: str = ""


@dataclass(frozen=True)
class Created:
    """A token just made: its clear text is on this one page, never stored or shown again."""

    id: int
    token: str
    role: str


async def _school_staff(session: AsyncSession, school_id: str) -> list[Staff]:
    return list(
        await session.scalars(
            select(Staff).where(Staff.school_id == school_id).order_by(Staff.full_name)
        )
    )


async def _tokens_page(
    request: Request,
    user: SignedIn,
    session: AsyncSession,
    *,
    draft: TokenDraft | None = None,
    created: Created | None = None,
    again: int | None = None,
    problem: str | None = None,
    done: str = "",
) -> HTMLResponse:
    school_id = school_in_view(user)
    rows = list(await session.scalars(scope.tokens(user.principal)))
    schools = dict((await session.execute(select(School.id, School.name))).all())
    names = dict(
        (
            await session.execute(
                select(Staff.id, Staff.full_name).where(
                    Staff.id.in_({r.staff_id for r in rows if r.staff_id}),
                    Staff.school_id == school_id,
                )
            )
        ).all()
    )
    tokens = [
        TokenRow(
            r.id,
            r.role,
            schools.get(r.school_id, r.school_id) if r.school_id else None,
            names.get(r.staff_id, r.staff_id) if r.staff_id else None,
            r.label,
            r.created_at,
            r.revoked_at,
        )
        for r in rows
    ]
    return render(
        request,
        "ops_tokens.html.j2",
        {
            "tokens": tokens,
            "staff": await _school_staff(session, school_id),
            "roles": ROLES,
            "draft": draft or TokenDraft(key=secrets.token_urlsafe(16)),
            "created": created,
            "again": again,
            "problem": problem,
            "done": done,
            "region": user.principal.school_id is None,
            "school": schools.get(school_id, school_id),
            "zone": await zone_in_view(session, school_id),
        },
        status=422 if problem else 200,
    )


@router.get("/tokens", response_class=HTMLResponse)
async def tokens(
    request: Request, user: UserDep, session: SessionDep, done: str = ""
) -> HTMLResponse:
    user.principal.require(Role.admin)
    return await _tokens_page(request, user, session, done=done)


async def _check(
    session: AsyncSession, user: SignedIn, draft: TokenDraft
) -> tuple[Role, str | None]:
    """The role, and the teacher a teacher's token stands for (a member of the school's staff)."""
    try:
        role = Role(draft.role)
    except ValueError:
        raise InvalidInput("choose what the token is for: integration, admin or teacher") from None
    if role is not Role.teacher:
        return role, None
    if not draft.staff_id:
        raise InvalidInput("a teacher's token stands for one teacher: choose them in the list")
    member = await scope.staff(session, user.principal, draft.staff_id)
    if member is None or member.school_id != school_in_view(user):
        raise InvalidInput("choose a member of this school's staff for the teacher's token")
    return role, member.id


@router.post("/tokens", response_class=HTMLResponse, dependencies=[FormChecked])
async def create(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    role: Annotated[str, Form(max_length=20)] = "",
    staff_id: Annotated[str, Form(max_length=64)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    key: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Answered with the page itself, not a redirect: the token is in this answer only (the
    browser keeps no copy: the console's pages are never cached)."""
    user.principal.require(Role.admin)
    school_id = school_in_view(user)
    draft = TokenDraft(role, staff_id.strip(), label.strip(), key)
    try:
        checked_role, staff = await _check(session, user, draft)
    except InvalidInput as exc:
        return await _tokens_page(request, user, session, draft=draft, problem=exc.reason)
    if key and (made := await _claimed(runtime, key)) is not None:
        return await _tokens_page(request, user, session, again=made)
    try:
        token, row = await create_token(
            session=session,
            role=checked_role,
            school_id=school_id,
            staff_id=staff,
            label=draft.label or None,
            actor=user.principal,
        )
    except Exception:
        if key:  # nothing was made: the same form may be sent again
            await runtime.redis.delete(FORM_KEY.format(key))
        raise
    if key:
        await runtime.redis.set(FORM_KEY.format(key), str(row.id), ex=FORM_KEY_SECONDS)
    return await _tokens_page(
        request, user, session, created=Created(row.id, token, checked_role.value)
    )


async def _claimed(runtime: Runtime, key: str) -> int | None:
    """Claims the form's key; None if this is its first sending, else the token it made (0:
    still being made)."""
    name = FORM_KEY.format(key)
    if await runtime.redis.set(name, "0", nx=True, ex=FORM_KEY_SECONDS):
        return None
    made = await runtime.redis.get(name)
    return int(made) if made is not None and made.isdigit() else 0


@router.post("/tokens/{token_id}/revoke", dependencies=[FormChecked])
async def revoke(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    user.principal.require(Role.admin)
    item: ApiToken = await scope.token(session, user.principal, token_id)
    await revoke_token(session=session, token_id=item.id, now=runtime.clock(), actor=user.principal)
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/tokens?done=revoked", status_code=303)


# -- Console sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: int
    staff_id: str | None  # None: the bootstrap admin (NOTIFIER_ADMIN_TOKEN)
    staff: str
    created_at: datetime
    last_seen_at: datetime
    yours: bool  # the session this page is open in


@router.get("/sessions", response_class=HTMLResponse)
async def sessions(
    request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep, done: str = ""
) -> HTMLResponse:
    user.principal.require(Role.admin)
    school_id = school_in_view(user)
    now, limit = runtime.clock(), limits(runtime)
    people = {s.id: s.full_name for s in await _school_staff(session, school_id)}
    # Open: not ended, and neither idle nor old enough to end at its next request.
    stmt = select(ConsoleSession).where(
        ConsoleSession.ended_at.is_(None),
        ConsoleSession.last_seen_at > now - limit.idle,
        ConsoleSession.created_at > now - limit.lifetime,
    )
    if user.principal.school_id is None:  # the region's: the bootstrap admin's too
        stmt = stmt.where(ConsoleSession.staff_id.in_(people) | ConsoleSession.staff_id.is_(None))
    else:
        stmt = stmt.where(ConsoleSession.staff_id.in_(people))
    rows = list(await session.scalars(stmt.order_by(ConsoleSession.last_seen_at.desc())))
    return render(
        request,
        "ops_sessions.html.j2",
        {
            "rows": [
                SessionRow(
                    r.id,
                    r.staff_id,
                    people.get(r.staff_id, "") if r.staff_id else "",
                    r.created_at,
                    r.last_seen_at,
                    r.id == user.session_id,
                )
                for r in rows
            ],
            "done": done,
            "zone": await zone_in_view(session, school_id),
        },
    )


@router.post("/sessions/{session_id}/end", dependencies=[FormChecked])
async def end_one(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    session_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    user.principal.require(Role.admin)
    row = await session.get(ConsoleSession, session_id)
    if row is None:
        raise NotFound(f"no console session {session_id}")
    if row.staff_id is None:  # the bootstrap admin's
        if user.principal.school_id is not None:
            raise Forbidden("the administrator token's sessions are the region's")
    elif await scope.staff(session, user.principal, row.staff_id) is None:
        raise NotFound(f"no console session {session_id}")
    await end_session(
        session=session, principal=user.principal, session_id=session_id, now=runtime.clock()
    )
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/sessions?done=ended", status_code=303)


@router.post("/sessions/staff/{staff_id}/end", dependencies=[FormChecked])
async def end_all(
    staff_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    user.principal.require(Role.admin)
    if await scope.staff(session, user.principal, staff_id) is None:
        raise NotFound(f"no staff member {staff_id!r}")
    await end_sessions_of(
        session=session, principal=user.principal, staff_id=staff_id, now=runtime.clock()
    )
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/sessions?done=ended_all", status_code=303)
