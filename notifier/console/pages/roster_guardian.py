"""A guardian's page for the admin: their children, contacts (masked until revealed, which is
audited), consent, their Telegram and MAX chats, recent messages, and the forms that change them
(the details here; channels, consent and the chats in roster_channels.py). Every change goes
through the service the API uses, and to the audit trail; a refused form comes back with what
was typed and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit, scope
from notifier.audit import fields_of
from notifier.auth import Role
from notifier.categories import ALL_CATEGORIES, modes_of
from notifier.channels.base import Messenger
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep, zone_of
from notifier.console.i18n import TEXTS, translator
from notifier.console.pages.roster import PupilRef, mask_email, mask_phone
from notifier.console.qr import qr_data_uri
from notifier.console.web import render
from notifier.db.models import Guardian, Preference, School, SchoolClass, Student
from notifier.delivery.log import LogEntry, delivery_log
from notifier.roster import choices, service
from notifier.roster.chat_link import IssuedLink
from notifier.roster.invitations import linked_in
from notifier.roster.preferences import CHANNELS
from notifier.roster.schemas import GuardianIn
from notifier.runtime import Runtime
from notifier.signin import SignedIn

router = APIRouter()

ALL_CHANNELS = (*CHANNELS, "paper")
LOG_SIZE = 10
LOCALES = ("ru", "en")


@dataclass
class DetailsForm:
    """The details form; phone and email empty mean "keep" (they are never shown in it)."""

    full_name: str
    phone: str = ""
    email: str = ""
    clear_phone: bool = False
    clear_email: bool = False
    locale: str = "ru"


@dataclass
class PrefsForm:
    channels: tuple[str, ...] = ()  # the guardian's own order; empty: the school's
    modes: dict[str, str] = field(default_factory=dict)  # category -> mode; absent: the school's
    basis: str = ""


@dataclass(frozen=True)
class Problem:
    section: str  # the form it belongs to: details | prefs | consent
    message: str  # in the staff member's language
    detail: str | None = None  # the service's own reason, as it said it
    field: str | None = None  # the input it is about, marked invalid


@dataclass(frozen=True)
class ChatLink:
    """The guardian's chat in one messenger, as their page shows it."""

    messenger: Messenger
    linked: bool
    linked_at: datetime | None
    configured: bool  # the service has this messenger's bot: a code can be issued
    issued: IssuedLink | None = None  # a code just made, shown this once
    qr: str | None = None  # the issued link as a QR code (an image's data: URI)

    @property
    def done(self) -> str:
        """The notice after its chat was unlinked (a `done` of the page)."""
        return UNLINKED[self.messenger]

    @property
    def section(self) -> str:
        return SECTION_OF[self.done]


def chat_links(
    guardian: Guardian, runtime: Runtime, issued: IssuedLink | None, issued_for: Messenger
) -> list[ChatLink]:
    """Telegram always (its page says when it is not configured); MAX where the service has
    a MAX bot, or the guardian still has a MAX chat to unlink."""
    links = []
    for messenger in Messenger:
        linked = linked_in(guardian, messenger)
        configured = runtime.messenger(messenger) is not None
        if messenger is Messenger.max and not (configured or linked):
            continue
        mine = issued if issued is not None and issued_for is messenger else None
        at = guardian.max_linked_at if messenger is Messenger.max else guardian.telegram_linked_at
        qr = qr_data_uri(mine.url) if mine else None
        links.append(ChatLink(messenger, linked, at, configured, mine, qr))
    return links


@dataclass(frozen=True)
class LogLine:
    entry: LogEntry
    pupil: str
    status_key: str  # a key of the console's texts


async def guardian_in_reach(session: AsyncSession, user: SignedIn, guardian_id: str) -> Guardian:
    """An admin's guardian: one with a child in the admin's school (region-wide: any)."""
    user.principal.require(Role.admin)
    return await scope.guardian(session, user.principal, guardian_id)


async def _pupil_ids(session: AsyncSession, user: SignedIn, guardian_id: str) -> list[str]:
    visible = await scope.visible_pupils(session, user.principal, guardian_id)
    if visible is not None:
        return visible
    return await service.guardian_student_ids(session=session, guardian_id=guardian_id)


def _status_key(entry: LogEntry, texts: dict[str, Any]) -> str:
    word = entry.reason if entry.state in ("skipped", "cancelled") and entry.reason else None
    for key in (f"st.{word or entry.status}", f"roster.st.{word or entry.status}"):
        if key in texts:
            return key
    return "st.failed" if entry.status == "failed" else "roster.st.pending"


