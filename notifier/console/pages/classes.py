"""The teacher's classes: the list (the console's home page), each class's reach, and its
printable invitation slips (to each messenger the service has a bot in: Telegram, MAX)."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from notifier import scope
from notifier.auth import Role
from notifier.channels.base import Messenger
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep, zone_of
from notifier.console.pages.help import printed_guide
from notifier.console.web import render
from notifier.db.models import School, Student
from notifier.errors import Conflict
from notifier.reach import class_reach
from notifier.reports.invitations import invitations_pdf
from notifier.roster.invitations import StartLink, issue_invitations
from notifier.runtime import Runtime
from notifier.text import ascii_filename

router = APIRouter()


@dataclass(frozen=True)
class ClassCard:
    id: str
    name: str
    school_name: str | None  # shown to a region-wide admin, who sees several schools
    pupils: int


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    user.principal.require(Role.admin, Role.teacher)
    classes = list(await session.scalars(scope.classes(user.principal)))
    ids = [c.id for c in classes]
    counts = dict(
        (
            await session.execute(
                select(Student.class_id, func.count())
                .where(Student.class_id.in_(ids))
                .group_by(Student.class_id)
            )
        ).all()
    )
    names: dict[str, str] = {}
    if user.principal.school_id is None:
        names = dict((await session.execute(select(School.id, School.name))).all())
    cards = [ClassCard(c.id, c.name, names.get(c.school_id), counts.get(c.id, 0)) for c in classes]
    return render(request, "classes.html.j2", {"classes": cards}, title=None)


@router.get("/classes/{class_id}", response_class=HTMLResponse)
async def reach_page(
    class_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    """Whom the class's messages reach, the families not reached first, and what to do."""
    reach = await class_reach(
        session=session,
        principal=user.principal,
        class_id=class_id,
        channels=runtime.channels,
        now=runtime.clock(),
    )
    school = await session.get(School, reach.school_id)
    pupils = sorted(reach.pupils, key=lambda p: (p.reached and not p.on_paper, p.on_paper))
    return render(
        request,
        "class.html.j2",
        {
            "reach": reach,
            "pupils": pupils,
            "school": school,
            "zone": zone_of(school),
            "messengers": [m for m in Messenger if runtime.messenger(m) is not None],
        },
        title=reach.class_name,
    )


@router.post("/classes/{class_id}/invitations", dependencies=[FormChecked])
async def invitations(
    class_id: str,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    include_linked: Annotated[bool, Form()] = False,
    with_guide: Annotated[bool, Form()] = False,
) -> Response:
    """The printable slips: a fresh code for each guardian not yet linked (or all of them) in
    each messenger the service has a bot in, and the parents' guide as the last page if asked
    for."""
    school_class = await scope.klass(session, user.principal, class_id)
    school = await session.get(School, school_class.school_id)
    links = _start_links(runtime, school.telegram_token if school else None)
    slips = await issue_invitations(
        session=session,
        principal=user.principal,
        class_id=class_id,
        links=links,
        ttl=timedelta(days=runtime.settings.link_code_ttl_days),
        now=runtime.clock(),
        include_linked=include_linked,
    )
    guide = printed_guide([m.value for m in links]) if with_guide else None
    pdf = await asyncio.to_thread(
        invitations_pdf,
        slips,
        messengers=[m.value for m in links],
        generated=runtime.clock().date(),
        guide=guide,
    )
    name = ascii_filename(f"invitations-{class_id}.pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _start_links(runtime: Runtime, school_bot: str | None) -> dict[Messenger, StartLink]:
    """Each configured messenger's deep link for a code: in Telegram the school's own bot if it
    has one, else the service's; in MAX the installation's one bot."""
    links: dict[Messenger, StartLink] = {}
    if runtime.telegram is not None:
        links[Messenger.telegram] = functools.partial(
            runtime.telegram.start_link, bot_token=school_bot
        )
    if runtime.max is not None:
        links[Messenger.max] = runtime.max.start_link
    if not links:
        raise Conflict(
            "No messenger is configured (NOTIFIER_TELEGRAM_TOKEN, NOTIFIER_MAX_TOKEN): "
            "no bot to invite to"
        )
    return links
