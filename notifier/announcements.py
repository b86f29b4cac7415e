"""Announcements (SPEC §5): a class teacher's message to their class's guardians, planned
into the same outbox as journal events, so consent, preferences, channels, quiet hours and
the delivery log apply unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, model_validator
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Principal, Role
from notifier.categories import Category, Mode
from notifier.channels.base import Messenger, Recipient
from notifier.channels.max import MaxChannel
from notifier.channels.sms_text import SmsEncoding, fitted
from notifier.channels.telegram import TelegramChannel
from notifier.db.bulk import insert_ignore
from notifier.db.engine import SessionFactory
from notifier.db.models import Announcement, JournalEvent, Notification, SchoolClass, Staff, Student
from notifier.db.states import EventStatus, Reason, RowStatus
from notifier.delivery.planner import (
    OutboxRow,
    audience,
    due_time,
    group_key,
    load_roster,
    outbox_row,
    settle,
)
from notifier.errors import Conflict, DeliveryError, Forbidden, InvalidInput, NotFound
from notifier.rendering import (
    PersonView,
    PupilView,
    RenderedEmail,
    Renderer,
    SchoolView,
    template_context,
)
from notifier.text import CleanText

SOURCE = "/notifier/announcements"
TYPE = "notifier.announcement"
REPORT_STATUS: dict[str, str] = {
    RowStatus.pending: "scheduled",
    RowStatus.sent: "sent",
    RowStatus.failed: "failed",
}


# An announcement's text as a teacher writes it: the API's body and the console's preview take
# the same.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class Audience(CleanText):  # fuzz fix: NUL or a lone surrogate was a 500 when stored
    model_config = ConfigDict(extra="forbid")
    class_ids: list[str] = Field(default_factory=list, max_length=100)
    student_ids: list[str] = Field(default_factory=list, max_length=5000)


class AnnouncementIn(CleanText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    audience: Audience
    text: Text
    send_at: datetime | None = None
    urgent: bool = False

    @model_validator(mode="after")
    def _someone(self) -> AnnouncementIn:
        if not self.audience.class_ids and not self.audience.student_ids:
            raise ValueError("audience: name at least one class_id or student_id")
        if self.send_at is not None and self.send_at.tzinfo is None:
            raise ValueError("send_at: give a time zone offset, e.g. 2026-11-24T18:00:00+03:00")
        return self

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def _event_data(
    ident: str, *, text: str, urgent: bool, author: str | None, public_url: str
) -> dict[str, Any]:
    """What an announcement's templates read as `data`: stored with its event for delivery,
    built afresh for a preview."""
    return {
        "announcement_id": ident,
        "text": text,
        "urgent": urgent,
        "author": author,
        "link": f"{public_url.rstrip('/')}/a/{ident}",
    }


def _kind(urgent: bool) -> str:
    """The message kind, and so the templates, of an announcement."""
    return "announcement_urgent" if urgent else "announcement"


@dataclass(frozen=True)
class Created:
    announcement: Announcement
    new: bool


def _author(principal: Principal) -> str:
    if principal.token_id is not None:
        return f"token:{principal.token_id}"
    return f"bot:{principal.staff_id}" if principal.staff_id else "admin-token"


async def _check_audience(
    session: AsyncSession, principal: Principal, audience: Audience
) -> tuple[str, list[SchoolClass], list[Student]]:
    """The classes and pupils addressed, if this principal may address them."""
    classes = list(
        await session.scalars(select(SchoolClass).where(SchoolClass.id.in_(audience.class_ids)))
    )
    if missing := sorted(set(audience.class_ids) - {c.id for c in classes}):
        raise InvalidInput(
            f"audience.class_ids: unknown class(es) {missing}", field="audience.class_ids"
        )
    pupils = list(
        await session.scalars(select(Student).where(Student.id.in_(audience.student_ids)))
    )
    if missing := sorted(set(audience.student_ids) - {p.id for p in pupils}):
        raise InvalidInput(
            f"audience.student_ids: unknown pupil(s) {missing}", field="audience.student_ids"
        )
    schools = {c.school_id for c in classes} | {p.school_id for p in pupils}
    for school_id in schools:
        scope.school(principal, school_id)
    if len(schools) > 1:
        # Its report and its cancelling belong to one school's staff.
        raise InvalidInput(
            f"audience: an announcement goes to one school; these are in {len(schools)} "
            "(send one per school)",
            field="audience",
        )
    if principal.role is Role.teacher:
        own = set(await session.scalars(scope.own_classes(principal)))
        others = sorted({c.id for c in classes} - own)
        others += sorted(p.id for p in pupils if p.class_id not in own)
        if others:
            raise Forbidden(f"a teacher may address only their own classes; not yours: {others}")
    return schools.pop(), classes, pupils


async def create(
    *,
    session: AsyncSession,
    principal: Principal,
    body: AnnouncementIn,
    idempotency_key: str | None,
    now: datetime,
    public_url: str,
    summary_chat_id: str | None = None,
    summary_messenger: Messenger = Messenger.telegram,
) -> Created:
    """Store an announcement and plan one message per guardian of the audience."""
    principal.require(Role.admin, Role.teacher)
    if body.urgent and principal.role is not Role.admin:
        raise Forbidden("only an admin may send an urgent announcement (it ignores quiet hours)")
    author = _author(principal)
    if idempotency_key:
        earlier = await session.scalar(
            select(Announcement).where(
                Announcement.author == author, Announcement.idempotency_key == idempotency_key
            )
        )
        if earlier is not None:
            if earlier.body_hash != body.digest():
                raise Conflict("this Idempotency-Key was used with another body")
            return Created(earlier, new=False)
    school_id, classes, pupils = await _check_audience(session, principal, body.audience)
    ident = uuid.uuid4().hex
    staff = await session.get(Staff, principal.staff_id) if principal.staff_id else None
    data = _event_data(
        ident,
        text=body.text,
        urgent=body.urgent,
        author=staff.full_name if staff else None,
        public_url=public_url,
    )
    event = JournalEvent(
        source=SOURCE,
        event_id=ident,
        type=TYPE,
        time=now,
        data=data,
        received_at=now,
        status=EventStatus.planned,
    )
    session.add(event)
    await session.flush()
    announcement = Announcement(
        id=ident,
        event_pk=event.pk,
        school_id=school_id,
        author=author,
        author_staff_id=principal.staff_id,
        text=body.text,
        audience=body.audience.model_dump(),
        send_at=body.send_at,
        urgent=body.urgent,
        idempotency_key=idempotency_key,
        body_hash=body.digest(),
        created_at=now,
        summary_chat_id=summary_chat_id,
        summary_messenger=summary_messenger.value,
    )
    session.add(announcement)
    rows = await _plan(session, event.pk, ident, classes, pupils, body, now)
    if rows:
        await session.execute(
            insert_ignore(session, Notification.__table__),  # type: ignore[arg-type]
            [r.values() for r in rows],
        )
    await session.commit()
    return Created(announcement, new=True)


async def _plan(
    session: AsyncSession,
    event_pk: int,
    ident: str,
    classes: list[SchoolClass],
    pupils: list[Student],
    body: AnnouncementIn,
    now: datetime,
) -> list[OutboxRow]:
    """Who hears the announcement: the guardians of its classes' pupils and of its pupils."""
    roster = await load_roster(
        session=session, student_ids=[p.id for p in pupils], class_ids=[c.id for c in classes]
    )
    addressed = [s for c in classes for s in sorted(roster.class_students.get(c.id, []))]
    addressed += [p.id for p in pupils]
    kind = _kind(body.urgent)
    start = body.send_at if body.send_at and body.send_at > now else now
    rows = []
    for target in audience(roster, dict.fromkeys(addressed), Category.announcements):
        if body.urgent:  # now, whatever the guardian's digest or quiet hours say
            target = dataclasses.replace(target, mode=Mode.instant)
        target = settle(target, roster, start)
        due = start if body.urgent else due_time(target, roster, start, timedelta(0))
        instant = target.mode is Mode.instant
        rows.append(
            outbox_row(
                event_pk,
                target,
                category=Category.announcements,
                kind=kind,
                due_at=due,
                group_key=f"a:{ident}:{target.guardian_id}"
                if instant
                else group_key(target, Category.announcements),
                now=now,
            )
        )
    return rows


