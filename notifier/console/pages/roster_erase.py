"""Erasing a guardian (152-FZ) from the console: a page that names what goes and what stays,
the admin types the guardian's name to confirm, then the same erasure as DELETE
/v1/guardians/{id}. A guardian with children in another school is the region's to erase."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit, scope
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep
from notifier.console.i18n import translator
from notifier.console.pages.roster import fold, mask_email, mask_phone
from notifier.console.pages.roster_guardian import guardian_in_reach
from notifier.console.web import render
from notifier.db.models import Consent, Guardian, GuardianStudent, LinkCode, Notification
from notifier.db.states import RowStatus
from notifier.errors import Forbidden
from notifier.roster import service
from notifier.roster.chat_link import LinkSubject
from notifier.signin import SignedIn

router = APIRouter()


@dataclass(frozen=True)
class Footprint:
    """What the guardian has on file, counted for the confirmation page."""

    children: int
    codes: int
    consents: int
    kept: int  # delivery log records that stay, without the person
    pending: int  # messages not yet sent, cancelled


async def _count(session: AsyncSession, stmt: Select[int]) -> int:
    return int(await session.scalar(stmt) or 0)


async def footprint(session: AsyncSession, guardian_id: str) -> Footprint:
    mine = Notification.guardian_id == guardian_id
    return Footprint(
        children=await _count(
            session,
            select(func.count())
            .select_from(GuardianStudent)
            .where(GuardianStudent.guardian_id == guardian_id),
        ),
        codes=await _count(
            session,
            select(func.count())
            .select_from(LinkCode)
            .where(
                LinkCode.subject_type == LinkSubject.guardian, LinkCode.subject_id == guardian_id
            ),
        ),
        consents=await _count(
            session,
            select(func.count()).select_from(Consent).where(Consent.guardian_id == guardian_id),
        ),
        kept=await _count(session, select(func.count()).select_from(Notification).where(mine)),
        pending=await _count(
            session,
            select(func.count())
            .select_from(Notification)
            .where(mine, Notification.status == RowStatus.pending),
        ),
    )


async def _page(
    request: Request,
    session: AsyncSession,
    user: SignedIn,
    guardian: Guardian,
    *,
    typed: str = "",
    mismatch: bool = False,
    status: int = 200,
) -> HTMLResponse:
    try:
        await scope.whole_guardian(session, user.principal, guardian.id)
        allowed = True
    except Forbidden:
        allowed = False
    return render(
        request,
        "roster_erase.html.j2",
        {
            "g": guardian,
            "phone": mask_phone(guardian.phone),
            "email": mask_email(guardian.email),
            "linked": guardian.telegram_chat_id is not None or guardian.max_user_id is not None,
            "counts": await footprint(session, guardian.id),
            "allowed": allowed,
            "typed": typed,
            "mismatch": mismatch,
        },
        status=status,
        title=translator(user.locale)("roster.erase.title"),
    )


@router.get("/roster/guardians/{guardian_id}/erase", response_class=HTMLResponse)
async def confirm(
    guardian_id: str, request: Request, user: UserDep, session: SessionDep
) -> HTMLResponse:
    guardian = await guardian_in_reach(session, user, guardian_id)
    return await _page(request, session, user, guardian)


@router.post(
    "/roster/guardians/{guardian_id}/erase",
    response_class=HTMLResponse,
    dependencies=[FormChecked],
)
async def erase(
    guardian_id: str,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    confirm_name: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    guardian = await guardian_in_reach(session, user, guardian_id)
    await scope.whole_guardian(session, user.principal, guardian_id)
    if not confirm_name.strip() or fold(confirm_name) != fold(guardian.full_name):
        return await _page(
            request, session, user, guardian, typed=confirm_name, mismatch=True, status=422
        )
    erased = await service.erase_guardian(
        session=session,
        guardian_id=guardian_id,
        redis=runtime.redis,
        outbox_dir=runtime.settings.outbox_dir,
    )
    audit.record(
        session,
        user.principal,
        "guardian.erase",
        "guardian",
        erased.pseudonym,  # the erased id must not come back in the trail
        {"kept": erased.kept, "cancelled": erased.cancelled},
    )
    await session.commit()
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/roster?done=erased&kept={erased.kept}", status_code=303)
