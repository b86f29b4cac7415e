"""A class's invitations (issue 15): a fresh Telegram link code for each guardian of its pupils,
as the slips notifier.reports.invitations prints. The codes are made together and recorded in
the audit trail as one batch; each voids the guardian's older unused code, as any new code does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit, scope
from notifier.auth import Principal, Role
from notifier.db.models import Guardian, GuardianStudent, School, Student
from notifier.errors import InvalidInput
from notifier.reports.invitations import Slip
from notifier.roster.chat_link import create_link_code

MIN_TTL = timedelta(days=2)


async def issue_invitations(
    *,
    session: AsyncSession,
    principal: Principal,
    class_id: str,
    deep_link: Callable[[str], str],
    ttl: timedelta,
    now: datetime,
    include_linked: bool = False,
) -> list[Slip]:
    """One slip per guardian of the class's pupils (naming all their children in it), ordered by
    pupil, then guardian. Guardians who have linked a chat already are left out unless
    `include_linked`. `deep_link` turns a code into the link of the bot the school uses."""
    principal.require(Role.admin, Role.teacher)
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
    families: dict[str, tuple[Guardian, list[str]]] = {}
    for guardian, pupil, _ in ordered:
        if guardian.telegram_chat_id is not None and not include_linked:
            continue
        families.setdefault(guardian.id, (guardian, []))[1].append(pupil)
    # Printed: the last whole day in the school's time, so a parent is never told a day too many.
    expires = now + ttl
    last_day = expires.astimezone(ZoneInfo(school.timezone)).date() - timedelta(days=1)
    slips = []
    for guardian, pupils in families.values():
        code, _ = await create_link_code(
            session=session,
            guardian_id=guardian.id,
            ttl=ttl,
            now=now,
            by_token=principal.token_id,
            commit=False,
        )
        slips.append(
            Slip(
                school=school.name,
                class_name=klass.name,
                pupils=tuple(pupils),
                guardian=guardian.full_name,
                code=code,
                url=deep_link(code),
                expires=last_day,
            )
        )
    audit.record(session, principal, "invitations.create", "class", klass.id, {"count": len(slips)})
    await session.commit()
    return slips


def _order(name: str) -> tuple[str, str]:
    """Class-list order: case aside, and Ё with Е (code points put Ё before А)."""
    return name.casefold().replace("ё", "е"), name
