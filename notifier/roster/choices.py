"""Who gets what: a guardian's preferences and a school's subscription defaults, validated,
stored, and written to the audit trail with who set them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit
from notifier.audit import fields_of
from notifier.auth import Principal
from notifier.categories import modes_of
from notifier.db.models import Guardian, Preference, School, Student
from notifier.errors import InvalidInput, NotFound
from notifier.roster.preferences import EffectivePreferences, effective
from notifier.roster.schemas import QuietHours
from notifier.roster.service import get_guardian, guardian_student_ids
from notifier.text import CleanText

Category = Literal[
    "marks",
    "homework",
    "attendance",
    "schedule",
    "period_marks",
    "comments",
    "announcements",
    "summary",
]
Mode = Literal["instant", "report", "digest", "weekly", "off"]
# "paper": the guardian asked for printed summaries (REQUIREMENTS: a written application); no
# message goes electronically by the channels after it.
ChannelName = Literal["telegram", "max", "email", "sms", "paper"]


class _In(CleanText):  # fuzz fix: NUL or a lone surrogate in a string was a 500 when stored
    model_config = ConfigDict(extra="forbid")


def _unique(channels: list[str] | None) -> list[str] | None:
    if channels is not None and len(set(channels)) != len(channels):
        raise ValueError("a channel may appear only once")
    return channels


def _modes_fit(categories: dict[str, str], where: str = "categories") -> dict[str, str]:
    for category, mode in categories.items():
        if mode not in modes_of(category):
            allowed = " or ".join(modes_of(category))
            raise ValueError(f"{where}.{category}: {mode!r} is not a mode of it; use {allowed}")
    return categories


def _per_student_fit(per_student: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    for student_id, categories in per_student.items():
        _modes_fit(categories, f"per_student.{student_id}")
    return per_student


class PreferencesIn(_In):
    channels: Annotated[list[ChannelName], Field(min_length=1, max_length=5)] | None = None
    categories: dict[Category, Mode] = Field(default_factory=dict)
    per_student: dict[str, dict[Category, Mode]] = Field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    basis: Annotated[str, Field(max_length=300)] | None = Field(
        default=None, description="the guardian's written request, when an admin sets this"
    )

    _channels = field_validator("channels")(_unique)
    _categories = field_validator("categories")(_modes_fit)
    _per_student = field_validator("per_student")(_per_student_fit)


class SubscriptionsIn(_In):
    channels: Annotated[list[ChannelName], Field(min_length=1, max_length=5)] | None = None
    categories: dict[Category, Mode] = Field(default_factory=dict)

    _channels = field_validator("channels")(_unique)
    _categories = field_validator("categories")(_modes_fit)


def _has_address(guardian: Guardian, channel: str) -> bool:
    addresses = {
        "telegram": guardian.telegram_chat_id,
        "max": guardian.max_user_id,
        "email": guardian.email,
        "sms": guardian.phone,
        "paper": "school",  # handed over at school: always reachable
    }
    return bool(addresses[channel])


async def guardian_preferences(*, session: AsyncSession, guardian_id: str) -> EffectivePreferences:
    """What applies to this guardian now (for their first pupil's school)."""
    await get_guardian(session=session, guardian_id=guardian_id)
    students = await guardian_student_ids(session=session, guardian_id=guardian_id)
    school = None
    if students:
        student = await session.get(Student, students[0])
        school = await session.get(School, student.school_id) if student else None
    return effective(
        await session.get(Preference, guardian_id), school.subscriptions if school else None
    )


async def set_preferences(
    *, session: AsyncSession, guardian_id: str, body: PreferencesIn, actor: Principal | None
) -> EffectivePreferences:
    """Replace a guardian's own choices; the next message follows them."""
    guardian = await get_guardian(session=session, guardian_id=guardian_id)
    for index, channel in enumerate(body.channels or ()):
        if not _has_address(guardian, channel):
            what = {
                "telegram": "linked Telegram chat",
                "max": "linked MAX chat",
                "email": "email address",
                "sms": "phone number",
            }[channel]
            raise InvalidInput(
                f"channels.{index}: the guardian has no {what}", field=f"channels.{index}"
            )
    children = set(await guardian_student_ids(session=session, guardian_id=guardian_id))
    for student_id in body.per_student:
        if student_id not in children:
            raise InvalidInput(
                f"per_student.{student_id}: not a child of this guardian",
                field=f"per_student.{student_id}",
            )
    pref = await session.get(Preference, guardian_id) or Preference(guardian_id=guardian_id)
    pref.channels = {"order": list(body.channels)} if body.channels else None
    pref.categories = {str(k): v for k, v in body.categories.items()} or None
    pref.per_student = {
        k: {str(c): m for c, m in v.items()} for k, v in body.per_student.items()
    } or None
    pref.quiet_start = body.quiet_hours.start if body.quiet_hours else None
    pref.quiet_end = body.quiet_hours.end if body.quiet_hours else None
    pref.updated_by = actor.token_id if actor else None
    session.add(pref)
    audit.record(
        session,
        actor,
        "preferences.set",
        "guardian",
        guardian_id,
        fields_of(body),
    )
    await session.commit()
    return await guardian_preferences(session=session, guardian_id=guardian_id)


async def set_mode(
    *,
    session: AsyncSession,
    guardian_id: str,
    category: str,
    mode: str,
    student_id: str | None = None,
    via: str = "bot",
) -> None:
    """One choice made by the guardian themselves (the bot's keyboard, an unsubscribe link)."""
    pref = await session.get(Preference, guardian_id) or Preference(guardian_id=guardian_id)
    if student_id is None:
        pref.categories = {**(pref.categories or {}), category: mode}
    else:
        per_student = {k: dict(v) for k, v in (pref.per_student or {}).items()}
        per_student.setdefault(student_id, {})[category] = mode
        pref.per_student = per_student
    session.add(pref)
    audit.record(
        session,
        None,
        "preferences.mode",
        "guardian",
        guardian_id,
        {"category": category, "mode": mode, "student_id": student_id, "via": via},
    )
    await session.commit()


async def set_quiet_hours(
    *,
    session: AsyncSession,
    guardian_id: str,
    window: tuple[str, str] | None,
    via: str = "bot",
) -> None:
    """The guardian's own quiet hours (None: the school's)."""
    pref = await session.get(Preference, guardian_id) or Preference(guardian_id=guardian_id)
    pref.quiet_start, pref.quiet_end = window or (None, None)
    session.add(pref)
    audit.record(
        session,
        None,
        "preferences.quiet_hours",
        "guardian",
        guardian_id,
        {"quiet_hours": list(window) if window else None, "via": via},
    )
    await session.commit()


async def school_subscriptions(*, session: AsyncSession, school_id: str) -> dict[str, Any]:
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound(f"no school {school_id!r}")
    subs = school.subscriptions or {}
    defaults = effective(None, subs)
    return {"channels": list(defaults.channels), "categories": defaults.categories, "set": subs}


async def set_school_subscriptions(
    *, session: AsyncSession, school_id: str, body: SubscriptionsIn, actor: Principal
) -> dict[str, Any]:
    """The admin's defaults for every guardian of the school who has not chosen otherwise."""
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound(f"no school {school_id!r}")
    subs: dict[str, Any] = {"categories": dict(body.categories)}
    if body.channels:
        subs["channels"] = list(body.channels)
    school.subscriptions = subs
    audit.record(session, actor, "subscriptions.set", "school", school_id, fields_of(body))
    await session.commit()
    return await school_subscriptions(session=session, school_id=school_id)
