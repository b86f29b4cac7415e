"""What a console route depends on: the runtime, a database session, the signed-in staff member
(or a redirect to sign in), and a form whose CSRF token matches."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.auth import AuthThrottle
from notifier.console.web import ANON_COOKIE, SESSION_COOKIE
from notifier.db.models import School
from notifier.errors import Forbidden, NotifierError, TooManyRequests

# Re-exported: the routes take these from here, beside the principal.
from notifier.request_deps import RuntimeDep as RuntimeDep
from notifier.request_deps import SessionDep as SessionDep
from notifier.request_deps import get_runtime as get_runtime
from notifier.runtime import Runtime
from notifier.signin import Limits, SignedIn, csrf_ok, resume

# The zone a new school gets (models.School.timezone): the pages' zone with no school in view.
DEFAULT_ZONE = "Europe/Moscow"


def zone_of(school: School | None) -> ZoneInfo:
    """The zone a page shows this school's times and reads its days in."""
    return ZoneInfo(school.timezone if school else DEFAULT_ZONE)


async def zone_in_view(session: AsyncSession, school_id: str | None) -> ZoneInfo:
    """`zone_of` by the school's id (None: no school in view, the default zone)."""
    if school_id is None:
        return ZoneInfo(DEFAULT_ZONE)
    name = await session.scalar(select(School.timezone).where(School.id == school_id))
    return ZoneInfo(name or DEFAULT_ZONE)


class SignInNeeded(NotifierError):
    """No live session: the page sends the browser to sign in."""


class SchoolNeeded(NotifierError):
    """A region-wide admin opened a school's page before choosing a school: the page sends
    them to the list of schools."""


def school_in_view(user: SignedIn) -> str:
    """The school an admin's page is about: their own, or the one a region-wide admin chose."""
    if user.school_id is None:
        raise SchoolNeeded("choose a school first")
    return user.school_id


class BadForm(Forbidden):
    """A form without this session's CSRF token (stale, or posted from another site)."""


def limits(runtime: Runtime) -> Limits:
    s = runtime.settings
    return Limits(
        link=timedelta(minutes=s.console_link_minutes),
        idle=timedelta(minutes=s.console_idle_minutes),
        lifetime=timedelta(hours=s.console_session_hours),
    )


def throttle(runtime: Runtime) -> AuthThrottle:
    """The same brute-force limit as for API tokens, counted per client address."""
    return AuthThrottle(runtime.redis, runtime.settings.auth_failures_per_minute)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def not_throttled(request: Request, runtime: RuntimeDep) -> None:
    if (wait := await throttle(runtime).retry_after(client_of(request))) is not None:
        raise TooManyRequests(f"too many attempts; try again in {wait} s", retry_after=wait)


async def get_user(request: Request, runtime: RuntimeDep, session: SessionDep) -> SignedIn:
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        user = await resume(
            session=session, token=token, now=runtime.clock(), limits=limits(runtime)
        )
    if user is None:
        raise SignInNeeded("sign in to the console")
    request.state.user = user
    return user


UserDep = Annotated[SignedIn, Depends(get_user)]


async def _given(request: Request) -> str | None:
    form = await request.form()
    given = form.get("csrf")
    return given if isinstance(given, str) else request.headers.get("x-csrf-token")


async def checked_form(request: Request) -> None:
    """A signed-in page's form carries the token derived from its session."""
    session = request.cookies.get(SESSION_COOKIE)
    if not (session and csrf_ok(session, await _given(request))):
        raise BadForm("the form's CSRF token is missing or wrong: reload the page and try again")


async def checked_anon_form(request: Request) -> None:
    """A form shown before sign-in carries the token the page also set in a cookie of its own
    (double submit): another site can post the form but cannot read or set that cookie."""
    anon = request.cookies.get(ANON_COOKIE) or ""
    given = await _given(request) or ""
    if not (anon and hmac.compare_digest(anon.encode(), given.encode())):
        raise BadForm("the form's CSRF token is missing or wrong: reload the page and try again")


FormChecked = Depends(checked_form)
AnonFormChecked = Depends(checked_anon_form)
