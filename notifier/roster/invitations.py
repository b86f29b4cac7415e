"""A class's invitations (issue 15): a fresh link code for each guardian of its pupils in each
messenger the service has a bot in (Telegram, MAX: issue 17), as the slips
notifier.reports.invitations prints. The codes are made together and recorded in the audit trail
as one batch; each voids the guardian's older unused code of its messenger, as any new code does.

A guardian linked in one messenger is invited to the others only; one linked in every messenger
offered is "linked", and left out unless the caller asks for everyone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit, scope
from notifier.auth import Principal, Role
from notifier.channels.base import Messenger
from notifier.db.models import Guardian, GuardianStudent, School, Student
from notifier.errors import InvalidInput
from notifier.reports.invitations import Invite, Slip
from notifier.roster.chat_link import chat_column, create_link_code

MIN_TTL = timedelta(days=2)

# A code into the link that opens a messenger's bot with it (the channel's start_link).
StartLink = Callable[[str], Awaitable[str]]


def linked_in(guardian: Guardian, messenger: Messenger) -> bool:
    """Whether the guardian has a chat linked in this messenger."""
    return getattr(guardian, chat_column(Guardian, messenger).key) is not None


async def issue_invitations(
    *,
    session: AsyncSession,
    principal: Principal,
    class_id: str,
    links: Mapping[Messenger, StartLink],
    ttl: timedelta,
    now: datetime,
    include_linked: bool = False,
) -> list[Slip]:
    """One slip per guardian of the class's pupils (naming all their children in it), ordered by
    pupil, then guardian, with a code for each messenger of `links` (Telegram first) that the
    guardian has not linked yet; with `include_linked`, for every messenger and every guardian.
    `links` turns a code into the link of that messenger's bot the school uses."""
    principal.require(Role.admin, Role.teacher)
    if not links:
        raise InvalidInput(
            "no messenger to invite to: configure NOTIFIER_TELEGRAM_TOKEN or NOTIFIER_MAX_TOKEN",
            field="links",
        )
    if ttl < MIN_TTL:
        raise InvalidInput(
            "printed invitations go home with the pupils and come back days later: "
            f"give their codes at least {MIN_TTL.days} days",
            field="ttl",
        )
    klass = await scope.klass(session, principal, class_id)
    school = await session.get_one(School, klass.school_id)  # a foreign key: it is there
    rows = await session.execute(
        select(Guardian, Student.full_name, Student.id)
        .join(GuardianStudent, GuardianStudent.guardian_id == Guardian.id)
        .join(Student, Student.id == GuardianStudent.student_id)
        # The class's school as well: a pupil of another school can never ride on this class.
        .where(Student.class_id == klass.id, Student.school_id == klass.school_id)
    )
    ordered = sorted(
        rows.all(), key=lambda r: (_order(r[1]), r[2], _order(r[0].full_name), r[0].id)
    )
    offered = [m for m in Messenger if m in links]  # Telegram first, as a slip prints them
    families: dict[str, tuple[Guardian, list[str], tuple[Messenger, ...]]] = {}
    for guardian, pupil, _ in ordered:
        wanted = tuple(m for m in offered if include_linked or not linked_in(guardian, m))
        if wanted:
            families.setdefault(guardian.id, (guardian, [], wanted))[1].append(pupil)
    # Printed: the last whole day in the school's time, so a parent is never told a day too many.
    expires = now + ttl
    last_day = expires.astimezone(ZoneInfo(school.timezone)).date() - timedelta(days=1)
    slips = []
    for guardian, pupils, messengers in families.values():
        invites = []
        for messenger in messengers:
            code, _ = await create_link_code(
                session=session,
                guardian_id=guardian.id,
                ttl=ttl,
                now=now,
                by_token=principal.token_id,
                messenger=messenger,
                commit=False,
            )
            invites.append(Invite(messenger.value, code, await links[messenger](code)))
        slips.append(
            Slip(
                school=school.name,
                class_name=klass.name,
                pupils=tuple(pupils),
                guardian=guardian.full_name,
                invites=tuple(invites),
                expires=last_day,
            )
        )
    counts = {m.value: sum(m.value in s.messengers for s in slips) for m in offered}
    detail = {"count": len(slips), "codes": counts}
    audit.record(session, principal, "invitations.create", "class", klass.id, detail)
    await session.commit()
    return slips


def _order(name: str) -> tuple[str, str]:
    """Class-list order: case aside, and Ё with Е (code points put Ё before А)."""
    return name.casefold().replace("ё", "е"), name
