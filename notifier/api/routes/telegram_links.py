"""Unlinking Telegram chats and MAX users (SPEC §8): a school stops a guardian's or a staff
member's chat at once. A DELETE of a chat that is not linked is 204 as well: the state asked
for holds. And
ending a staff member's console sessions, for the same reason (a lost or shared device)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from notifier import audit, scope
from notifier.api.access import guardian_access
from notifier.api.deps import PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Role
from notifier.channels.base import Messenger
from notifier.errors import NotFound
from notifier.roster.chat_link import LinkSubject, unlink
from notifier.signin import end_sessions_of

router = APIRouter(prefix="/v1", tags=["roster"], route_class=DocumentedRoute)


def _unlink_routes(messenger: Messenger, title: str) -> None:
    @router.delete(
        f"/guardians/{{guardian_id}}/{messenger}",
        status_code=204,
        summary=f"Unlink the guardian's {title} at once (204 also if none was linked)",
        responses=errors_of(404),
        name=f"unlink_guardian_{messenger}",
    )
    async def unlink_guardian(
        guardian_id: str, session: SessionDep, principal: PrincipalDep
    ) -> Response:
        await guardian_access(session, principal, guardian_id, Role.admin, Role.teacher)
        audit.record(session, principal, f"{messenger}_link.delete", "guardian", guardian_id)
        await unlink(
            session=session,
            subject=LinkSubject.guardian,
            subject_id=guardian_id,
            messenger=messenger,
        )
        return Response(status_code=204)

    @router.delete(
        f"/staff/{{staff_id}}/{messenger}",
        status_code=204,
        summary=f"Unlink a staff member's {title} at once (204 also if none was linked)",
        responses=errors_of(404),
        name=f"unlink_staff_{messenger}",
    )
    async def unlink_staff(staff_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
        principal.require(Role.admin)
        if await scope.staff(session, principal, staff_id) is None:
            raise NotFound(f"no staff member {staff_id!r}")
        audit.record(session, principal, f"{messenger}_link.delete", "staff", staff_id)
        await unlink(
            session=session, subject=LinkSubject.staff, subject_id=staff_id, messenger=messenger
        )
        return Response(status_code=204)


_unlink_routes(Messenger.telegram, "Telegram chat")
_unlink_routes(Messenger.max, "MAX chat")


@router.delete(
    "/staff/{staff_id}/console-sessions",
    summary="End every open web-console session of a staff member at once (a lost phone)",
    responses=errors_of(404),
)
async def end_console_sessions(
    staff_id: str, session: SessionDep, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, int]:
    principal.require(Role.admin)
    if await scope.staff(session, principal, staff_id) is None:
        raise NotFound(f"no staff member {staff_id!r}")
    ended = await end_sessions_of(
        session=session, principal=principal, staff_id=staff_id, now=runtime.clock()
    )
    return {"ended": ended}
