"""The audit trail (REQUIREMENTS: regulators read the delivery log; 152-FZ): who changed
consent, preferences, the roster and tokens, and when. Entries carry ids and field names,
never the values of personal fields, so the trail itself holds no names, phones or emails."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.auth import Principal
from notifier.db.models import AuditEntry


def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    subject_type: str,
    subject_id: str,
    detail: dict[str, Any] | None = None,
    *,
    actor_role: str | None = None,
) -> None:
    """Add an entry to the session; it is written with the change it describes (same commit).
    `actor` None is the guardian themselves (the bot, an unsubscribe link) unless
    `actor_role` says otherwise (e.g. "operator" for the command line)."""
    session.add(
        AuditEntry(
            actor_token_id=actor.token_id if actor else None,
            actor_staff_id=actor.staff_id if actor else None,
            actor_role=actor.role.value if actor else (actor_role or "guardian"),
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            detail=detail,
        )
    )


def fields_of(body: BaseModel, *, personal: Iterable[str] = ()) -> dict[str, Any]:
    """A request body for the trail: personal fields by name only (set or cleared)."""
    data = body.model_dump(mode="json")
    hidden = set(personal)
    return {
        key: ("set" if value not in (None, "") else "cleared") if key in hidden else value
        for key, value in data.items()
    }


@dataclass(frozen=True)
class TrailFilter:
    """What a reader of the trail narrows it to; every field is optional."""

    subject_type: str | None = None
    subject_id: str | None = None
    action: str | None = None
    actor_staff_id: str | None = None
    actor_token_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None  # not including


def trail(
    found: TrailFilter,
    *,
    limit: int,
    before: int | None = None,
    within: ColumnElement[bool] | None = None,
) -> Select[AuditEntry]:
    """The entries newest first (older than the id `before`); `within`: the reader's reach,
    from notifier.scope (the caller has checked it: this module is below scope)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if within is not None:
        stmt = stmt.where(within)
    for column, value in (
        (AuditEntry.subject_type, found.subject_type),
        (AuditEntry.subject_id, found.subject_id),
        (AuditEntry.action, found.action),
        (AuditEntry.actor_staff_id, found.actor_staff_id),
        (AuditEntry.actor_token_id, found.actor_token_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if found.since is not None:
        stmt = stmt.where(AuditEntry.at >= found.since)
    if found.until is not None:
        stmt = stmt.where(AuditEntry.at < found.until)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    return stmt