# -- Preview: the announcement as parents will see it, before it is sent ---------------------

# Stand-ins where each parent's copy names their own child (and them): the console labels them.
SAMPLE_GUARDIAN = "Родитель"
SAMPLE_PUPIL = "Ученик"


class _TextIn(CleanText):
    """The text alone, by AnnouncementIn's rules."""

    model_config = ConfigDict(extra="forbid")
    text: Text


@dataclass(frozen=True)
class Preview:
    telegram_html: str
    email_subject: str
    email_html: str
    email_text: str
    sms_text: str
    sms_segments: int
    sms_encoding: SmsEncoding
    # The SMS does not hold the whole text: the template ends a long one with the link to it.
    sms_cut: bool
    # The stand-in names the texts above carry (empty when the templates name nobody).
    sample_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Rendered:
    telegram: str
    email: RenderedEmail
    sms: str


def preview(
    *,
    renderer: Renderer,
    text: str,
    urgent: bool,
    author: str | None,
    school: SchoolView | None,
    public_url: str,
    sms_max_segments: int,
    announcement_id: str = "preview",
    class_name: str | None = None,
) -> Preview:
    """Render `text` as delivery would for one parent of `class_name`, on every channel: the
    same templates, context and SMS fitting; a sample parent and pupil stand in for the names."""
    try:
        checked = _TextIn(text=text).text
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput(f"text: {problem}", field="text") from None
    data = _event_data(
        announcement_id, text=checked, urgent=urgent, author=author, public_url=public_url
    )

    def render(pupil: PupilView, guardian: PersonView) -> _Rendered:
        context = template_context(
            data=data,
            event_time=None,  # an announcement's templates show no event date
            student=pupil,
            guardian=guardian,
            school=school,
            class_name=class_name,
            previous=None,
        )
        kind = _kind(urgent)
        return _Rendered(
            telegram=renderer.telegram(kind, context),
            email=renderer.email(kind, context),
            sms=renderer.text(kind, "sms.txt.j2", context),
        )

    pupil, guardian = PupilView("", SAMPLE_PUPIL), PersonView("", SAMPLE_GUARDIAN)
    shown = render(pupil, guardian)
    # A name is on show when rendering without it changes a text.
    nameless = PupilView("", ""), PersonView("", "")
    samples = tuple(
        name
        for name, without in (
            (SAMPLE_PUPIL, render(nameless[0], guardian)),
            (SAMPLE_GUARDIAN, render(pupil, nameless[1])),
        )
        if without != shown
    )
    sms = fitted(shown.sms, sms_max_segments)
    return Preview(
        telegram_html=shown.telegram,
        email_subject=shown.email.subject,
        email_html=shown.email.html,
        email_text=shown.email.text,
        sms_text=sms.text,
        sms_segments=sms.size.segments,
        sms_encoding=sms.size.encoding,
        sms_cut=sms.cut or sms.text.endswith(f" {data['link']}"),
        sample_names=samples,
    )


