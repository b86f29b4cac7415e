"""The audit trail, newest first, with filters: action, subject, actor (a staff member or a
token), days. A school's admin reads the entries about their school (notifier.scope's
audit_reach: the school, its classes, pupils, staff, tokens and the guardians of its pupils);
naming one subject follows the same rule as GET /v1/audit (scope.audit_subject). A region-wide
admin reads the school in view's entries, or the whole trail."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit, scope
from notifier.auth import Role
from notifier.console.deps import SessionDep, UserDep, school_in_view, zone_in_view
from notifier.console.pages.ops_deliveries import day_range
from notifier.console.web import render
from notifier.db.models import AuditEntry, Guardian, School, SchoolClass, Staff, Student
from notifier.errors import InvalidInput

router = APIRouter()

PAGE = 50
# The kinds of subject the trail names (notifier.delivery.dead_letters adds "stream": what
# belongs to no school).
SUBJECT_TYPES = ("guardian", "student", "class", "staff", "school", "token", "stream")
# Where a subject's name is: its id, its name, and its school (a guardian's: theirs are the
# schools of their pupils, and the entries in reach are about the school's own guardians).
COLUMNS: dict[str, tuple[Any, Any, Any]] = {
    "guardian": (Guardian.id, Guardian.full_name, None),
    "student": (Student.id, Student.full_name, Student.school_id),
    "class": (SchoolClass.id, SchoolClass.name, SchoolClass.school_id),
    "staff": (Staff.id, Staff.full_name, Staff.school_id),
    "school": (School.id, School.name, None),
}
Text = Annotated[str, Query(max_length=64)]


@dataclass(frozen=True)
class Filters:
    """What the filter form holds; shown again above the entries (or with a problem)."""

    action: str = ""
    subject_type: str = ""
    subject_id: str = ""
    actor_staff: str = ""
    actor_token: str = ""
    since: str = ""
    until: str = ""
    whole: bool = False  # a region-wide admin's whole trail, not only the school in view's

    def query(self, **more: object) -> str:
        fields = {
            "from" if k == "since" else "to" if k == "until" else k: v
            for k, v in asdict(self).items()
        }
        fields["whole"] = "true" if self.whole else ""
        fields.update({k: str(v) for k, v in more.items()})
        return urlencode({k: v for k, v in fields.items() if v})

    def trail(self, zone: ZoneInfo) -> audit.TrailFilter:
        if self.subject_id and not self.subject_type:
            raise InvalidInput("a subject's id needs its kind: choose the kind of subject")
        if self.subject_type and self.subject_type not in SUBJECT_TYPES:
            raise InvalidInput(f"kind of subject: one of {', '.join(SUBJECT_TYPES)}")
        token = self.actor_token.removeprefix("№").strip()
        if token and not (token.isascii() and token.isdigit() and int(token) < 2**31):
            raise InvalidInput("a token is named by its number, as the tokens page shows it")
        since, until = day_range(self.since, self.until, zone)
        return audit.TrailFilter(
            subject_type=self.subject_type or None,
            subject_id=self.subject_id or None,
            action=self.action or None,
            actor_staff_id=self.actor_staff or None,
            actor_token_id=int(token) if token else None,
            since=since,
            until=until,
        )


@dataclass(frozen=True)
class Entry:
    """One entry as the page shows it: who, what, about whom, the detail (ids only)."""

    id: int
    at: datetime
    actor: str  # a staff member's name, "token N", or the kind of actor (in words)
    actor_kind: str  # staff | token | role: which of the above
    action: str
    subject_type: str
    subject_id: str
    subject: str  # the subject's name where it has one, else its id
    detail: str


async def _names(
    session: AsyncSession, rows: list[AuditEntry], school_id: str | None
) -> dict[tuple[str, str], str]:
    """Names of the people and things the entries mention, within the reader's school (None: a
    region-wide reader of the whole trail)."""
    wanted: dict[str, set[str]] = {}
    for e in rows:
        if e.actor_staff_id:
            wanted.setdefault("staff", set()).add(e.actor_staff_id)
        if e.subject_type in COLUMNS:
            wanted.setdefault(e.subject_type, set()).add(e.subject_id)
    names: dict[tuple[str, str], str] = {}
    for kind, ids in wanted.items():
        id_col, name_col, school_col = COLUMNS[kind]
        stmt = select(id_col, name_col).where(id_col.in_(ids))
        if school_col is not None and school_id is not None:  # another school's stay ids
            stmt = stmt.where(school_col == school_id)
        names.update({(kind, i): n for i, n in (await session.execute(stmt)).all()})
    return names


def _entries(rows: list[AuditEntry], names: dict[tuple[str, str], str]) -> list[Entry]:
    out = []
    for e in rows:
        if e.actor_staff_id:
            actor, kind = names.get(("staff", e.actor_staff_id), e.actor_staff_id), "staff"
        elif e.actor_token_id is not None:
            actor, kind = str(e.actor_token_id), "token"
        else:
            actor, kind = e.actor_role, "role"
        out.append(
            Entry(
                id=e.id,
                at=e.at,
                actor=actor,
                actor_kind=kind,
                action=e.action,
                subject_type=e.subject_type,
                subject_id=e.subject_id,
                subject=names.get((e.subject_type, e.subject_id), e.subject_id),
                detail=json.dumps(e.detail, ensure_ascii=False) if e.detail else "",
            )
        )
    return out


@router.get("/audit", response_class=HTMLResponse)
async def audit_trail(
    request: Request,
    user: UserDep,
    session: SessionDep,
    action: Annotated[str, Query(max_length=50)] = "",
    subject_type: Annotated[str, Query(max_length=20)] = "",
    subject_id: Text = "",
    actor_staff: Text = "",
    actor_token: Annotated[str, Query(max_length=12)] = "",
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
    whole: bool = False,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    user.principal.require(Role.admin)
    region = user.principal.school_id is None
    whole = whole and region
    school_id = None if whole else school_in_view(user)
    filters = Filters(
        action.strip(),
        subject_type,
        subject_id.strip(),
        actor_staff.strip(),
        actor_token.strip(),
        since,
        until,
        whole,
    )
    zone = await zone_in_view(session, user.school_id)
    context: dict[str, object] = {
        "filters": filters,
        "subject_types": SUBJECT_TYPES,
        "region": region,
        "zone": zone,
        "entries": [],
        "next": None,
        "problem": None,
    }
    try:
        found = filters.trail(zone)
    except InvalidInput as exc:
        context["problem"] = exc.reason
        return render(request, "ops_audit.html.j2", context, status=422)
    if found.subject_type is not None and found.subject_id is not None:
        await scope.audit_subject(session, user.principal, found.subject_type, found.subject_id)
    within = scope.audit_reach(user.principal, school_id)
    rows = list(await session.scalars(audit.trail(found, limit=PAGE, before=before, within=within)))
    context["entries"] = _entries(rows, await _names(session, rows, school_id))
    if len(rows) == PAGE:
        context["next"] = filters.query(before=rows[-1].id)
    return render(request, "ops_audit.html.j2", context)
