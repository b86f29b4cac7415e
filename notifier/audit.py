"""The audit trail (REQUIREMENTS: regulators read the delivery log; 152-FZ): who changed
consent, preferences, the roster and tokens, and when. Entries carry ids and field names,
never the values of personal fields, so the trail itself holds no names, phones or emails."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
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
