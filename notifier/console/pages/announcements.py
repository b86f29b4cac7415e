"""Announcements from the console: compose for a class or chosen pupils with a live preview per
channel, send now or at a time, the report (refreshing while it sends), cancel, my list. The
same service as POST /v1/announcements, with the same checks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from notifier import announcements as service
from notifier import scope
from notifier.auth import Role
from notifier.console.deps import (
    FormChecked,
    RuntimeDep,
    SessionDep,
    UserDep,
    zone_in_view,
    zone_of,
)
from notifier.console.web import render
from notifier.db.models import Guardian, School, SchoolClass, Staff, Student
from notifier.errors import InvalidInput
from notifier.rendering import SchoolView
from notifier.runtime import Runtime
from notifier.signin import SignedIn

router = APIRouter()

# The report's statuses, the ones still to be dealt with (or never reached) first.
ORDER = ("failed", "no_channel", "no_consent", "opted_out", "paper", "scheduled", "cancelled")


@dataclass
class Draft:
    """What the compose form holds; shown again with the preview or with a problem."""

    class_id: str = ""
    student_ids: tuple[str, ...] = ()
    text: str = ""
    when: str = "now"  # now | later
    send_at: str = ""  # datetime-local, in the school's time zone
    urgent: bool = False
    key: str = ""  # the Idempotency-Key: a second click sends nothing twice


async def _classes(session: SessionDep, user: SignedIn) -> list[SchoolClass]:
    return list(await session.scalars(scope.classes(user.principal)))


async def _pupils(session: SessionDep, class_id: str) -> list[Student]:
    if not class_id:
        return []
    return list(
        await session.scalars(
            select(Student).where(Student.class_id == class_id).order_by(Student.full_name)
        )
    )


async def _compose(
    request: Request,
    session: SessionDep,
    user: SignedIn,
    runtime: Runtime,
    draft: Draft,
    *,
    preview: service.Preview | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    classes = await _classes(session, user)
    if not draft.class_id and len(classes) == 1:
        draft.class_id = classes[0].id
    return render(
        request,
        "compose.html.j2",
        {
            "draft": draft,
            "classes": classes,
            "pupils": await _pupils(session, draft.class_id),
            "preview": preview,
            "problem": problem,
            "admin": user.principal.role is Role.admin,
            "max_segments": runtime.settings.sms_max_segments,
        },
        status=status,
        title=None,
    )


@router.get("/announcements/new", response_class=HTMLResponse)
async def compose(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    class_id: str = "",
) -> HTMLResponse:
    if class_id:
        await scope.klass(session, user.principal, class_id)
    draft = Draft(class_id=class_id, key=secrets.token_urlsafe(16))
    return await _compose(request, session, user, runtime, draft)


FormText = Annotated[str, Form(max_length=8000)]
FormId = Annotated[str, Form(max_length=64)]


def _draft(
    class_id: FormId = "",
    student_ids: Annotated[list[str], Form(max_length=5000)] = [],  # noqa: B006 - FastAPI's way
    text: FormText = "",
    when: FormId = "now",
    send_at: FormId = "",
    urgent: Annotated[bool, Form()] = False,
    key: FormId = "",
) -> Draft:
    """The compose form's fields, for the preview and for sending alike."""
    return Draft(class_id, tuple(student_ids), text, when, send_at, urgent, key)


DraftDep = Annotated[Draft, Depends(_draft)]


@router.post("/announcements/preview", response_class=HTMLResponse, dependencies=[FormChecked])
async def preview(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    draft: DraftDep,
) -> HTMLResponse:
    """The message as parents will see it; for htmx the preview alone, else the whole form."""
    shown, problem = None, None
    try:
        shown = await _preview(session, user, runtime, draft)
    except InvalidInput as exc:
        problem = exc.reason
    if request.headers.get("hx-target") == "preview":
        return render(
            request,
            "_preview.html.j2",
            {
                "preview": shown,
                "problem": problem,
                "max_segments": runtime.settings.sms_max_segments,
            },
        )
    return await _compose(request, session, user, runtime, draft, preview=shown, problem=problem)


async def _preview(
    session: SessionDep, user: SignedIn, runtime: Runtime, draft: Draft
) -> service.Preview | None:
    if not draft.text.strip():
        return None
    school_class = (
        await scope.klass(session, user.principal, draft.class_id) if draft.class_id else None
    )
    school = await session.get(School, school_class.school_id) if school_class else None
    staff = await session.get(Staff, user.principal.staff_id) if user.principal.staff_id else None
    return service.preview(
        renderer=runtime.renderer,
        text=draft.text,
        urgent=draft.urgent,
        author=staff.full_name if staff else None,
        school=SchoolView(school.id, school.name, school.timezone) if school else None,
        public_url=runtime.settings.public_url,
        sms_max_segments=runtime.settings.sms_max_segments,
        class_name=school_class.name if school_class else None,
    )


