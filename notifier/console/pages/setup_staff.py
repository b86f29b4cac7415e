"""Setup step 4, the staff: add a member of staff or change one (name, role, email, language,
the classes they lead), through the same service as PUT /v1/staff/{id}; and a Telegram or MAX
link code for them, by the same code path as POST /v1/staff/{id}/telegram-link (/max-link). The
list of staff, with the emailed sign-in link and the end of sessions, is the staff page
(pages/staff.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.channels.base import Messenger
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep
from notifier.console.i18n import translator
from notifier.console.pages.setup import (
    problems,
    progress,
    redirect,
    ref_ok,
    rolled_back,
    setup_school,
    step_of,
)
from notifier.console.qr import qr_data_uri
from notifier.console.web import render
from notifier.db.models import School, SchoolClass, Staff
from notifier.errors import InvalidInput, NotFound
from notifier.roster import service
from notifier.roster.chat_link import LinkSubject, issue_link
from notifier.roster.schemas import ClassIn, StaffIn
from notifier.runtime import Runtime
from notifier.signin import ADMIN_ROLE, SignedIn

router = APIRouter()

ROLES = ("teacher", ADMIN_ROLE)  # a class teacher; the school's admin (notifier/signin.py)
LOCALES = ("ru", "en")


@dataclass
class StaffForm:
    staff_id: str = ""
    full_name: str = ""
    role: str = "teacher"
    email: str = ""
    locale: str = "ru"
    classes: list[str] = field(default_factory=list)  # the classes they lead
    existing: bool = False


async def _member(session: AsyncSession, user: SignedIn, school: School, staff_id: str) -> Staff:
    """A member of staff of the school in view (another school's: 403 for its admin)."""
    member = await scope.staff(session, user.principal, staff_id)
    if member is None or member.school_id != school.id:
        raise NotFound(f"no member of staff {staff_id!r} in school {school.id!r}")
    return member


async def _school_classes(session: AsyncSession, school_id: str) -> list[SchoolClass]:
    return list(
        await session.scalars(
            select(SchoolClass).where(SchoolClass.school_id == school_id).order_by(SchoolClass.name)
        )
    )


async def _page(
    request: Request,
    user: SignedIn,
    session: AsyncSession,
    runtime: Runtime,
    school: School,
    form: StaffForm,
    *,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "setup_staff.html.j2",
        {
            "school": school,
            "step": step_of(await progress(session, school, user.locale), "staff"),
            "form": form,
            "classes": await _school_classes(session, school.id),
            # A role the API gave that is neither (a "director", say) stays on offer.
            "roles": ROLES if form.role in ROLES else (*ROLES, form.role),
            "locales": LOCALES,
            # Telegram's button always (its refusal says what to set); MAX's where it has a bot.
            "messengers": [m for m in Messenger if m is Messenger.telegram or runtime.messenger(m)],
            "problem": problem,
        },
        status=status,
        title=translator(user.locale)("setup.step.staff"),
    )


@router.get("/setup/staff", response_class=HTMLResponse)
async def staff_form(
    request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep, staff_id: str = ""
) -> HTMLResponse:
    school = await setup_school(session, user)
    form = StaffForm()
    if staff_id:
        m = await _member(session, user, school, staff_id)
        classes = await _school_classes(session, school.id)
        led = [c.id for c in classes if c.class_teacher_id == m.id]
        form = StaffForm(m.id, m.full_name, m.role, m.email or "", m.locale, led, existing=True)
    return await _page(request, user, session, runtime, school, form)


Text = Annotated[str, Form(max_length=400)]


@router.post("/setup/staff", dependencies=[FormChecked])
async def save_staff(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    staff_id: Text = "",
    full_name: Text = "",
    role: Text = "teacher",
    email: Text = "",
    locale: Text = "ru",
    classes: Annotated[list[str], Form(max_length=500)] = [],  # noqa: B006 - FastAPI's way
    existing: Annotated[bool, Form()] = False,
) -> Response:
    school = await setup_school(session, user)
    t = translator(user.locale)
    form = StaffForm(
        staff_id.strip(), full_name.strip(), role, email.strip(), locale, classes, existing
    )
    ident = form.staff_id or await _new_id(session)
    try:
        if not ref_ok(ident):
            raise InvalidInput(t("setup.staff.bad_id"), field="staff_id")
        found = await scope.staff(session, user.principal, ident, becomes=school.id)
        if found is not None and found.school_id != school.id:
            raise InvalidInput(t("setup.staff.taken"), field="staff_id")
        if form.role not in ROLES and not (found and form.role == found.role):
            raise InvalidInput(t("setup.staff.bad_role"), field="role")
        body = StaffIn(
            school_id=school.id,
            full_name=form.full_name,
            role=form.role,
            email=form.email or None,
            locale=form.locale,
        )
        await service.save_staff(session=session, actor=user.principal, staff_id=ident, body=body)
        await _lead(session, user, school.id, ident, set(form.classes))
    except ValidationError as exc:
        return await _page(
            request, user, session, runtime, school, form, problem=problems(exc), status=422
        )
    except InvalidInput as exc:
        await rolled_back(session, school)
        return await _page(
            request, user, session, runtime, school, form, problem=exc.reason, status=422
        )
    return redirect(request, "/staff?done=saved")


async def _new_id(session: AsyncSession) -> str:
    while True:
        ident = f"staff-{secrets.token_hex(4)}"
        if await session.get(Staff, ident) is None:
            return ident


async def _lead(
    session: AsyncSession, user: SignedIn, school_id: str, staff_id: str, wanted: set[str]
) -> None:
    """Make the member of staff the class teacher of exactly the `wanted` classes of the school
    (a class they no longer lead is left without one), by the same service as PUT
    /v1/classes/{id}."""
    for klass in await _school_classes(session, school_id):
        leads = klass.class_teacher_id == staff_id
        if (klass.id in wanted) == leads:
            continue
        body = ClassIn(
            school_id=school_id,
            name=klass.name,
            class_teacher_id=staff_id if klass.id in wanted else None,
        )
        await service.save_class(
            session=session, actor=user.principal, class_id=klass.id, body=body
        )


@router.post(
    "/setup/staff/{staff_id}/{messenger}", response_class=HTMLResponse, dependencies=[FormChecked]
)
async def messenger_link(
    staff_id: str,
    messenger: Messenger,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> HTMLResponse:
    """A fresh code (older ones of that messenger stop working) and the deep link into the
    service's bot in Telegram or MAX, with its QR code; the member of staff opens it, and the
    bot then knows them (for /announce and /console)."""
    school = await setup_school(session, user)
    member = await _member(session, user, school, staff_id)
    issued = await issue_link(
        session=session,
        messenger=messenger,
        channel=runtime.messenger(messenger),
        actor=user.principal,
        subject=LinkSubject.staff,
        subject_id=member.id,
        ttl=timedelta(days=runtime.settings.link_code_ttl_days),
        now=runtime.clock(),
    )
    t = translator(user.locale)
    return render(
        request,
        "setup_staff_link.html.j2",
        {
            "school": school,
            "member": member,
            "link": issued,
            "app": t(f"reach.{messenger}"),
            "qr": qr_data_uri(issued.url),
            "expires": issued.expires_at.astimezone(ZoneInfo(school.timezone)),
        },
        title=t("setup.staff.link.title"),
    )
