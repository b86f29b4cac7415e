"""Signing in and out: a link by email, the page that spends it, the bootstrap admin's token."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Recipient
from notifier.console.deps import (
    AnonFormChecked,
    FormChecked,
    RuntimeDep,
    SessionDep,
    UserDep,
    client_of,
    limits,
    not_throttled,
    throttle,
)
from notifier.console.web import SESSION_COOKIE, render, secure
from notifier.db.models import Staff
from notifier.errors import DeliveryError
from notifier.roster.schemas import normalise_email
from notifier.runtime import Runtime
from notifier.signin import (
    LinkInvalid,
    admin_session,
    check_link,
    issue_link,
    redeem_link,
    sign_out,
    staff_by_email,
)

log = logging.getLogger(__name__)
router = APIRouter()

Text = Annotated[str, Form(max_length=500)]


def _minutes(runtime: Runtime) -> int:
    return round(runtime.settings.console_link_minutes)


def link_url(runtime: Runtime, token: str) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}/console/signin/link/{token}"


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return render(request, "signin.html.j2", {"minutes": _minutes(runtime)}, title=None)


@router.post("/signin", response_class=HTMLResponse, dependencies=[AnonFormChecked])
async def ask_for_link(
    request: Request, runtime: RuntimeDep, session: SessionDep, email: Text = ""
) -> HTMLResponse:
    """Always the same answer, whether or not the address is known: the page must not tell a
    stranger who works at the school. Each request counts against the address's limit, so the
    form cannot be used to flood a mailbox."""
    await not_throttled(request, runtime)
    await throttle(runtime).failed(client_of(request))
    try:
        address = normalise_email(email)
    except ValueError as exc:
        return render(
            request,
            "signin.html.j2",
            {"minutes": _minutes(runtime), "problem": f"{email}: {exc}", "email": email},
            status=422,
        )
    staff = await staff_by_email(session, address)
    if staff is not None:
        await mail_link(runtime, session, staff)
    return render(request, "signin_sent.html.j2", {"minutes": _minutes(runtime)})


async def mail_link(runtime: Runtime, session: AsyncSession, staff: Staff) -> bool:
    """Email a staff member a fresh sign-in link; False if they have no address or the mail
    could not be handed over (logged by id)."""
    if not staff.email:
        return False
    token = await issue_link(
        session=session, staff=staff, now=runtime.clock(), ttl=limits(runtime).link
    )
    content = runtime.renderer.email(
        "_console/signin_email",
        {
            "name": staff.full_name,
            "link": link_url(runtime, token),
            "minutes": _minutes(runtime),
            "english": staff.locale.startswith("en"),
        },
    )
    recipient = Recipient(guardian_id=f"staff:{staff.id}", name=staff.full_name, email=staff.email)
    try:
        await runtime.channels["email"].send(
            recipient, content, ref=f"signin-{staff.id}", now=runtime.clock()
        )
    except DeliveryError as exc:
        log.warning(
            "console.signin_mail_failed", extra={"staff_id": staff.id, "error": type(exc).__name__}
        )
        return False
    log.info("console.signin_mail_sent", extra={"staff_id": staff.id})
    return True


@router.post("/signin/admin", response_class=HTMLResponse, dependencies=[AnonFormChecked])
async def admin_signin(
    request: Request, runtime: RuntimeDep, session: SessionDep, token: Text = ""
) -> Response:
    await not_throttled(request, runtime)
    admin = runtime.settings.admin_token
    if admin is None or not hmac.compare_digest(token.encode(), admin.get_secret_value().encode()):
        await throttle(runtime).failed(client_of(request))
        log.info("console.admin_signin_refused")
        return render(
            request,
            "signin.html.j2",
            {"minutes": _minutes(runtime), "problem_key": "signin.bad_token"},
            status=401,
        )
    return _signed_in(request, await admin_session(session=session, now=runtime.clock()))


@router.get("/signin/link/{token}", response_class=HTMLResponse)
async def confirm_page(
    token: str, request: Request, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    """The link opens a page with a button, not a session: mail scanners and link previews
    open links too, and must not spend them."""
    await not_throttled(request, runtime)
    try:
        await check_link(session=session, token=token, now=runtime.clock())
    except LinkInvalid as exc:
        return await _invalid(request, runtime, exc)
    return render(request, "signin_confirm.html.j2", {"token": token})


@router.post("/signin/link/{token}", response_class=HTMLResponse, dependencies=[AnonFormChecked])
async def spend_link(
    token: str, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    await not_throttled(request, runtime)
    try:
        cookie = await redeem_link(session=session, token=token, now=runtime.clock())
    except LinkInvalid as exc:
        return await _invalid(request, runtime, exc)
    return _signed_in(request, cookie)


@router.post("/signout", dependencies=[FormChecked])
async def signout(
    request: Request, user: UserDep, runtime: RuntimeDep, session: SessionDep
) -> Response:
    await sign_out(session=session, session_id=user.session_id, now=runtime.clock())
    response = RedirectResponse(f"{request.scope.get('root_path', '')}/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path") or "/")
    return response


async def _invalid(request: Request, runtime: Runtime, exc: LinkInvalid) -> HTMLResponse:
    await throttle(runtime).failed(client_of(request))
    log.info("console.link_refused", extra={"problem": exc.problem.value})
    status = 404 if exc.problem.value == "unknown" else 410
    return render(
        request,
        "link_invalid.html.j2",
        {"problem": exc.problem.value, "minutes": _minutes(runtime)},
        status=status,
    )


def _signed_in(request: Request, cookie: str) -> Response:
    base = request.scope.get("root_path", "")
    response = RedirectResponse(f"{base}/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=base or "/",
    )
    return response
