"""The teacher's classes: the list (the console's home page)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from notifier import scope
from notifier.auth import Role
from notifier.console.deps import SessionDep, UserDep
from notifier.console.web import render
from notifier.db.models import School, Student

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
