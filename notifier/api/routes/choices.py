"""Preferences of a guardian and a school's subscription defaults (SPEC §4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from notifier import scope
from notifier.api.access import guardian_access
from notifier.api.deps import PrincipalDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Role
from notifier.roster import choices

router = APIRouter(prefix="/v1", tags=["preferences"], route_class=DocumentedRoute)


@router.get(
    "/guardians/{guardian_id}/preferences",
    summary="Effective preferences",
    responses=errors_of(404),
)
async def get_preferences(
    guardian_id: str, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    await guardian_access(session, principal, guardian_id, Role.admin, Role.teacher)
    prefs = await choices.guardian_preferences(session=session, guardian_id=guardian_id)
    return prefs.as_json()


@router.put(
    "/guardians/{guardian_id}/preferences",
    summary="Set a guardian's choices (by an admin, on the guardian's written request)",
    responses=errors_of(404),
)
async def put_preferences(
    guardian_id: str, body: choices.PreferencesIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    await guardian_access(session, principal, guardian_id, Role.admin)
    prefs = await choices.set_preferences(
        session=session, guardian_id=guardian_id, body=body, actor=principal
    )
    return prefs.as_json()


@router.get(
    "/schools/{school_id}/subscriptions",
    summary="The school's defaults for guardians",
    responses=errors_of(404),
)
async def get_subscriptions(
    school_id: str, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(Role.admin)
    scope.school(principal, school_id)
    return await choices.school_subscriptions(session=session, school_id=school_id)


@router.put(
    "/schools/{school_id}/subscriptions",
    summary="Set the school's defaults",
    responses=errors_of(404),
)
async def put_subscriptions(
    school_id: str, body: choices.SubscriptionsIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(Role.admin)
    scope.school(principal, school_id)
    return await choices.set_school_subscriptions(
        session=session, school_id=school_id, body=body, actor=principal
    )
