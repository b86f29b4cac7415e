"""API tokens: created once, stored as SHA-256 hashes, resolved to a principal per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import ApiToken, AuditEntry
from notifier.errors import Forbidden, InvalidInput, NotFound

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
    actor: Principal | None = None,
) -> tuple[str, ApiToken]:
    """Mint a token; the clear text is returned once and never stored. `actor`: the admin who
    made it in the console (None: the operator, on the command line)."""
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
    await session.flush()
    session.add(_trail("token.create", row, label, actor))
    await session.commit()
    return token, row


async def revoke_token(
    *, session: AsyncSession, token_id: int, now: datetime, actor: Principal | None = None
) -> ApiToken:
    """Void a token at once (REQUIREMENTS 002 §5: a leaked credential is revocable)."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(_trail("token.revoke", row, row.label, actor))
    await session.commit()
    return row


def _trail(action: str, row: ApiToken, label: str | None, actor: Principal | None) -> AuditEntry:
    # Tokens are made and revoked on the command line, by the operator, or in the console by an
    # admin; the label may name a person, so the trail says only whether there is one.
    # (notifier.audit.record is a layer above this module: the entry is built here.)
    return AuditEntry(
        actor_token_id=actor.token_id if actor else None,
        actor_staff_id=actor.staff_id if actor else None,
        actor_role=actor.role.value if actor else "operator",
        action=action,
        subject_type="token",
        subject_id=str(row.id),
        detail={
            "role": row.role,
            "school_id": row.school_id,
            "staff_id": row.staff_id,
            "label": "set" if label else None,
        },
    )


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


class AuthThrottle:
    """Failed bearer tokens per client address and minute, counted in Redis so that every API
    process shares the count. Past the limit the address is refused before its token is even
    looked at, so guessing learns nothing more until the minute is over."""

    WINDOW = 60

    def __init__(self, redis: Redis, limit: int) -> None:
        self.redis = redis
        self.limit = limit

    @staticmethod
    def _key(client: str) -> str:
        return f"notifier:auth_failures:{client}"

    async def retry_after(self, client: str) -> int | None:
        """Seconds until this address may try again, or None if it may now."""
        count = await self.redis.get(self._key(client))
        if count is None or int(count) < self.limit:
            return None
        ttl = await self.redis.ttl(self._key(client))
        return max(1, int(ttl))

    async def failed(self, client: str) -> None:
        key = self._key(client)
        pipe: Any = self.redis.pipeline()
        pipe.set(key, 0, ex=self.WINDOW, nx=True)  # the window starts at the first failure
        pipe.incr(key)
        await pipe.execute()
