"""Role and scope together, for routes that act on one guardian: the role is the route's to
name, the tenancy rule is `notifier.scope`'s."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Principal, Role


async def guardian_access(
    session: AsyncSession, principal: Principal, guardian_id: str, *roles: Role
) -> None:
    """Raise NotFound / Forbidden unless `principal` (of one of `roles`) may see this guardian."""
    principal.require(*roles)
    await scope.guardian(session, principal, guardian_id)