async def guardian_page_for(
    request: Request,
    session: AsyncSession,
    user: SignedIn,
    runtime: Runtime,
    guardian: Guardian,
    *,
    details: DetailsForm | None = None,
    prefs: PrefsForm | None = None,
    document: str = "",
    problem: Problem | None = None,
    revealed: bool = False,
    issued: IssuedLink | None = None,
    issued_for: Messenger = Messenger.telegram,
    status: int = 200,
) -> HTMLResponse:
    """The guardian's page; a refused form's values and reason, revealed contacts or a new
    link code when an answer to a POST shows them."""
    pupil_ids = await _pupil_ids(session, user, guardian.id)
    students = list(
        await session.scalars(
            select(Student).where(Student.id.in_(pupil_ids)).order_by(Student.full_name)
        )
    )
    school = await session.get(School, students[0].school_id) if students else None
    names = dict(
        (
            await session.execute(
                select(SchoolClass.id, SchoolClass.name).where(
                    SchoolClass.id.in_({s.class_id for s in students if s.class_id})
                )
            )
        ).all()
    )
    pupils = [PupilRef(s.id, s.full_name, names.get(s.class_id or "")) for s in students]
    hidden = len(await service.guardian_student_ids(session=session, guardian_id=guardian.id))
    own = await session.get(Preference, guardian.id)
    effective = await choices.guardian_preferences(session=session, guardian_id=guardian.id)
    if prefs is None:
        prefs = PrefsForm(
            tuple((own.channels or {}).get("order") or ()) if own else (),
            dict(own.categories or {}) if own else {},
        )
    log = await delivery_log(
        session,
        guardian_id=guardian.id,
        limit=LOG_SIZE,
        pupils=await scope.visible_pupils(session, user.principal, guardian.id),
    )
    by_id = {s.id: s.full_name for s in students}
    lines = [
        LogLine(e, by_id.get(e.student_id or "", ""), _status_key(e, TEXTS)) for e in log.items
    ]
    base = request.scope.get("root_path", "")
    context = {
        "g": guardian,
        "pupils": pupils,
        "hidden": hidden - len(pupils),
        "phone": guardian.phone if revealed else mask_phone(guardian.phone),
        "email": guardian.email if revealed else mask_email(guardian.email),
        "revealed": revealed,
        "details": details or DetailsForm(guardian.full_name, locale=guardian.locale),
        "locales": LOCALES if guardian.locale in LOCALES else (*LOCALES, guardian.locale),
        "consent": await service.active_consent(session=session, guardian_id=guardian.id),
        "document": document,
        "prefs": prefs,
        "effective": effective,
        "channels": ALL_CHANNELS,
        "categories": [(c.value, [m.value for m in modes_of(c)]) for c in ALL_CATEGORIES],
        "log": lines,
        "log_url": f"{base}/deliveries?{urlencode({'guardian': guardian.id})}",
        "chats": chat_links(guardian, runtime, issued, issued_for),
        "problem": problem,
        "zone": zone_of(school),
        "done": request.query_params.get("done", ""),
    }
    return render(
        request, "roster_guardian.html.j2", context, status=status, title=guardian.full_name
    )


# Where each notice stands on the page: the browser comes back to the section it acted in.
SECTION_OF = {
    "saved": "g-edit",
    "prefs": "g-prefs",
    "consent": "g-consent",
    "withdrawn": "g-consent",
    "unlinked": "g-telegram",
    "unlinked_max": "g-max",
}
# The notice after unlinking each messenger's chat.
UNLINKED = {Messenger.telegram: "unlinked", Messenger.max: "unlinked_max"}


def back_to(request: Request, guardian_id: str, done: str) -> RedirectResponse:
    base = request.scope.get("root_path", "")
    target = f"{base}/roster/guardians/{guardian_id}?done={done}#{SECTION_OF[done]}"
    return RedirectResponse(target, status_code=303)


@router.get("/roster/guardians/{guardian_id}", response_class=HTMLResponse)
async def guardian_page(
    guardian_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    guardian = await guardian_in_reach(session, user, guardian_id)
    return await guardian_page_for(request, session, user, runtime, guardian)


@router.post(
    "/roster/guardians/{guardian_id}/contacts",
    response_class=HTMLResponse,
    dependencies=[FormChecked],
)
async def reveal(
    guardian_id: str, request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    """The phone and email in full, and an entry in the audit trail. The answer is the page
    itself, not a redirect: a GET that showed them would be a way round the entry."""
    guardian = await guardian_in_reach(session, user, guardian_id)
    audit.record(session, user.principal, "guardian.reveal", "guardian", guardian_id)
    await session.commit()
    if request.headers.get("hx-request"):
        return render(request, "roster_contacts.html.j2", {"g": guardian})
    return await guardian_page_for(request, session, user, runtime, guardian, revealed=True)


def _field_problem(exc: ValidationError, t: Any) -> Problem:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "other"
    key = f"roster.bad.{name}"
    message = t(key) if key in _KNOWN else t("roster.bad.other")
    reason = first["msg"].removeprefix("Value error, ")
    return Problem("details", message, f"{name}: {reason}", field=name)


_KNOWN = {f"roster.bad.{n}" for n in ("full_name", "phone", "email", "locale")}


@router.post(
    "/roster/guardians/{guardian_id}/details",
    response_class=HTMLResponse,
    dependencies=[FormChecked],
)
async def edit(
    guardian_id: str,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    full_name: Annotated[str, Form(max_length=1000)] = "",
    phone: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    clear_phone: Annotated[bool, Form()] = False,
    clear_email: Annotated[bool, Form()] = False,
    locale: Annotated[str, Form(max_length=20)] = "ru",
) -> Response:
    """The same change as PUT /v1/guardians/{id}: name, phone, email, locale; their children
    stay as they are (a school's admin rewrites only the links to its own school's pupils)."""
    guardian = await guardian_in_reach(session, user, guardian_id)
    form = DetailsForm(full_name, phone, email, clear_phone, clear_email, locale)
    pupils = await _pupil_ids(session, user, guardian_id)
    try:
        body = GuardianIn.model_validate(
            {
                "full_name": full_name,
                "phone": None if clear_phone else (phone.strip() or guardian.phone),
                "email": None if clear_email else (email.strip() or guardian.email),
                "locale": locale,
                "student_ids": pupils,
            }
        )
    except ValidationError as exc:
        problem = _field_problem(exc, translator(user.locale))
        return await guardian_page_for(
            request, session, user, runtime, guardian, details=form, problem=problem, status=422
        )
    within = await scope.guardian_write(session, user.principal, guardian_id, body.student_ids)
    audit.record(
        session,
        user.principal,
        "guardian.put",
        "guardian",
        guardian_id,
        fields_of(body, personal=["full_name", "phone", "email"]),
    )
    await service.put_guardian(
        session=session, guardian_id=guardian_id, body=body, within_school=within
    )
    return back_to(request, guardian_id, "saved")
