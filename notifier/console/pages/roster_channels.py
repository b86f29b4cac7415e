"""A guardian's channels, subscriptions, consent and messenger chats (Telegram, MAX), changed by
the admin from the guardian's page (roster_guardian.py) through the services the API uses: PUT
/v1/guardians/{id}/preferences, POST and DELETE /v1/guardians/{id}/consent, DELETE
/v1/guardians/{id}/telegram|max and POST /v1/guardians/{id}/telegram-link|max-link."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from notifier import audit
from notifier.audit import fields_of
from notifier.categories import ALL_CATEGORIES
from notifier.channels.base import Messenger
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep
from notifier.console.i18n import translator
from notifier.console.pages.roster_guardian import (
    ALL_CHANNELS,
    UNLINKED,
    PrefsForm,
    Problem,
    back_to,
    guardian_in_reach,
    guardian_page_for,
)
from notifier.db.models import Preference
from notifier.errors import InvalidInput
from notifier.roster import choices, service
from notifier.roster.chat_link import LinkSubject, issue_link, unlink
from notifier.roster.schemas import ConsentIn

router = APIRouter()


@router.post(
    "/roster/guardians/{guardian_id}/preferences",
    response_class=HTMLResponse,
    dependencies=[FormChecked],
)
async def preferences(
    guardian_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The same change as PUT /v1/guardians/{id}/preferences: the channel order and a mode per
    category. The guardian's per-child choices and quiet hours (set in the bot) stay."""
    guardian = await guardian_in_reach(session, user, guardian_id)
    sent = await request.form()

    def value(name: str) -> str:
        got = sent.get(name)
        return got.strip() if isinstance(got, str) else ""

    form = PrefsForm(
        tuple(c for i in range(1, len(ALL_CHANNELS) + 1) if (c := value(f"channel_{i}"))),
        {c: m for c in ALL_CATEGORIES if (m := value(f"mode_{c}"))},
        value("basis"),
    )
    own = await session.get(Preference, guardian_id)
    t = translator(user.locale)
    try:
        body = choices.PreferencesIn.model_validate(
            {
                "channels": list(form.channels) or None,
                "categories": form.modes,
                "per_student": (own.per_student or {}) if own else {},
                "quiet_hours": {"start": own.quiet_start, "end": own.quiet_end}
                if own and own.quiet_start and own.quiet_end
                else None,
                "basis": form.basis or None,
            }
        )
        await choices.set_preferences(
            session=session, guardian_id=guardian_id, body=body, actor=user.principal
        )
    except (ValidationError, InvalidInput) as exc:
        await session.rollback()
        await session.refresh(guardian)  # the rollback expired it; the page reads it
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            detail = f"{where}: {first['msg'].removeprefix('Value error, ')}"
        else:
            detail = exc.reason
        problem = Problem("prefs", t("roster.bad.channels"), detail)
        return await guardian_page_for(
            request, session, user, runtime, guardian, prefs=form, problem=problem, status=422
        )
    return back_to(request, guardian_id, "prefs")


@router.post(
    "/roster/guardians/{guardian_id}/consent",
    response_class=HTMLResponse,
    dependencies=[FormChecked],
)
async def grant_consent(
    guardian_id: str,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    document: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Consent on file, with the reference of the signed document (POST /v1/.../consent)."""
    guardian = await guardian_in_reach(session, user, guardian_id)
    try:
        body = ConsentIn.model_validate({"document": document})
    except ValidationError as exc:
        first = exc.errors()[0]
        problem = Problem(
            "consent",
            translator(user.locale)("roster.bad.document"),
            f"document: {first['msg']}",
            field="document",
        )
        return await guardian_page_for(
            request,
            session,
            user,
            runtime,
            guardian,
            document=document,
            problem=problem,
            status=422,
        )
    audit.record(session, user.principal, "consent.grant", "guardian", guardian_id, fields_of(body))
    await service.grant_consent(
        session=session,
        guardian_id=guardian_id,
        document=body.document,
        by_token=user.principal.token_id,
    )
    return back_to(request, guardian_id, "consent")


@router.post("/roster/guardians/{guardian_id}/consent/withdraw", dependencies=[FormChecked])
async def withdraw_consent(
    guardian_id: str, request: Request, user: UserDep, session: SessionDep
) -> Response:
    """No more messages to this guardian (DELETE /v1/guardians/{id}/consent)."""
    await guardian_in_reach(session, user, guardian_id)
    audit.record(session, user.principal, "consent.revoke", "guardian", guardian_id)
    await service.revoke_consent(
        session=session, guardian_id=guardian_id, by_token=user.principal.token_id
    )
    return back_to(request, guardian_id, "withdrawn")


@router.post("/roster/guardians/{guardian_id}/{messenger}/unlink", dependencies=[FormChecked])
async def unlink_chat(
    guardian_id: str, messenger: Messenger, request: Request, user: UserDep, session: SessionDep
) -> Response:
    """Stop sending to the guardian's chat in this messenger at once (DELETE
    /v1/guardians/{id}/telegram, /max)."""
    await guardian_in_reach(session, user, guardian_id)
    audit.record(session, user.principal, f"{messenger}_link.delete", "guardian", guardian_id)
    await unlink(
        session=session, subject=LinkSubject.guardian, subject_id=guardian_id, messenger=messenger
    )
    return back_to(request, guardian_id, UNLINKED[messenger])


@router.post(
    "/roster/guardians/{guardian_id}/{messenger}/code",
    response_class=HTMLResponse,
    dependencies=[FormChecked],
)
async def new_code(
    guardian_id: str,
    messenger: Messenger,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> HTMLResponse:
    """A new link code and deep link into this messenger's bot (POST
    /v1/guardians/{id}/telegram-link, /max-link), shown once with its QR code: the answer is
    the page with the code, never a URL that would show it again."""
    guardian = await guardian_in_reach(session, user, guardian_id)
    issued = await issue_link(
        session=session,
        messenger=messenger,
        channel=runtime.messenger(messenger),
        actor=user.principal,
        subject=LinkSubject.guardian,
        subject_id=guardian_id,
        ttl=timedelta(days=runtime.settings.link_code_ttl_days),
        now=runtime.clock(),
    )
    return await guardian_page_for(
        request, session, user, runtime, guardian, issued=issued, issued_for=messenger
    )
