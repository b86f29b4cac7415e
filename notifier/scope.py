"""The one tenancy rule (SPEC §8): who may read, change or message which school's records.

A principal is region-wide (no school), bound to one school, or a class teacher (their own
classes). Every face (the API, the bots, the console) asks these functions; none decides on its
own. A record is checked as it exists *and* as a write would leave it, so nothing can be moved
out of another school or into one's own.

Guardians have no school of their own: theirs are the schools of their pupils. A guardian with
children in two schools is visible to both; a school's principal may change such a guardian's
links only within its own school, and only a region-wide admin may erase them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, String, and_, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.auth import Principal, Role
from notifier.db.models import (
    ApiToken,
    AuditEntry,
    Guardian,
    GuardianStudent,
    SchoolClass,
    Staff,
    Student,
)
from notifier.errors import Forbidden, InvalidInput, NotFound


def outside(school_id: str | None, schools: Iterable[str]) -> list[str]:
    """The schools among `schools` that a principal bound to `school_id` may not touch."""
    if school_id is None:
        return []
    return sorted({s for s in schools if s != school_id})


def school(principal: Principal, school_id: str) -> None:
    """A record of school `school_id` is within the principal's reach."""
    if outside(principal.school_id, [school_id]):
        raise Forbidden(f"your token is bound to school {principal.school_id!r}")


def own_classes(principal: Principal) -> Select[str]:
    """The ids of the classes a teacher leads: those naming them as class teacher *in the
    teacher's own school* (another school cannot hand its class to this teacher by naming
    them)."""
    return (
        select(SchoolClass.id)
        .join(Staff, Staff.id == SchoolClass.class_teacher_id)
        .where(Staff.id == principal.staff_id, Staff.school_id == SchoolClass.school_id)
    )


async def klass(session: AsyncSession, principal: Principal, class_id: str) -> SchoolClass:
    """A class the principal may see (a teacher: only their own), or NotFound / Forbidden."""
    item = await session.get(SchoolClass, class_id)
    if item is None:
        raise NotFound(f"no class {class_id!r}")
    school(principal, item.school_id)
    if principal.role is Role.teacher:
        if item.id not in set(await session.scalars(own_classes(principal))):
            raise Forbidden("a teacher sees only their own classes")
    return item


async def pupils(session: AsyncSession, principal: Principal, student_ids: Iterable[str]) -> None:
    """Every known pupil among `student_ids` is within reach (unknown ones are the caller's to
    report)."""
    ids = set(student_ids)
    if not ids or (principal.school_id is None and principal.role is not Role.teacher):
        return
    rows = (
        await session.execute(
            select(Student.id, Student.school_id, Student.class_id).where(Student.id.in_(ids))
        )
    ).all()
    if bad := outside(principal.school_id, (s for _, s, _ in rows)):
        raise Forbidden(
            f"your token is bound to school {principal.school_id!r}; "
            f"these pupils are of another school ({len(bad)})"
        )
    if principal.role is Role.teacher:
        own = set(await session.scalars(own_classes(principal)))
        if others := sorted(sid for sid, _, cid in rows if cid not in own):
            raise Forbidden(f"a teacher acts only for pupils of their own classes; not: {others}")


async def _links(session: AsyncSession, guardian_id: str) -> list[tuple[str, str, str | None]]:
    """(pupil, school, class) of each of a guardian's children."""
    rows = await session.execute(
        select(Student.id, Student.school_id, Student.class_id)
        .join(GuardianStudent, GuardianStudent.student_id == Student.id)
        .where(GuardianStudent.guardian_id == guardian_id)
        .order_by(Student.id)
    )
    return [(sid, school_id, cid) for sid, school_id, cid in rows]


async def visible_pupils(
    session: AsyncSession, principal: Principal, guardian_id: str
) -> list[str] | None:
    """The guardian's children whose records the principal may see; None = all of them."""
    if principal.role is not Role.teacher and principal.school_id is None:
        return None
    links = await _links(session, guardian_id)
    if principal.role is Role.teacher:
        own = set(await session.scalars(own_classes(principal)))
        return [sid for sid, _, cid in links if cid in own]
    return [sid for sid, school_id, _ in links if school_id == principal.school_id]


async def guardian(session: AsyncSession, principal: Principal, guardian_id: str) -> Guardian:
    """A guardian the principal may see and act for: one with a child in the principal's
    school (a teacher: in their own class). NotFound if there is none by that id."""
    item = await session.get(Guardian, guardian_id)
    if item is None:
        raise NotFound(f"no guardian {guardian_id!r}")
    visible = await visible_pupils(session, principal, guardian_id)
    if visible is not None and not visible:
        if principal.role is Role.teacher:
            raise Forbidden("a teacher sees only guardians of pupils in their own classes")
        raise Forbidden(
            f"guardian {guardian_id!r} has no child in school {principal.school_id!r}, "
            "the one your token is bound to"
        )
    return item


async def whole_guardian(session: AsyncSession, principal: Principal, guardian_id: str) -> Guardian:
    """A guardian all of whose children are within reach (erasure ends them everywhere)."""
    item = await guardian(session, principal, guardian_id)
    schools = {s for _, s, _ in await _links(session, guardian_id)}
    if outside(principal.school_id, schools):
        raise Forbidden(
            "this guardian also has children in another school; a region-wide admin erases them"
        )
    return item


