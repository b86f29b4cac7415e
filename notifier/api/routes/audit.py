"""The audit trail for admins and regulators (002 §1.12): who changed consent, preferences,
the roster and tokens. A school's admin reads the entries about its own school's people."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from notifier import audit, scope
from notifier.api.deps import MAX_PK, PrincipalDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Role
from notifier.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["audit"], route_class=DocumentedRoute)


@router.get(
    "/audit",
    summary="The audit trail, newest first",
    responses=errors_of((404, "No such subject (or none the token may see)")),
)
async def audit_trail(
    session: SessionDep,
    principal: PrincipalDep,
    subject_type: Annotated[
        str | None,
        Query(max_length=20, description="guardian, school, class, student, staff, token"),
    ] = None,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_PK, description="entries older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    if subject_id is not None and subject_type is None:
        raise InvalidInput("subject_id needs subject_type", field="subject_type")
    principal.require(Role.admin)
    await scope.audit_subject(session, principal, subject_type, subject_id)
    found = audit.TrailFilter(subject_type=subject_type, subject_id=subject_id, action=action)
    rows = list(await session.scalars(audit.trail(found, limit=limit, before=before)))
    return {
        "items": [
            {
                "id": e.id,
                "at": e.at,
                "actor_role": e.actor_role,
                "actor_token_id": e.actor_token_id,
                "actor_staff_id": e.actor_staff_id,
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "detail": e.detail,
            }
            for e in rows
        ],
        "next_before": rows[-1].id if len(rows) == limit else None,
    }
