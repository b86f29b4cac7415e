"""SQLAlchemy models: the roster, tokens, consent, preferences, events, the outbox and its log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from notifier.db.types import JsonType, UTCDateTime, utcnow

Id = String(64)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JsonType,
    }


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class School(Timestamped, Base):
    __tablename__ = "schools"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    digest_time: Mapped[str] = mapped_column(String(5), default="19:00")
    # When the day's marks go, in one message per guardian (categories.Mode.report).
    day_report_time: Mapped[str] = mapped_column(String(5), default="15:30", server_default="15:30")
    # Which marks go now instead of in the day's report: {"values": [...], "work_types":
    # [...]}; None: delivery/policy.IMPORTANT (a 1 or a 2, a test or контрольная).
    important_marks: Mapped[dict[str, Any] | None]
    # A mark that comes after the day's report went, before the evening, edits the report's
    # Telegram or MAX message instead of waiting for the evening (delivery/day_card.py).
    edit_day_card: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A second bot for a large school or municipality; its own rate bucket. A secret: never
    # returned by the API.
    telegram_token: Mapped[str | None] = mapped_column(String(100))
    # The admin's defaults for every guardian who has not chosen otherwise:
    # {"channels": [...], "categories": {"homework": "digest", ...}}
    subscriptions: Mapped[dict[str, Any] | None]
    # SMS segments the school pays for in a calendar month (its time zone); None: no cap. The
    # month ("2026-12") its admins were told that 80% was spent, so they are told once.
    sms_budget_month: Mapped[int | None]
    sms_alert_month: Mapped[str | None] = mapped_column(String(7))


class SchoolClass(Timestamped, Base):
    __tablename__ = "classes"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    class_teacher_id: Mapped[str | None] = mapped_column(Id)


class Student(Timestamped, Base):
    __tablename__ = "students"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[str | None] = mapped_column(ForeignKey("classes.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(300))


class Guardian(Timestamped, Base):
    __tablename__ = "guardians"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(10), default="ru")
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # The numeric id of the bot the chat was linked through: only that bot may write to it.
    telegram_bot_id: Mapped[str | None] = mapped_column(String(32))
    telegram_linked_at: Mapped[datetime | None]
    # The MAX user the service's MAX bot writes to (a dialog with the bot).
    max_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    max_linked_at: Mapped[datetime | None]


class GuardianStudent(Base):
    __tablename__ = "guardian_students"
    guardian_id: Mapped[str] = mapped_column(
        ForeignKey("guardians.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[str] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ChannelBlock(Base):
    """A channel that failed for good for a guardian (bot blocked, mailbox gone, bad number);
    skipped until the guardian fixes it (relinks Telegram, a new email or phone)."""

    __tablename__ = "channel_blocks"
    guardian_id: Mapped[str] = mapped_column(
        ForeignKey("guardians.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkCode(Base):
    """A single-use code that links a Telegram chat or a MAX user to a guardian (or a staff
    member); `messenger` says whose bot takes it."""

    __tablename__ = "link_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject_type: Mapped[str] = mapped_column(String(20), default="guardian")
    messenger: Mapped[str] = mapped_column(
        String(10), default="telegram", server_default="telegram"
    )
    subject_id: Mapped[str] = mapped_column(Id, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_chat: Mapped[str | None] = mapped_column(String(32))


class Staff(Timestamped, Base):
    __tablename__ = "staff"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(50), default="teacher")
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), index=True)
    telegram_bot_id: Mapped[str | None] = mapped_column(String(32))
    max_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # Where the console's sign-in link goes, and the language of the console's pages.
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    locale: Mapped[str] = mapped_column(String(10), default="ru", server_default="ru")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    school_id: Mapped[str | None] = mapped_column(Id)
    staff_id: Mapped[str | None] = mapped_column(Id)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Consent(Base):
    """Consent to process personal data; the newest unrevoked row is the one in force."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guardian_id: Mapped[str] = mapped_column(
        ForeignKey("guardians.id", ondelete="CASCADE"), index=True
    )
    document: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by: Mapped[int | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None]


class Preference(Base):
    """A guardian's own choices; absent fields fall back to the defaults of SPEC §4."""

    __tablename__ = "preferences"
    guardian_id: Mapped[str] = mapped_column(
        ForeignKey("guardians.id", ondelete="CASCADE"), primary_key=True
    )
    channels: Mapped[dict[str, Any] | None]
    categories: Mapped[dict[str, Any] | None]
    per_student: Mapped[dict[str, Any] | None]
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None]


