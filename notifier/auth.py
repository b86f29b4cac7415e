"""API tokens: created once, stored as SHA-256 hashes, resolved to a principal per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import ApiToken
from notifier.errors import Forbidden, InvalidInput

TOKEN_PREFIX = "ntf_"  # noqa: S105 - a visible prefix, not a secret


class Role(StrEnum):
    admin = "admin"
    teacher = "teacher"
    integration = "integration"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, the school it is bound to (None = all) and its token row."""

    role: Role
    token_id: int | None
    school_id: str | None = None
    staff_id: str | None = None

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this needs a token with role {allowed}; yours is {self.role.value}")

    def require_school(self, school_id: str) -> None:
        if self.school_id is not None and self.school_id != school_id:
            raise Forbidden(f"your token is bound to school {self.school_id!r}")


def hash_token(token: str) -> str:
    # Tokens are 256-bit random strings, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    *,
    session: AsyncSession,
    role: Role,
    school_id: str | None = None,
    staff_id: str | None = None,
    label: str | None = None,
) -> tuple[str, ApiToken]:
    """Mint a token; the clear text is returned once and never stored."""
    if role is Role.teacher and not staff_id:
        raise InvalidInput("a teacher token needs --staff (the teacher's staff id)", field="staff")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=hash_token(token),
        role=role.value,
        school_id=school_id,
        staff_id=staff_id,
        label=label,
    )
    session.add(row)
    await session.commit()
    return token, row


async def resolve(
    *, session: AsyncSession, token: str, admin_token: str | None
) -> Principal | None:
    """The principal a bearer token stands for, or None if it is unknown or revoked."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(role=Role.admin, token_id=None)
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(
        role=Role(row.role), token_id=row.id, school_id=row.school_id, staff_id=row.staff_id
    )
