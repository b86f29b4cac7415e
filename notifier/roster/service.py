"""Roster services: upserts of schools, classes, pupils, guardians, staff; consent."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import (
    AuditEntry,
    ChannelBlock,
    Consent,
    Guardian,
    GuardianStudent,
    LinkCode,
    Notification,
    Preference,
    School,
    SchoolClass,
    Staff,
    Student,
)
from notifier.db.types import utcnow
from notifier.errors import InvalidInput, NotFound
from notifier.roster.schemas import ClassIn, GuardianIn, SchoolIn, StaffIn, StudentIn


async def _require(
    session: AsyncSession, model: type[School | SchoolClass], ident: str, field: str
) -> None:
    if await session.get(model, ident) is None:
        noun = "school" if model is School else "class"
        raise InvalidInput(f"{field}: no such {noun} {ident!r}", field=field)


async def put_school(*, session: AsyncSession, school_id: str, body: SchoolIn) -> School:
    """Create or replace a school."""
    school = await session.get(School, school_id) or School(id=school_id)
    school.name = body.name
    school.timezone = body.timezone
    school.quiet_start = body.quiet_hours.start
    school.quiet_end = body.quiet_hours.end
    school.digest_time = body.digest_time
    school.telegram_token = body.telegram_token
    session.add(school)
    await session.commit()
    return school


async def put_class(*, session: AsyncSession, class_id: str, body: ClassIn) -> SchoolClass:
    """Create or replace a class of a known school."""
    await _require(session, School, body.school_id, "school_id")
    item = await session.get(SchoolClass, class_id) or SchoolClass(id=class_id)
    item.school_id, item.name, item.class_teacher_id = (
        body.school_id,
        body.name,
        body.class_teacher_id,
    )
    session.add(item)
    await session.commit()
    return item


async def put_student(*, session: AsyncSession, student_id: str, body: StudentIn) -> Student:
    """Create or replace a pupil of a known school (and class)."""
    await _require(session, School, body.school_id, "school_id")
    if body.class_id is not None:
        klass = await session.get(SchoolClass, body.class_id)
        if klass is None or klass.school_id != body.school_id:
            raise InvalidInput(
                f"class_id: no class {body.class_id!r} in school {body.school_id!r}",
                field="class_id",
            )
    item = await session.get(Student, student_id) or Student(id=student_id)
    item.school_id, item.class_id, item.full_name = body.school_id, body.class_id, body.full_name
    session.add(item)
    await session.commit()
    return item


async def put_guardian(*, session: AsyncSession, guardian_id: str, body: GuardianIn) -> Guardian:
    """Create or replace a guardian and the set of pupils they are linked to."""
    wanted = set(body.student_ids)
    if wanted:
        found = set((await session.scalars(select(Student.id).where(Student.id.in_(wanted)))).all())
        if missing := sorted(wanted - found):
            raise InvalidInput(f"student_ids: unknown pupil(s) {missing}", field="student_ids")
    item = await session.get(Guardian, guardian_id) or Guardian(id=guardian_id)
    # A new address is the guardian fixing it: that channel may be tried again.
    fixed = [
        c
        for c, old, new in (("email", item.email, body.email), ("sms", item.phone, body.phone))
        if old != new
    ]
    if fixed and item.created_at is not None:
        await session.execute(
            delete(ChannelBlock).where(
                ChannelBlock.guardian_id == guardian_id, ChannelBlock.channel.in_(fixed)
            )
        )
    item.full_name, item.phone, item.email, item.locale = (
        body.full_name,
        body.phone,
        body.email,
        body.locale,
    )
    session.add(item)
    await session.flush()
    await session.execute(delete(GuardianStudent).where(GuardianStudent.guardian_id == guardian_id))
    session.add_all(GuardianStudent(guardian_id=guardian_id, student_id=s) for s in sorted(wanted))
    await session.commit()
    return item


async def guardian_student_ids(*, session: AsyncSession, guardian_id: str) -> list[str]:
    """The pupils a guardian is linked to."""
    rows = await session.scalars(
        select(GuardianStudent.student_id).where(GuardianStudent.guardian_id == guardian_id)
    )
    return sorted(rows.all())


async def put_staff(*, session: AsyncSession, staff_id: str, body: StaffIn) -> Staff:
    """Create or replace a staff member of a known school."""
    await _require(session, School, body.school_id, "school_id")
    item = await session.get(Staff, staff_id) or Staff(id=staff_id)
    item.school_id, item.full_name, item.role = body.school_id, body.full_name, body.role
    session.add(item)
    await session.commit()
    return item


async def get_guardian(*, session: AsyncSession, guardian_id: str) -> Guardian:
    """A guardian, or NotFound."""
    guardian = await session.get(Guardian, guardian_id)
    if guardian is None:
        raise NotFound(f"no guardian {guardian_id!r}")
    return guardian


async def active_consent(*, session: AsyncSession, guardian_id: str) -> Consent | None:
    """The consent in force for a guardian, if any."""
    return await session.scalar(
        select(Consent)
        .where(Consent.guardian_id == guardian_id, Consent.revoked_at.is_(None))
        .order_by(Consent.granted_at.desc())
        .limit(1)
    )


async def grant_consent(
    *, session: AsyncSession, guardian_id: str, document: str, by_token: int | None
) -> Consent:
    """Record consent (a new document supersedes the one in force)."""
    await get_guardian(session=session, guardian_id=guardian_id)
    now = utcnow()
    current = await active_consent(session=session, guardian_id=guardian_id)
    if current is not None:
        current.revoked_at, current.revoked_by = now, by_token
    consent = Consent(
        guardian_id=guardian_id, document=document, granted_at=now, granted_by=by_token
    )
    session.add(consent)
    await session.commit()
    return consent


async def revoke_consent(*, session: AsyncSession, guardian_id: str, by_token: int | None) -> None:
    """Withdraw consent: from now on nothing is sent to this guardian."""
    await get_guardian(session=session, guardian_id=guardian_id)
    current = await active_consent(session=session, guardian_id=guardian_id)
    if current is None:
        raise NotFound(f"guardian {guardian_id!r} has no consent in force")
    current.revoked_at, current.revoked_by = utcnow(), by_token
    await session.commit()


@dataclass(frozen=True)
class Erased:
    pseudonym: str
    kept: int  # delivery records kept, under the pseudonym
    cancelled: int  # messages that had not gone yet


async def erase_guardian(*, session: AsyncSession, guardian_id: str) -> Erased:
    """152-FZ erasure: the guardian's record, links to pupils, consent records, preferences,
    channel blocks and link codes go; messages not yet sent are cancelled; the delivery log is
    kept for statistics under a random pseudonym that leads back to nobody; audit entries keep
    who did what, without their details."""
    await get_guardian(session=session, guardian_id=guardian_id)
    pseudonym = f"erased-{secrets.token_hex(8)}"
    cancelled = await session.execute(
        update(Notification)
        .where(Notification.guardian_id == guardian_id, Notification.status == "pending")
        .values(status="cancelled", reason="erased", lease_until=None)
    )
    kept = await session.execute(
        update(Notification)
        .where(Notification.guardian_id == guardian_id)
        .values(guardian_id=pseudonym)
    )
    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.subject_type == "guardian", AuditEntry.subject_id == guardian_id)
        .values(detail=None)
    )
    for model, column in (
        (GuardianStudent, GuardianStudent.guardian_id),
        (Consent, Consent.guardian_id),
        (Preference, Preference.guardian_id),
        (ChannelBlock, ChannelBlock.guardian_id),
    ):
        await session.execute(delete(model).where(column == guardian_id))
    await session.execute(
        delete(LinkCode).where(
            LinkCode.subject_type == "guardian", LinkCode.subject_id == guardian_id
        )
    )
    await session.execute(delete(Guardian).where(Guardian.id == guardian_id))
    await session.commit()
    return Erased(
        pseudonym,
        int(kept.rowcount or 0),  # type: ignore[attr-defined]
        int(cancelled.rowcount or 0),  # type: ignore[attr-defined]
    )