class JournalEvent(Base):
    __tablename__ = "journal_events"
    # (source, id) is the journal's idempotency key within a tenant: a school-bound token's
    # events cannot occupy the keys of another school's, or the region's, journal.
    __table_args__ = (
        UniqueConstraint("tenant", "source", "event_id", name="uq_event_tenant_source_id"),
    )
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The school of the token that posted it; "" for the region's (a region-wide token, the
    # stream, the service's own events).
    tenant: Mapped[str] = mapped_column(Id, default="", server_default="")
    source: Mapped[str] = mapped_column(String(500))
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(100))
    time: Mapped[datetime | None]
    data: Mapped[dict[str, Any]]
    # data.student_id, kept apart so a pupil's marks and absences are found by an index.
    student_id: Mapped[str | None] = mapped_column(Id, index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # planned | unmatched | ignored (unknown type or nothing to tell)
    status: Mapped[str] = mapped_column(String(20), index=True)
    detail: Mapped[str | None] = mapped_column(String(500))


class Notification(Base):
    """The outbox: one message to one guardian about one event."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_pk", "guardian_id", name="uq_notification_event_guardian"),
        Index("ix_notifications_due", "status", "due_at"),
        # A school's sent messages by time, pupil by pupil (the dashboard; migration 0009).
        Index(
            "ix_notifications_pupil_sent",
            "student_id",
            "sent_at",
            "channel",
            sqlite_where=text("sent_at IS NOT NULL"),
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("journal_events.pk"), index=True)
    guardian_id: Mapped[str] = mapped_column(Id, index=True)
    student_id: Mapped[str | None] = mapped_column(Id)
    category: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(40))
    # pending | sent | failed | skipped
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    channel: Mapped[str | None] = mapped_column(String(20))
    due_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    # The token of the claim that leased the row last: only that claim may record it
    # (delivery/outbox.py, migration 0015).
    lease_token: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(default=0)
    # SMS parts billed for this message, and its cost in roubles when the provider says it.
    segments: Mapped[int | None]
    cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    # What the provider's delivery receipt said of a sent SMS (delivered | undelivered), once.
    receipt: Mapped[str | None] = mapped_column(String(12))
    # Rows with one key that are due together go out as one message: instant ones per
    # guardian, child and category (coalescing), digest ones per guardian.
    group_key: Mapped[str | None] = mapped_column(String(200), index=True)
    mode: Mapped[str] = mapped_column(String(10), default="instant", server_default="instant")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index("ix_delivery_attempts_outcome_at", "outcome", "at"),
        # A delivery receipt names the message by the provider's id (migration 0011).
        Index("ix_delivery_attempts_provider_id", "provider_id"),
        # The SMS sent, by time: a school's month of SMS (delivery/budget.month_spend; 0012).
        Index(
            "ix_delivery_attempts_sms_sent",
            "at",
            sqlite_where=text("channel = 'sms' AND outcome = 'sent'"),
            postgresql_where=text("channel = 'sms' AND outcome = 'sent'"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # sent | transient | permanent
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(String(500))
    provider_id: Mapped[str | None] = mapped_column(String(200))
    # What the provider billed for a sent SMS, on its message's first row (migration 0012):
    # kept here because a message whose receipt said undelivered goes on by another channel.
    segments: Mapped[int | None]
    cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))


class AuditEntry(Base):
    """Who changed what on whose behalf (a guardian's choices set by an admin, say)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_token_id: Mapped[int | None]
    # A console session's staff member (a token's is on the token row; the bot's is the chat's).
    actor_staff_id: Mapped[str | None] = mapped_column(Id)
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(Id, index=True)
    detail: Mapped[dict[str, Any] | None]


class Announcement(Base):
    """A class teacher's (or an admin's) message to the guardians of classes or pupils."""

    __tablename__ = "announcements"
    __table_args__ = (UniqueConstraint("author", "idempotency_key", name="uq_announcement_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("journal_events.pk"))
    school_id: Mapped[str | None] = mapped_column(Id, index=True)
    # who: "token:<id>" (or "admin-token" for the bootstrap token), and the staff member
    author: Mapped[str] = mapped_column(String(40))
    author_staff_id: Mapped[str | None] = mapped_column(Id, index=True)
    text: Mapped[str] = mapped_column(String(4000))
    audience: Mapped[dict[str, Any]]
    send_at: Mapped[datetime | None]
    urgent: Mapped[bool] = mapped_column(default=False)
    # scheduled | cancelled (per-guardian progress is in the notifications)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A teacher who announced from a bot gets the delivery summary there once all is sent: the
    # chat (a MAX user) and its messenger.
    summary_chat_id: Mapped[str | None] = mapped_column(String(32))
    summary_messenger: Mapped[str] = mapped_column(
        String(10), default="telegram", server_default="telegram"
    )
    summary_sent_at: Mapped[datetime | None]


class AppSecret(Base):
    """Keys the service makes for itself on first use and shares between its processes through
    the database (the signing key of unsubscribe links, unless NOTIFIER_SECRET_KEY is set)."""

    __tablename__ = "app_secrets"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleLink(Base):
    """A one-time sign-in link to the console, by its hash; spent or expired, it is void."""

    __tablename__ = "console_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str] = mapped_column(Id, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser, by the hash of its cookie. `staff_id` None: the bootstrap admin
    (NOTIFIER_ADMIN_TOKEN). The principal is read from the staff row on each request, so a
    teacher moved to another school or class is held to where they are now."""

    __tablename__ = "console_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str | None] = mapped_column(Id, index=True)
    # The school a region-wide admin has chosen to look at (a school's staff have their own).
    current_school: Mapped[str | None] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