@router.post("/announcements", dependencies=[FormChecked])
async def create(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    draft: DraftDep,
) -> Response:
    try:
        body = await _body(session, user, draft)
        created = await service.create(
            session=session,
            principal=user.principal,
            body=body,
            idempotency_key=f"console:{draft.key}" if draft.key else None,
            now=runtime.clock(),
            public_url=runtime.settings.public_url,
        )
    except InvalidInput as exc:
        await session.rollback()
        return await _compose(
            request, session, user, runtime, draft, problem=exc.reason, status=422
        )
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/announcements/{created.announcement.id}", status_code=303)


async def _body(session: SessionDep, user: SignedIn, draft: Draft) -> service.AnnouncementIn:
    """The API's request body from the form: chosen pupils, else the whole class."""
    if not draft.class_id:
        raise InvalidInput("choose a class", field="class_id")
    school_class = await scope.klass(session, user.principal, draft.class_id)
    send_at = None
    if draft.when == "later":
        school = await session.get(School, school_class.school_id)
        zone = zone_of(school)
        try:
            send_at = datetime.fromisoformat(draft.send_at).replace(tzinfo=zone)
        except ValueError:
            raise InvalidInput(
                "send_at: give the day and time to send it, e.g. 2026-12-05T18:00", field="send_at"
            ) from None
    audience: dict[str, Any] = (
        {"student_ids": list(draft.student_ids)}
        if draft.student_ids
        else {"class_ids": [draft.class_id]}
    )
    try:
        return service.AnnouncementIn.model_validate(
            {"audience": audience, "text": draft.text, "send_at": send_at, "urgent": draft.urgent}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"{field}: {first['msg'].removeprefix('Value error, ')}", field=field
        ) from None


@router.get("/announcements", response_class=HTMLResponse)
async def listing(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    items = await service.listing(session=session, principal=user.principal, limit=100)
    zone = await zone_in_view(session, user.school_id)
    return render(request, "announcements.html.j2", {"items": items, "zone": zone})


@router.get("/announcements/{ident}", response_class=HTMLResponse)
async def report(
    ident: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    announcement = await service.get(session=session, principal=user.principal, ident=ident)
    result = await service.report(session=session, announcement=announcement)
    guardians = await _named(session, result["guardians"])
    pending = any(g["status"] == "scheduled" for g in guardians) and result["status"] != "cancelled"
    school = await session.get(School, announcement.school_id) if announcement.school_id else None
    context = {
        "a": result,
        "guardians": guardians,
        "pending": pending,
        "zone": zone_of(school),
        "sent": sum(1 for g in guardians if g["status"] == "sent"),
    }
    if request.headers.get("hx-request"):
        response = render(request, "_report.html.j2", context)
        if not pending:
            # Done: the page loads once more, without its refresh and its cancel button (the
            # button sits outside the refreshing part, so focus is not lost every 2 s).
            response.headers["HX-Refresh"] = "true"
        return response
    return render(request, "report.html.j2", context, title=None)


async def _named(session: SessionDep, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's lines with the guardian's and pupil's names, the unreached first."""
    guardians = dict(
        (
            await session.execute(
                select(Guardian.id, Guardian.full_name).where(
                    Guardian.id.in_({g["guardian_id"] for g in lines})
                )
            )
        ).all()
    )
    pupils = dict(
        (
            await session.execute(
                select(Student.id, Student.full_name).where(
                    Student.id.in_({g["student_id"] for g in lines})
                )
            )
        ).all()
    )
    named = [
        {
            **g,
            "guardian": guardians.get(g["guardian_id"], ""),
            "pupil": pupils.get(g["student_id"], ""),
        }
        for g in lines
    ]
    rank = {status: i for i, status in enumerate(ORDER)}
    return sorted(named, key=lambda g: (rank.get(g["status"], len(ORDER)), g["pupil"]))


@router.post("/announcements/{ident}/cancel", dependencies=[FormChecked])
async def cancel(ident: str, request: Request, user: UserDep, session: SessionDep) -> Response:
    announcement = await service.get(session=session, principal=user.principal, ident=ident)
    await service.cancel(session=session, announcement=announcement)
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/announcements/{ident}", status_code=303)
