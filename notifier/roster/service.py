"""Roster services: upserts of schools, classes, pupils, guardians, staff; consent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit
from notifier.audit import fields_of
from notifier.auth import Principal
from notifier.db.models import (
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
from notifier.db.states import Reason, RowStatus
from notifier.db.types import utcnow
from notifier.errors import Conflict, InvalidInput, NotFound
from notifier.roster import erasure
from notifier.roster.schemas import ClassIn, GuardianIn, SchoolIn, StaffIn, StudentIn


async def _require(
    session: AsyncSession, model: type[School | SchoolClass], ident: str, field: str
) -> None:
    if await session.get(model, ident) is None:
        noun = "school" if model is School else "class"
        raise InvalidInput(f"{field}: no such {noun} {ident!r}", field=field)


def bot_id(token: str) -> str:
    """The bot's numeric id: the part of a BotFather token before the colon."""
    return token.split(":", 1)[0]


async def school_bot_tokens(*, session: AsyncSession) -> list[str]:
    """The tokens of the bots schools registered (the service's own is in its settings)."""
    tokens = await session.scalars(
        select(School.telegram_token).where(School.telegram_token.is_not(None))
    )
    return [t for t in tokens if t]


async def guardian_bot_token(*, session: AsyncSession, guardian_id: str) -> str | None:
    """The bot a guardian should link through: their school's own, if it has one."""
    return await session.scalar(
        select(School.telegram_token)
        .join(Student, Student.school_id == School.id)
        .join(GuardianStudent, GuardianStudent.student_id == Student.id)
        .where(GuardianStudent.guardian_id == guardian_id, School.telegram_token.is_not(None))
        .limit(1)
    )


async def put_school(
    *,
    session: AsyncSession,
    school_id: str,
    body: SchoolIn,
    taken_bot_ids: frozenset[str] = frozenset(),
) -> School:
    """Create or replace a school (`taken_bot_ids`: bots the service itself runs)."""
    if body.telegram_token is not None:
        await _own_bot(session, school_id, bot_id(body.telegram_token), taken_bot_ids)
    school = await session.get(School, school_id) or School(id=school_id)
    school.name = body.name
    school.timezone = body.timezone
    school.quiet_start = body.quiet_hours.start
    school.quiet_end = body.quiet_hours.end
    school.digest_time = body.digest_time
    school.day_report_time = body.day_report_time
    school.important_marks = (
        body.important_marks.model_dump() if body.important_marks is not None else None
    )
    school.edit_day_card = body.edit_day_card
    school.telegram_token = body.telegram_token
    school.sms_budget_month = body.sms_budget_month
    session.add(school)
    await session.commit()
    return school


async def save_school(
    *,
    session: AsyncSession,
    actor: Principal,
    school_id: str,
    body: SchoolIn,
    service_token: str | None,
) -> School:
    """PUT /v1/schools/{id} and the console's setup: the change in the audit trail (the bot's
    token by name only), and the service's own bot (`service_token`) refused as a school's."""
    audit.record(
        session,
        actor,
        "school.put",
        "school",
        school_id,
        fields_of(body, personal=["telegram_token"]),
    )
    taken = frozenset({bot_id(service_token)} if service_token else ())
    return await put_school(session=session, school_id=school_id, body=body, taken_bot_ids=taken)


def school_in(school: School, **changes: Any) -> SchoolIn:
    """The school's record as PUT /v1/schools/{id} takes it, with `changes` (validated: a
    pydantic ValidationError says what is wrong). PUT replaces the whole record, so a form that
    changes a few fields sends the others as they are."""
    current: dict[str, Any] = {
        "name": school.name,
        "timezone": school.timezone,
        "quiet_hours": {"start": school.quiet_start, "end": school.quiet_end},
        "digest_time": school.digest_time,
        "day_report_time": school.day_report_time,
        "important_marks": school.important_marks,
        "edit_day_card": school.edit_day_card,
        "telegram_token": school.telegram_token,
        "sms_budget_month": school.sms_budget_month,
    }
    return SchoolIn.model_validate({**current, **changes})


async def _own_bot(
    session: AsyncSession, school_id: str, bot: str, taken_bot_ids: frozenset[str]
) -> None:
    # One bot serves one school: a second school registering the same bot would receive its
    # updates and answer its parents.
    others = await session.scalars(
        select(School.telegram_token).where(
            School.id != school_id, School.telegram_token.is_not(None)
        )
    )
    if bot in taken_bot_ids or any(bot_id(t) == bot for t in others if t):
        raise Conflict(
            "telegram_token: this bot already serves another school or the whole service; "
            "create a bot of the school's own with @BotFather"
        )