async def get(*, session: AsyncSession, principal: Principal, ident: str) -> Announcement:
    announcement = await session.get(Announcement, ident)
    if announcement is None:
        raise NotFound(f"no announcement {ident!r}")
    if principal.role is Role.teacher and announcement.author_staff_id != principal.staff_id:
        raise Forbidden("a teacher sees only their own announcements")
    if principal.role is Role.integration:
        raise Forbidden("integration tokens do not read announcements")
    # (one stored before announcements had to name one school belongs to the region's admins)
    scope.school(principal, announcement.school_id or "")
    return announcement


async def report(*, session: AsyncSession, announcement: Announcement) -> dict[str, Any]:
    """Totals and one line per guardian: channel and status, so nobody is missed."""
    notes = list(
        await session.scalars(
            select(Notification)
            .where(Notification.event_pk == announcement.event_pk)
            .order_by(Notification.guardian_id)
        )
    )
    guardians = []
    for note in notes:
        status = REPORT_STATUS.get(note.status) or note.reason or note.status
        guardians.append(
            {
                "guardian_id": note.guardian_id,
                "student_id": note.student_id,
                "channel": note.channel,
                "status": status,
                "reason": note.reason if note.status == "failed" else None,
                "scheduled_for": note.due_at if note.status == RowStatus.pending else None,
                "sent_at": note.sent_at,
            }
        )
    totals = Counter(g["status"] for g in guardians)
    return {
        "id": announcement.id,
        "status": announcement.status,
        "text": announcement.text,
        "audience": announcement.audience,
        "urgent": announcement.urgent,
        "send_at": announcement.send_at,
        "created_at": announcement.created_at,
        "totals": dict(sorted(totals.items())),
        "guardians": guardians,
    }


async def cancel(*, session: AsyncSession, announcement: Announcement) -> int:
    """Cancel what has not been sent; returns how many messages will not go. Once it has gone
    out and nothing is waiting, there is nothing to cancel (Conflict), and the announcement stays
    as it went out."""
    result = await session.execute(
        update(Notification)
        .where(
            Notification.event_pk == announcement.event_pk,
            Notification.status == RowStatus.pending,
        )
        .values(status=RowStatus.cancelled, reason=Reason.cancelled, lease_until=None)
    )
    cancelled = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if (
        not cancelled
        and announcement.status != "cancelled"
        and await _went_out(session, announcement)
    ):
        await session.rollback()
        raise Conflict("nothing is left to cancel: every message of it has been dealt with")
    announcement.status = "cancelled"
    await session.commit()
    return cancelled