async def guardian_write(
    session: AsyncSession, principal: Principal, guardian_id: str, student_ids: list[str]
) -> str | None:
    """May the principal create or replace this guardian with these pupils? Returns the school
    whose links the write replaces (None: all of them); links to other schools' pupils stay."""
    await pupils(session, principal, student_ids)
    if principal.school_id is None:
        return None
    if not student_ids:
        raise InvalidInput(
            "student_ids: a token bound to a school names at least one pupil of that school",
            field="student_ids",
        )
    if await session.get(Guardian, guardian_id) is not None:
        await guardian(session, principal, guardian_id)
    return principal.school_id


async def staff(
    session: AsyncSession, principal: Principal, staff_id: str, becomes: str | None = None
) -> Staff | None:
    """A staff member within reach as they are, and in the school a write would put them."""
    item = await session.get(Staff, staff_id)
    if item is not None:
        school(principal, item.school_id)
    if becomes is not None:
        school(principal, becomes)
    return item


async def audit_subject(
    session: AsyncSession, principal: Principal, subject_type: str | None, subject_id: str | None
) -> None:
    """A school's principal names one subject of its school at a time (a token bound to it
    included); the rest (region-wide tokens and streams, other schools) is the region's. The
    whole of its school's trail at once: `audit_reach`."""
    if principal.school_id is None:
        return
    if subject_type is None or subject_id is None:
        raise Forbidden("a school's admin names the subject: subject_type and subject_id")
    if subject_type == "guardian":
        await guardian(session, principal, subject_id)
    elif subject_type == "school":
        school(principal, subject_id)
    elif subject_type in _OWNED:
        model = _OWNED[subject_type]
        school_id = await session.scalar(select(model.school_id).where(model.id == subject_id))
        if school_id is None:
            raise NotFound(f"no {subject_type} {subject_id!r}")
        school(principal, school_id)
    elif subject_type == "token":
        await token(session, principal, subject_id)
    else:
        raise Forbidden(f"entries about {subject_type!r} are for the region's admins")


def audit_of_school(school_id: str) -> ColumnElement[bool]:
    """The audit entries whose subject belongs to school `school_id`: the school itself, its
    classes, pupils, staff and the tokens bound to it, and the guardians of its pupils (a
    guardian shared with another school included, as `guardian` above sees them). The whole
    trail of a school's admin, without naming one subject at a time."""
    owned = [
        (kind, select(model.id).where(model.school_id == school_id))
        for kind, model in _OWNED.items()
    ]
    guardians = (
        select(GuardianStudent.guardian_id)
        .join(Student, Student.id == GuardianStudent.student_id)
        .where(Student.school_id == school_id)
    )
    # Token ids are integers; the trail keeps every subject's id as text.
    tokens = select(cast(ApiToken.id, String)).where(ApiToken.school_id == school_id)
    return or_(
        and_(AuditEntry.subject_type == "school", AuditEntry.subject_id == school_id),
        *(
            and_(AuditEntry.subject_type == kind, AuditEntry.subject_id.in_(ids))
            for kind, ids in [*owned, ("guardian", guardians), ("token", tokens)]
        ),
    )


_OWNED: dict[str, type[SchoolClass] | type[Student] | type[Staff]] = {
    "class": SchoolClass,
    "student": Student,
    "staff": Staff,
}


def classes(principal: Principal) -> Select[SchoolClass]:
    """The classes a principal may open: a teacher's own, a school's, or (region-wide) all."""
    stmt = select(SchoolClass).order_by(SchoolClass.school_id, SchoolClass.name)
    if principal.role is Role.teacher:
        return stmt.where(SchoolClass.id.in_(own_classes(principal)))
    if principal.school_id is not None:
        return stmt.where(SchoolClass.school_id == principal.school_id)
    return stmt


def staff_members(principal: Principal) -> Select[Staff]:
    """The staff a principal may see: a school's (region-wide: everyone's)."""
    stmt = select(Staff).order_by(Staff.school_id, Staff.full_name)
    if principal.school_id is not None:
        return stmt.where(Staff.school_id == principal.school_id)
    return stmt


def audit_reach(principal: Principal, school_id: str | None) -> ColumnElement[bool] | None:
    """The part of the trail a principal lists without naming a subject: a school's principal,
    its school's entries; a region-wide one, one school's (`school_id`) or (None) all of it."""
    if principal.school_id is not None:
        if school_id is not None:
            school(principal, school_id)
        return audit_of_school(principal.school_id)
    return audit_of_school(school_id) if school_id is not None else None


def tokens(principal: Principal) -> Select[ApiToken]:
    """The API tokens a principal may list and revoke: those bound to its school (region-wide:
    every token, the region-wide ones included)."""
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if principal.school_id is not None:
        return stmt.where(ApiToken.school_id == principal.school_id)
    return stmt


async def token(session: AsyncSession, principal: Principal, token_id: str | int) -> ApiToken:
    """A token within reach, or NotFound / Forbidden; a region-wide token is the region's."""
    item = None
    if isinstance(token_id, int) or (token_id.isascii() and token_id.isdigit()):
        number = int(token_id)
        item = await session.get(ApiToken, number) if number < 2**31 else None
    if item is None:
        raise NotFound(f"no token {token_id}")
    if item.school_id is None:
        if principal.school_id is not None:
            raise Forbidden("a region-wide token is for the region's admins")
    else:
        school(principal, item.school_id)
    return item
