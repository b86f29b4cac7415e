"""The admin's roster: the pupils and guardians of the school in view, searched by part of a
name and by class, fifty to a page; a pupil's page. Phones and emails stay masked here; the
guardian's pages (roster_guardian.py) reveal them, with an entry in the audit trail."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Role
from notifier.console.deps import RuntimeDep, SessionDep, UserDep, school_in_view
from notifier.console.i18n import translator
from notifier.console.web import render
from notifier.db.models import Consent, Guardian, GuardianStudent, SchoolClass, Student
from notifier.errors import NotFound

router = APIRouter()

PAGE_SIZE = 50


class Show(StrEnum):
    guardians = "guardians"
    pupils = "pupils"


def fold(text: str) -> str:
    """A name as the search compares it: case folded in Python (SQLite's lower() leaves
    Cyrillic as it is), ё as е, runs of spaces as one."""
    return " ".join(text.casefold().replace("ё", "е").split())


def mask_phone(phone: str | None) -> str | None:
    """+79161234567 as +7 9** ***-**-67: enough to tell two numbers apart, not to call."""
    if not phone:
        return None
    digits = phone.lstrip("+")
    if phone.startswith("+7") and len(digits) == 11:
        return f"+7 {digits[1]}** ***-**-{digits[-2:]}"
    return f"+{digits[:1]}{'*' * max(len(digits) - 3, 0)}{digits[-2:]}"


def mask_email(email: str | None) -> str | None:
    """anna.petrova@mail.ru as a***@mail.ru."""
    if not email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


@dataclass(frozen=True)
class PupilRef:
    id: str
    name: str
    class_name: str | None


@dataclass(frozen=True)
class GuardianRef:
    id: str
    name: str


@dataclass(frozen=True)
class Reach:
    """How a guardian can be reached, contacts masked."""

    consent: bool
    telegram: bool
    max: bool
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class GuardianRow:
    id: str
    name: str
    pupils: tuple[PupilRef, ...]
    reach: Reach


@dataclass(frozen=True)
class PupilRow:
    id: str
    name: str
    class_name: str | None
    guardians: tuple[GuardianRef, ...]


@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    total: int
    prev_url: str | None
    next_url: str | None


async def reach_of(session: AsyncSession, guardians: list[Guardian]) -> dict[str, Reach]:
    """Consent and channels of these guardians, their contacts masked."""
    ids = [g.id for g in guardians]
    consenting = set(
        await session.scalars(
            select(Consent.guardian_id).where(
                Consent.guardian_id.in_(ids), Consent.revoked_at.is_(None)
            )
        )
    )
    return {
        g.id: Reach(
            g.id in consenting,
            g.telegram_chat_id is not None,
            g.max_user_id is not None,
            mask_phone(g.phone),
            mask_email(g.email),
        )
        for g in guardians
    }


async def class_names(session: AsyncSession, school_id: str) -> dict[str, str]:
    return dict(
        (
            await session.execute(
                select(SchoolClass.id, SchoolClass.name)
                .where(SchoolClass.school_id == school_id)
                .order_by(SchoolClass.name)
            )
        ).all()
    )


def _paging(request: Request, page: int, total: int) -> Paging:
    pages = max(math.ceil(total / PAGE_SIZE), 1)
    page = min(page, pages)

    def url(n: int) -> str:
        query = {k: v for k, v in request.query_params.items() if k not in ("page", "done")}
        return f"?{urlencode({**query, 'page': n})}"

    return Paging(
        page,
        pages,
        total,
        url(page - 1) if page > 1 else None,
        url(page + 1) if page < pages else None,
    )


async def _guardian_rows(
    session: AsyncSession, school_id: str, names: dict[str, str], q: str, class_id: str
) -> list[tuple[str, str, list[PupilRef]]]:
    """Every guardian of the school with their pupils there, matched by their own name or a
    child's (the school's rows, ~2,000 guardians at most, folded in Python)."""
    rows = await session.execute(
        select(Guardian.id, Guardian.full_name, Student.id, Student.full_name, Student.class_id)
        .join(GuardianStudent, GuardianStudent.guardian_id == Guardian.id)
        .join(Student, Student.id == GuardianStudent.student_id)
        .where(Student.school_id == school_id)
        .order_by(Student.full_name)
    )
    found: dict[str, tuple[str, str, list[PupilRef]]] = {}
    classes: dict[str, set[str | None]] = {}
    for gid, gname, sid, sname, cid in rows:
        found.setdefault(gid, (gid, gname, []))[2].append(
            PupilRef(sid, sname, names.get(cid) if cid else None)
        )
        classes.setdefault(gid, set()).add(cid)
    wanted = fold(q)
    matched = [
        row
        for row in found.values()
        if (not class_id or class_id in classes[row[0]])
        and (not wanted or wanted in fold(row[1]) or any(wanted in fold(p.name) for p in row[2]))
    ]
    return sorted(matched, key=lambda row: (fold(row[1]), row[0]))


async def _guardians(
    session: AsyncSession, school_id: str, names: dict[str, str], q: str, class_id: str, page: int
) -> tuple[list[GuardianRow], int]:
    matched = await _guardian_rows(session, school_id, names, q, class_id)
    shown = matched[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    people = list(
        await session.scalars(select(Guardian).where(Guardian.id.in_([g for g, _, _ in shown])))
    )
    reach = await reach_of(session, people)
    return [GuardianRow(g, name, tuple(p), reach[g]) for g, name, p in shown], len(matched)


async def guardians_of(session: AsyncSession, student_ids: list[str]) -> dict[str, list[Guardian]]:
    rows = await session.execute(
        select(GuardianStudent.student_id, Guardian)
        .join(Guardian, Guardian.id == GuardianStudent.guardian_id)
        .where(GuardianStudent.student_id.in_(student_ids))
        .order_by(Guardian.full_name)
    )
    found: dict[str, list[Guardian]] = {s: [] for s in student_ids}
    for sid, guardian in rows:
        found[sid].append(guardian)
    return found


async def _pupils(
    session: AsyncSession, school_id: str, names: dict[str, str], q: str, class_id: str, page: int
) -> tuple[list[PupilRow], int]:
    stmt = select(Student.id, Student.full_name, Student.class_id).where(
        Student.school_id == school_id
    )
    if class_id:
        stmt = stmt.where(Student.class_id == class_id)
    wanted = fold(q)
    matched = sorted(
        (row for row in (await session.execute(stmt)).all() if wanted in fold(row[1])),
        key=lambda row: (fold(row[1]), row[0]),
    )
    shown = matched[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    parents = await guardians_of(session, [sid for sid, _, _ in shown])
    rows = [
        PupilRow(
            sid,
            name,
            names.get(cid) if cid else None,
            tuple(GuardianRef(g.id, g.full_name) for g in parents[sid]),
        )
        for sid, name, cid in shown
    ]
    return rows, len(matched)


@router.get("/roster", response_class=HTMLResponse)
async def roster(
    request: Request,
    user: UserDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    class_id: Annotated[str, Query(max_length=64)] = "",
    show: Show = Show.guardians,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    done: Annotated[str, Query(max_length=20)] = "",
    kept: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    user.principal.require(Role.admin)
    school_id = school_in_view(user)
    scope.school(user.principal, school_id)
    names = await class_names(session, school_id)
    if class_id and class_id not in names:
        raise NotFound(f"no class {class_id!r} in this school; choose one from the list")
    lister = _guardians if show is Show.guardians else _pupils
    rows, total = await lister(session, school_id, names, q, class_id, page)
    paging = _paging(request, page, total)
    if paging.page != page:  # past the last page: show the last one
        rows, total = await lister(session, school_id, names, q, class_id, paging.page)
    return render(
        request,
        "roster.html.j2",
        {
            "rows": rows,
            "show": show.value,
            "q": q,
            "class_id": class_id,
            "classes": names,
            "paging": paging,
            "done": done,
            "kept": kept,
        },
        title=translator(user.locale)("roster.title"),
    )


@router.get("/roster/pupils/{student_id}", response_class=HTMLResponse)
async def pupil(
    student_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    user.principal.require(Role.admin)
    student = await session.get(Student, student_id)
    if student is None:
        raise NotFound(f"no pupil {student_id!r}; find them in the roster's list")
    scope.school(user.principal, student.school_id)
    klass = await session.get(SchoolClass, student.class_id) if student.class_id else None
    parents = (await guardians_of(session, [student.id]))[student.id]
    reach = await reach_of(session, parents)
    rows = [GuardianRow(g.id, g.full_name, (), reach[g.id]) for g in parents]
    return render(
        request,
        "roster_pupil.html.j2",
        # "MAX not linked" only where the service has a MAX bot to link.
        {"pupil": student, "klass": klass, "guardians": rows, "max_on": runtime.max is not None},
        title=student.full_name,
    )