async def put_class(*, session: AsyncSession, class_id: str, body: ClassIn) -> SchoolClass:
    """Create or replace a class of a known school."""
    await _require(session, School, body.school_id, "school_id")
    if body.class_teacher_id is not None:
        # Staff added later are checked by scope.own_classes, which only counts a class
        # teacher of the class's own school.
        teacher = await session.get(Staff, body.class_teacher_id)
        if teacher is not None and teacher.school_id != body.school_id:
            raise InvalidInput(
                f"class_teacher_id: staff member {body.class_teacher_id!r} works in another "
                "school; name one of this school's staff",
                field="class_teacher_id",
            )
    item = await session.get(SchoolClass, class_id) or SchoolClass(id=class_id)
    item.school_id, item.name, item.class_teacher_id = (
        body.school_id,
        body.name,
        body.class_teacher_id,
    )
    session.add(item)
    await session.commit()
    return item


async def save_class(
    *, session: AsyncSession, actor: Principal, class_id: str, body: ClassIn
) -> SchoolClass:
    """PUT /v1/classes/{id} and the console's setup: audited, then stored (the caller checks
    scope)."""
    audit.record(session, actor, "class.put", "class", class_id, fields_of(body))
    return await put_class(session=session, class_id=class_id, body=body)


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


async def put_guardian(
    *, session: AsyncSession, guardian_id: str, body: GuardianIn, within_school: str | None = None
) -> Guardian:
    """Create or replace a guardian and the set of pupils they are linked to (with
    `within_school`, only their links to that school's pupils: the others are not the
    writer's)."""
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
    replaced = delete(GuardianStudent).where(GuardianStudent.guardian_id == guardian_id)
    if within_school is not None:
        replaced = replaced.where(
            GuardianStudent.student_id.in_(
                select(Student.id).where(Student.school_id == within_school)
            )
        )
    await session.execute(replaced)
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
    item.email, item.locale = body.email, body.locale
    session.add(item)
    await session.commit()
    return item


async def save_staff(
    *, session: AsyncSession, actor: Principal, staff_id: str, body: StaffIn
) -> Staff:
    """PUT /v1/staff/{id} and the console's setup: audited (name and email by name only),
    then stored (the caller checks scope)."""
    audit.record(
        session,
        actor,
        "staff.put",
        "staff",
        staff_id,
        fields_of(body, personal=["full_name", "email"]),
    )
    return await put_staff(session=session, staff_id=staff_id, body=body)


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
    files: int = 0  # outbox files of their messages, deleted
    redis_keys: int = 0  # keys naming their chats, deleted


async def erase_guardian(
    *, session: AsyncSession, guardian_id: str, redis: Redis, outbox_dir: Path
) -> Erased:
    """152-FZ erasure: the guardian's record, links to pupils, consent records, preferences,
    channel blocks and link codes go, and so do the outbox files of their messages and the
    Redis keys of their chats; messages not yet sent are cancelled; the delivery log is kept
    for statistics under a random pseudonym that leads back to nobody (its group keys too);
    audit entries keep who did what, under the pseudonym, without their details."""
    guardian = await get_guardian(session=session, guardian_id=guardian_id)
    pseudonym = erasure.new_pseudonym()
    chats = await erasure.chats_of(
        session, guardian_id, guardian.telegram_chat_id, guardian.max_user_id
    )
    mine = select(Notification.id).where(Notification.guardian_id == guardian_id)
    rows = list(await session.scalars(mine))
    cancelled = await session.execute(
        update(Notification)
        .where(Notification.guardian_id == guardian_id, Notification.status == RowStatus.pending)
        .values(status=RowStatus.cancelled, reason=Reason.erased, lease_until=None)
    )
    kept = await erasure.pseudonymise_rows(session, guardian_id, pseudonym)
    await erasure.pseudonymise_audit(session, guardian_id, pseudonym)
    await erasure.forget_chats_in_link_codes(session, chats)
    for model, column in (
        (GuardianStudent, GuardianStudent.guardian_id),
        (Consent, Consent.guardian_id),
        (Preference, Preference.guardian_id),
        (ChannelBlock, ChannelBlock.guardian_id),
    ):
        await session.execute(delete(model).where(column == guardian_id))
    await session.execute(
        delete(LinkCode).where(
            LinkCode.subject_type == erasure.GUARDIAN, LinkCode.subject_id == guardian_id
        )
    )
    await session.execute(delete(Guardian).where(Guardian.id == guardian_id))
    await session.flush()
    # Outside the database before the commit: if Redis is away or a file cannot go, the
    # database is left as it was and the request can simply be repeated (both steps may run
    # twice). Redis first: its keys gone before a file step that failed harm nobody.
    keys = await erasure.forget_chats_in_redis(redis, chats)
    files = await erasure.remove_outbox_files(outbox_dir, rows)
    await session.commit()
    return Erased(
        pseudonym,
        kept,
        int(cancelled.rowcount or 0),  # type: ignore[attr-defined]
        files=files,
        redis_keys=keys,
    )
