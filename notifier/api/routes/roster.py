"""PUT roster records (SPEC §4), consent, and a guardian's effective preferences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response

from notifier import audit, scope
from notifier.api.access import guardian_access
from notifier.api.deps import PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.audit import fields_of
from notifier.auth import Principal, Role
from notifier.channels.base import Messenger
from notifier.db.models import SchoolClass, Student
from notifier.errors import NotFound
from notifier.roster import service
from notifier.roster.chat_link import LinkSubject, issue_link
from notifier.roster.schemas import ClassIn, ConsentIn, GuardianIn, SchoolIn, StaffIn, StudentIn
from notifier.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["roster"], route_class=DocumentedRoute)
WRITERS = (Role.admin, Role.integration)
NO_TELEGRAM = (409, "Telegram is not configured (NOTIFIER_TELEGRAM_TOKEN)")
NO_MAX = (409, "MAX is not configured (NOTIFIER_MAX_TOKEN)")


def _writer(principal: Principal, school_id: str) -> None:
    principal.require(*WRITERS)
    scope.school(principal, school_id)


@router.put(
    "/schools/{school_id}",
    summary="Create or replace a school",
    responses=errors_of((409, "telegram_token: the bot serves another school or the service")),
)
async def put_school(
    school_id: str,
    body: SchoolIn,
    session: SessionDep,
    principal: PrincipalDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    _writer(principal, school_id)
    own = runtime.settings.telegram_token
    school = await service.save_school(
        session=session,
        actor=principal,
        school_id=school_id,
        body=body,
        service_token=own.get_secret_value() if own else None,
    )
    shown = body.model_dump(mode="json", exclude={"telegram_token"})
    bot = service.bot_id(school.telegram_token) if school.telegram_token else None
    return {"id": school.id, **shown, "telegram_bot_id": bot}


@router.put("/classes/{class_id}", summary="Create or replace a class")
async def put_class(
    class_id: str, body: ClassIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    _writer(principal, body.school_id)
    existing = await session.get(SchoolClass, class_id)
    if existing is not None:
        scope.school(principal, existing.school_id)
    await service.save_class(session=session, actor=principal, class_id=class_id, body=body)
    return {"id": class_id, **body.model_dump(mode="json")}


@router.put("/students/{student_id}", summary="Create or replace a pupil")
async def put_student(
    student_id: str, body: StudentIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    _writer(principal, body.school_id)
    existing = await session.get(Student, student_id)
    if existing is not None:
        scope.school(principal, existing.school_id)
    audit.record(
        session,
        principal,
        "student.put",
        "student",
        student_id,
        fields_of(body, personal=["full_name"]),
    )
    await service.put_student(session=session, student_id=student_id, body=body)
    return {"id": student_id, **body.model_dump(mode="json")}


@router.put("/guardians/{guardian_id}", summary="Create or replace a guardian and their pupils")
async def put_guardian(
    guardian_id: str, body: GuardianIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(*WRITERS)
    within = await scope.guardian_write(session, principal, guardian_id, body.student_ids)
    audit.record(
        session,
        principal,
        "guardian.put",
        "guardian",
        guardian_id,
        fields_of(body, personal=["full_name", "phone", "email"]),
    )
    await service.put_guardian(
        session=session, guardian_id=guardian_id, body=body, within_school=within
    )
    return {"id": guardian_id, **body.model_dump(mode="json")}


@router.put("/staff/{staff_id}", summary="Create or replace a staff member")
async def put_staff(
    staff_id: str, body: StaffIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(*WRITERS)
    await scope.staff(session, principal, staff_id, becomes=body.school_id)
    await service.save_staff(session=session, actor=principal, staff_id=staff_id, body=body)
    return {"id": staff_id, **body.model_dump(mode="json")}


@router.post(
    "/guardians/{guardian_id}/consent",
    status_code=201,
    summary="Record consent to processing",
    responses=errors_of(404),
)
async def grant_consent(
    guardian_id: str, body: ConsentIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    await guardian_access(session, principal, guardian_id, *WRITERS)
    audit.record(session, principal, "consent.grant", "guardian", guardian_id, fields_of(body))
    consent = await service.grant_consent(
        session=session,
        guardian_id=guardian_id,
        document=body.document,
        by_token=principal.token_id,
    )
    return {
        "guardian_id": guardian_id,
        "document": consent.document,
        "granted_at": consent.granted_at,
    }


@router.delete(
    "/guardians/{guardian_id}/consent",
    status_code=204,
    summary="Revoke consent: no more messages",
    responses=errors_of((404, "No such guardian (or none the token may see), or no consent")),
)
async def revoke_consent(
    guardian_id: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    await guardian_access(session, principal, guardian_id, *WRITERS)
    audit.record(session, principal, "consent.revoke", "guardian", guardian_id)
    await service.revoke_consent(
        session=session, guardian_id=guardian_id, by_token=principal.token_id
    )
    return Response(status_code=204)


@router.delete(
    "/guardians/{guardian_id}",
    summary="Erase a guardian's personal data (152-FZ); delivery statistics stay, anonymous",
    responses=errors_of(404),
)
async def erase_guardian(
    guardian_id: str, session: SessionDep, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    principal.require(Role.admin)
    await scope.whole_guardian(session, principal, guardian_id)
    erased = await service.erase_guardian(
        session=session,
        guardian_id=guardian_id,
        redis=runtime.redis,
        outbox_dir=runtime.settings.outbox_dir,
    )
    audit.record(
        session,
        principal,
        "guardian.erase",
        "guardian",
        erased.pseudonym,  # the erased id must not come back in the trail
        {"kept": erased.kept, "cancelled": erased.cancelled},
    )
    await session.commit()
    return {
        "id": guardian_id,
        "erased": True,
        "delivery_records_kept": erased.kept,
        "messages_cancelled": erased.cancelled,
    }


@router.get(
    "/guardians/{guardian_id}",
    summary="A guardian, their pupils and consent",
    responses=errors_of(404),
)
async def get_guardian(
    guardian_id: str, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    await guardian_access(session, principal, guardian_id, Role.admin, Role.teacher)
    guardian = await service.get_guardian(session=session, guardian_id=guardian_id)
    consent = await service.active_consent(session=session, guardian_id=guardian_id)
    return {
        "id": guardian.id,
        "full_name": guardian.full_name,
        "phone": guardian.phone,
        "email": guardian.email,
        "locale": guardian.locale,
        "telegram_linked": guardian.telegram_chat_id is not None,
        "max_linked": guardian.max_user_id is not None,
        "student_ids": visible
        if (visible := await scope.visible_pupils(session, principal, guardian_id)) is not None
        else await service.guardian_student_ids(session=session, guardian_id=guardian_id),
        "consent": {"document": consent.document, "granted_at": consent.granted_at}
        if consent
        else None,
    }


async def _link(
    session: SessionDep,
    principal: Principal,
    runtime: Runtime,
    subject_id: str,
    subject: LinkSubject,
    messenger: Messenger = Messenger.telegram,
) -> dict[str, Any]:
    issued = await issue_link(
        session=session,
        messenger=messenger,
        channel=runtime.messenger(messenger),
        actor=principal,
        subject=subject,
        subject_id=subject_id,
        ttl=timedelta(days=runtime.settings.link_code_ttl_days),
        now=runtime.clock(),
    )
    return {"code": issued.code, "url": issued.url, "expires_at": issued.expires_at}


@router.post(
    "/guardians/{guardian_id}/telegram-link",
    status_code=201,
    summary="A single-use, expiring code and deep link that connects the guardian's Telegram",
    responses=errors_of(404, NO_TELEGRAM),
)
async def telegram_link(
    guardian_id: str, session: SessionDep, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    await guardian_access(session, principal, guardian_id, Role.admin, Role.teacher)
    return await _link(session, principal, runtime, guardian_id, LinkSubject.guardian)


@router.post(
    "/staff/{staff_id}/telegram-link",
    status_code=201,
    summary="A single-use code that connects a class teacher's Telegram (for /announce)",
    responses=errors_of(404, NO_TELEGRAM),
)
async def staff_telegram_link(
    staff_id: str, session: SessionDep, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    principal.require(Role.admin)
    if await scope.staff(session, principal, staff_id) is None:
        raise NotFound(f"no staff member {staff_id!r}")
    return await _link(session, principal, runtime, staff_id, LinkSubject.staff)


@router.post(
    "/guardians/{guardian_id}/max-link",
    status_code=201,
    summary="A single-use, expiring code and https://max.ru/<bot>?start=<code> link that "
    "connects the guardian's MAX",
    responses=errors_of(404, NO_MAX),
)
async def max_link(
    guardian_id: str, session: SessionDep, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    await guardian_access(session, principal, guardian_id, Role.admin, Role.teacher)
    return await _link(
        session, principal, runtime, guardian_id, LinkSubject.guardian, Messenger.max
    )


@router.post(
    "/staff/{staff_id}/max-link",
    status_code=201,
    summary="A single-use code that connects a class teacher's MAX (for /announce)",
    responses=errors_of(404, NO_MAX),
)
async def staff_max_link(
    staff_id: str, session: SessionDep, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    principal.require(Role.admin)
    if await scope.staff(session, principal, staff_id) is None:
        raise NotFound(f"no staff member {staff_id!r}")
    return await _link(session, principal, runtime, staff_id, LinkSubject.staff, Messenger.max)