async def _went_out(session: AsyncSession, announcement: Announcement) -> bool:
    sent = await session.scalar(
        select(Notification.id)
        .where(
            Notification.event_pk == announcement.event_pk,
            Notification.status == RowStatus.sent,
        )
        .limit(1)
    )
    return sent is not None


async def listing(
    *, session: AsyncSession, principal: Principal, limit: int
) -> list[dict[str, Any]]:
    principal.require(Role.admin, Role.teacher)
    stmt = select(Announcement).order_by(Announcement.created_at.desc()).limit(limit)
    if principal.role is Role.teacher:
        stmt = stmt.where(Announcement.author_staff_id == principal.staff_id)
    elif principal.school_id is not None:
        stmt = stmt.where(Announcement.school_id == principal.school_id)
    return [
        {
            "id": a.id,
            "status": a.status,
            "text": a.text[:200],
            "audience": a.audience,
            "urgent": a.urgent,
            "send_at": a.send_at,
            "created_at": a.created_at,
        }
        for a in await session.scalars(stmt)
    ]


async def audience_size(*, session: AsyncSession, class_ids: list[str]) -> int:
    """How many guardians an announcement to these classes would reach (consent, not off)."""
    roster = await load_roster(session=session, class_ids=class_ids)
    pupils = [s for c in class_ids for s in roster.class_students.get(c, [])]
    targets = audience(roster, pupils, Category.announcements)
    return sum(1 for t in targets if t.status is RowStatus.pending)


async def finished_for_summary(*, session: AsyncSession) -> list[Announcement]:
    """Announcements made from Telegram whose messages have all been dealt with."""
    waiting = select(Notification.event_pk).where(Notification.status == RowStatus.pending)
    return list(
        await session.scalars(
            select(Announcement).where(
                Announcement.summary_chat_id.is_not(None),
                Announcement.summary_sent_at.is_(None),
                Announcement.status != "cancelled",
                Announcement.event_pk.not_in(waiting),
            )
        )
    )


async def summary_text(*, session: AsyncSession, announcement: Announcement) -> str:
    """The class teacher's delivery summary: whom to reach on paper, by pupil."""
    result = await report(session=session, announcement=announcement)
    missed = [g for g in result["guardians"] if g["status"] != "sent"]
    names = dict(
        (
            await session.execute(
                select(Student.id, Student.full_name).where(
                    Student.id.in_({g["student_id"] for g in missed})
                )
            )
        ).all()
    )
    reasons = {
        Reason.no_consent: "нет согласия",
        Reason.opted_out: "отказались",
        Reason.no_channel: "нет контактов",
        Reason.over_budget: "исчерпан SMS-бюджет месяца",
        "failed": "ошибка доставки",
    }
    lines = [
        f"Объявление доставлено: {result['totals'].get('sent', 0)} "
        f"из {len(result['guardians'])} родителей."
    ]
    if missed:
        lines.append("Не доставлено (сообщите на бумаге):")
        lines += [
            f"• {names.get(g['student_id'], g['student_id'])} — "
            f"{reasons.get(g['status'], g['status'])}"
            for g in missed
        ]
    return "\n".join(lines)


async def send_summaries(
    *,
    sessions: SessionFactory,
    telegram: TelegramChannel | None,
    now: datetime,
    max_channel: MaxChannel | None = None,
) -> int:
    """Tell class teachers who announced from a bot how delivery went, in that bot (once, when
    done)."""
    bots = {Messenger.telegram: telegram, Messenger.max: max_channel}
    sent = 0
    async with sessions() as session:
        for announcement in await finished_for_summary(session=session):
            assert announcement.summary_chat_id is not None
            messenger = Messenger(announcement.summary_messenger)
            bot = bots[messenger]
            if bot is None:
                continue  # that bot is not configured here (yet): the summary waits for it
            text = await summary_text(session=session, announcement=announcement)
            chat = announcement.summary_chat_id
            staff = Recipient(
                guardian_id=f"staff:{announcement.author_staff_id}",
                name="",
                telegram_chat_id=chat if messenger is Messenger.telegram else None,
                max_user_id=chat if messenger is Messenger.max else None,
            )
            try:
                await bot.send(staff, html.escape(text), ref=announcement.id, now=now)
            except DeliveryError:
                continue  # tried again on the next run
            announcement.summary_sent_at = now
            sent += 1
        await session.commit()
    return sent
