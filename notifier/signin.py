"""Signing in to the web console without passwords: a one-time link, then a session cookie.

A staff member asks for a link (by email, or with /console in the bot); the link is good once
and for `console_link_minutes`. Spending it opens a session: a random cookie, stored only as
its hash, that ends after `console_idle_minutes` without a request, after
`console_session_hours` in any case, on sign-out, or when an admin ends it. The bootstrap admin
(NOTIFIER_ADMIN_TOKEN) opens a session by typing the token instead.

Who a session stands for is read from the staff row on every request, so the one tenancy rule
(notifier/scope.py) sees the school and classes the person has *now*. A staff member whose
role is `admin` is their school's admin; anyone else is a class teacher.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit
from notifier.auth import Principal, Role, hash_token
from notifier.db.models import ConsoleLink, ConsoleSession, Staff
from notifier.errors import InvalidInput

ADMIN_ROLE = "admin"  # the staff role that makes a school's admin in the console
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


class LinkProblem(StrEnum):
    unknown = "unknown"
    used = "used"
    expired = "expired"


class LinkInvalid(InvalidInput):
    """A sign-in link that cannot be spent; `problem` says which page to show."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(f"this sign-in link is {problem.value}; ask for a new one")
        self.problem = problem


@dataclass(frozen=True)
class SignedIn:
    """A live console session: who it is, in what language the pages speak to them."""

    session_id: int
    principal: Principal
    name: str  # the staff member's name for the page header ("" for the bootstrap admin)
    locale: str
    # The school the pages show: the staff member's own, or the one a region-wide admin chose.
    school_id: str | None = None


@dataclass(frozen=True)
class Limits:
    link: timedelta
    idle: timedelta
    lifetime: timedelta


def principal_of(staff: Staff) -> Principal:
    role = Role.admin if staff.role == ADMIN_ROLE else Role.teacher
    return Principal(role=role, token_id=None, school_id=staff.school_id, staff_id=staff.id)


async def staff_by_email(session: AsyncSession, email: str) -> Staff | None:
    """The staff member with this address (addresses are stored normalised; the domain's case
    does not matter, and neither, in practice, does the local part's)."""
    return await session.scalar(
        select(Staff).where(func.lower(Staff.email) == email.strip().lower()).limit(1)
    )


async def issue_link(*, session: AsyncSession, staff: Staff, now: datetime, ttl: timedelta) -> str:
    """A new sign-in link token for this staff member (their older unused ones stop working);
    the clear token is returned once and never stored."""
    await session.execute(
        update(ConsoleLink)
        .where(
            ConsoleLink.staff_id == staff.id,
            ConsoleLink.used_at.is_(None),
            ConsoleLink.expires_at > now,
        )
        .values(expires_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleLink(
            token_hash=hash_token(token), staff_id=staff.id, created_at=now, expires_at=now + ttl
        )
    )
    _trail(session, "console.link", staff.id, None)
    await session.commit()
    return token


async def check_link(*, session: AsyncSession, token: str, now: datetime) -> ConsoleLink:
    """The link if it can still be spent (the page that asks to confirm shows nothing else)."""
    row = await session.scalar(
        select(ConsoleLink).where(ConsoleLink.token_hash == hash_token(token))
    )
    if row is None:
        raise LinkInvalid(LinkProblem.unknown)
    if row.used_at is not None:
        raise LinkInvalid(LinkProblem.used)
    if row.expires_at <= now:
        raise LinkInvalid(LinkProblem.expired)
    return row


async def redeem_link(*, session: AsyncSession, token: str, now: datetime) -> str:
    """Spend a link and open a session; returns the session's cookie value."""
    row = await check_link(session=session, token=token, now=now)
    # Spent in the statement that checks it, so two browsers cannot both win.
    spent = await session.execute(
        update(ConsoleLink)
        .where(
            ConsoleLink.id == row.id, ConsoleLink.used_at.is_(None), ConsoleLink.expires_at > now
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkInvalid(LinkProblem.used)
    if await session.get(Staff, row.staff_id) is None:
        raise LinkInvalid(LinkProblem.unknown)
    return await _open(session, row.staff_id, now)


async def admin_session(*, session: AsyncSession, now: datetime) -> str:
    """A session for the bootstrap admin (the caller has checked NOTIFIER_ADMIN_TOKEN)."""
    return await _open(session, None, now)


async def _open(session: AsyncSession, staff_id: str | None, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=hash_token(token), staff_id=staff_id, created_at=now, last_seen_at=now
    )
    session.add(row)
    await session.flush()
    _trail(session, "console.signin", staff_id or "bootstrap-admin", row.id)
    await session.commit()
    return token


async def resume(
    *, session: AsyncSession, token: str, now: datetime, limits: Limits
) -> SignedIn | None:
    """The live session this cookie opens, or None (unknown, ended, idle or too old)."""
    row = await session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token))
    )
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_seen_at > limits.idle or now - row.created_at > limits.lifetime:
        row.ended_at = now
        await session.commit()
        return None
    if row.staff_id is None:
        principal, name, locale = Principal(role=Role.admin, token_id=None), "", "ru"
    else:
        staff = await session.get(Staff, row.staff_id)
        if staff is None:  # erased or removed since
            return None
        principal, name, locale = principal_of(staff), staff.full_name, staff.locale
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        await session.commit()
    return SignedIn(row.id, principal, name, locale, principal.school_id or row.current_school)


async def sign_out(*, session: AsyncSession, session_id: int, now: datetime) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    await session.commit()


async def end_sessions_of(
    *, session: AsyncSession, principal: Principal, staff_id: str, now: datetime
) -> int:
    """An admin ends every open console session of a staff member (a lost phone, a teacher who
    left); returns how many were open. The caller has checked the staff member is in scope."""
    ended = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.staff_id == staff_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    count = int(ended.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(session, principal, "console.sessions.end", "staff", staff_id, {"ended": count})
    await session.commit()
    return count


async def end_session(
    *, session: AsyncSession, principal: Principal, session_id: int, now: datetime
) -> bool:
    """An admin ends one open console session (one device of several); False if it had ended
    already. The caller has checked its staff member is in scope."""
    row = await session.get(ConsoleSession, session_id)
    ended = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    if not ended.rowcount:  # type: ignore[attr-defined]
        return False
    subject = row.staff_id if row is not None and row.staff_id else "bootstrap-admin"
    audit.record(
        session, principal, "console.session.end", "staff", subject, {"session": session_id}
    )
    await session.commit()
    return True


async def choose_school(
    *, session: AsyncSession, session_id: int, principal: Principal, school_id: str
) -> None:
    """A region-wide admin looks at one school's pages at a time (the caller has checked the
    school exists and is within reach)."""
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id)
        .values(current_school=school_id)
    )
    audit.record(session, principal, "console.school", "school", school_id)
    await session.commit()


def csrf_token(session_token: str) -> str:
    """The token every form of this session carries: derived from the cookie, which a page of
    another site can neither read nor send with a form it would have to fill in."""
    return hmac.new(session_token.encode(), b"notifier console csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session_token), given or "")


def _trail(session: AsyncSession, action: str, subject_id: str, session_id: int | None) -> None:
    detail = {"session": session_id} if session_id is not None else None
    audit.record(session, None, action, "staff", subject_id, detail, actor_role="console")
