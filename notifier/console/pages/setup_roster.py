"""Setup step 3, the roster: the school's classes (add one, rename it, name its class teacher),
and the roster CSV: uploaded, checked in a dry run that lists each bad row by its line number
and what would change, then imported. The same services as PUT /v1/classes/{id} and
POST /v1/roster/import, for the school in view only (rows naming another school are refused row
by row, as for a school's token).

Between the check and the import the file waits under data_dir, named by the console session
and a random id, for an hour at most; the import spends it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from notifier import scope
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
from notifier.console.web import render
from notifier.db.models import School, SchoolClass, Staff, Student
from notifier.errors import InvalidInput
from notifier.roster import service
from notifier.roster.importer import COLUMNS, RUSSIAN, ImportReport, import_for
from notifier.roster.schemas import ClassIn
from notifier.runtime import Runtime
from notifier.signin import SignedIn

router = APIRouter()

KEEP_SECONDS = 3600  # an uploaded file not imported within the hour is deleted
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass
class ClassForm:
    class_id: str = ""
    name: str = ""
    class_teacher_id: str = ""


@dataclass(frozen=True)
class ClassRow:
    id: str
    name: str
    teacher: str | None  # the class teacher's name, if they are of this school
    pupils: int


def _folder(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "console" / "roster-uploads"


def _sweep(folder: Path) -> None:
    """Delete the files left more than an hour ago (checked and never imported)."""
    stale = time.time() - KEEP_SECONDS
    for old in folder.glob("*.csv"):
        with contextlib.suppress(FileNotFoundError):
            if old.stat().st_mtime < stale:
                old.unlink(missing_ok=True)


def _store(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _sweep(folder)
    # Personal data: readable by the service's user only.
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _take(path: Path) -> bytes | None:
    """The stored file, if it is still there and under an hour old."""
    _sweep(path.parent)
    try:
        if path.stat().st_mtime < time.time() - KEEP_SECONDS:
            path.unlink(missing_ok=True)
            return None
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _upload_path(runtime: Runtime, user: SignedIn, upload: str) -> Path | None:
    if not _UPLOAD_ID.fullmatch(upload):
        return None
    return _folder(runtime) / f"{user.session_id}-{upload}.csv"


async def _classes(session: SessionDep, school_id: str) -> tuple[list[ClassRow], list[Staff]]:
    staff = list(
        await session.scalars(
            select(Staff).where(Staff.school_id == school_id).order_by(Staff.full_name)
        )
    )
    names = {s.id: s.full_name for s in staff}
    pupils = dict(
        (
            await session.execute(
                select(Student.class_id, func.count())
                .where(Student.school_id == school_id)
                .group_by(Student.class_id)
            )
        ).all()
    )
    classes = await session.scalars(
        select(SchoolClass).where(SchoolClass.school_id == school_id).order_by(SchoolClass.name)
    )
    rows = [
        ClassRow(
            c.id,
            c.name,
            names.get(c.class_teacher_id) if c.class_teacher_id else None,
            pupils.get(c.id, 0),
        )
        for c in classes
    ]
    return rows, staff


async def _page(
    request: Request,
    user: SignedIn,
    session: SessionDep,
    school: School,
    *,
    class_form: ClassForm | None = None,
    done: str = "",
    counts: dict[str, int] | None = None,
    problem: str | None = None,
    class_problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    rows, staff = await _classes(session, school.id)
    return render(
        request,
        "setup_roster.html.j2",
        {
            "school": school,
            "step": step_of(await progress(session, school, user.locale), "roster"),
            "classes": rows,
            "staff": staff,
            "class_form": class_form or ClassForm(),
            "done": done,
            "counts": counts or {},
            "problem": problem,
            "class_problem": class_problem,
            "columns": ";".join(COLUMNS),
            "russian": ";".join(RUSSIAN),
        },
        status=status,
        title=translator(user.locale)("setup.step.roster"),
    )


@router.get("/setup/roster", response_class=HTMLResponse)
async def roster_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    done: str = "",
    imported: int = 0,
    skipped: int = 0,
    class_id: str = "",  # the class to change, shown in the form
) -> HTMLResponse:
    school = await setup_school(session, user)
    form = ClassForm()
    if class_id:
        klass = await scope.klass(session, user.principal, class_id)
        if klass.school_id == school.id:
            form = ClassForm(klass.id, klass.name, klass.class_teacher_id or "")
    counts = {"imported": imported, "skipped": skipped}
    return await _page(request, user, session, school, class_form=form, done=done, counts=counts)


@router.get("/setup/roster/sample.csv")
async def sample(user: UserDep, session: SessionDep) -> Response:
    """A file to fill in: the header and one row of this school."""
    school = await setup_school(session, user)
    row = [school.id, "7a", "p-001", "Иванов Иван", "g-001", "Иванова Мария"]
    row += ["+79161234567", "parent@example.org", "01.09.2026"]
    body = ";".join(COLUMNS) + "\r\n" + ";".join(row) + "\r\n"
    return Response(
        body.encode("utf-8-sig"),  # the BOM: Excel then reads it as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="roster.csv"'},
    )


@router.post("/setup/roster/check", response_class=HTMLResponse, dependencies=[FormChecked])
async def check(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """The dry run: what importing the file would do, nothing written."""
    school = await setup_school(session, user)
    t = translator(user.locale)
    data = await file.read() if file is not None else b""
    if not data:
        return await _page(request, user, session, school, problem=t("setup.roster.no_file"))
    try:
        report = await import_for(
            session=session, actor=user.principal, school_id=school.id, data=data, dry_run=True
        )
    except InvalidInput as exc:  # the file as a whole is unusable: no header, no columns
        return await _page(request, user, session, school, problem=exc.reason, status=422)
    await session.refresh(school)  # a dry run ends in a rollback, which expires what it read
    upload = secrets.token_urlsafe(24)
    if report.imported:
        name = f"{user.session_id}-{upload}.csv"
        await asyncio.to_thread(_store, _folder(runtime), name, data)
    return render(
        request,
        "setup_roster_check.html.j2",
        {
            "school": school,
            "step": step_of(await progress(session, school, user.locale), "roster"),
            "report": report,
            "upload": upload,
        },
        title=t("setup.roster.check.title"),
    )


@router.post("/setup/roster/import", dependencies=[FormChecked])
async def import_checked(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    upload: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    school = await setup_school(session, user)
    path = _upload_path(runtime, user, upload)
    data = await asyncio.to_thread(_take, path) if path is not None else None
    if data is None or path is None:
        problem = translator(user.locale)("setup.roster.gone")
        return await _page(request, user, session, school, problem=problem, status=410)
    try:
        report: ImportReport = await import_for(
            session=session, actor=user.principal, school_id=school.id, data=data, dry_run=False
        )
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    return redirect(
        request,
        f"/setup/roster?done=imported&imported={report.imported}&skipped={len(report.errors)}",
    )


@router.post("/setup/classes", dependencies=[FormChecked])
async def save_class(
    request: Request,
    user: UserDep,
    session: SessionDep,
    class_id: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    class_teacher_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add a class or change one (the same service as PUT /v1/classes/{id})."""
    school = await setup_school(session, user)
    t = translator(user.locale)
    form = ClassForm(class_id.strip(), name.strip(), class_teacher_id.strip())
    problem = None
    try:
        if not ref_ok(form.class_id):
            raise InvalidInput(t("setup.classes.bad_id"), field="class_id")
        body = ClassIn(
            school_id=school.id, name=form.name, class_teacher_id=form.class_teacher_id or None
        )
        existing = await session.get(SchoolClass, form.class_id)
        if existing is not None:
            scope.school(user.principal, existing.school_id)
            if existing.school_id != school.id:
                raise InvalidInput(t("setup.classes.taken"), field="class_id")
        await service.save_class(
            session=session, actor=user.principal, class_id=form.class_id, body=body
        )
    except ValidationError as exc:
        problem = problems(exc)
    except InvalidInput as exc:
        await rolled_back(session, school)
        problem = exc.reason
    if problem is not None:
        return await _page(
            request, user, session, school, class_form=form, class_problem=problem, status=422
        )
    return redirect(request, "/setup/roster?done=class#classes")
