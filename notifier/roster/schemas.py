"""Roster payloads (SPEC §4): validated at the edge, normalised for storage."""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from notifier.text import CleanText

Name = Annotated[str, Field(min_length=1, max_length=300)]
Ref = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s/]+$")]


def _hhmm(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("must be a time of day as HH:MM, 00:00 to 23:59")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # fuzz fix: OSError too: ZoneInfo("x" * 300) fails with "file name too long" (was a 500)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("must be an IANA time zone such as Europe/Moscow") from None
    if value not in available_timezones():
        raise ValueError("must be an IANA time zone such as Europe/Moscow")
    return value


def normalise_phone(value: str) -> str:
    """E.164 (+79161234567); Russian numbers written locally (8 916 ...) are understood."""
    try:
        number = phonenumbers.parse(value, "RU")
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from None


def _bot_token(value: str) -> str:
    if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{5,}", value):
        raise ValueError("must be a bot token from @BotFather, like 123456:ABC...")
    return value


HHMM = Annotated[str, AfterValidator(_hhmm)]
BotToken = Annotated[str, AfterValidator(_bot_token)]
Phone = Annotated[str, AfterValidator(normalise_phone)]
Email = Annotated[str, AfterValidator(normalise_email)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
Locale = Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]


class _In(CleanText):  # fuzz fix: NUL or a lone surrogate in a string was a 500 when stored
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QuietHours(_In):
    start: HHMM
    end: HHMM


class ImportantMarks(_In):
    """Marks that go to parents now, not in the day's report: a value among `values` (as the
    journal writes it: "2", "н/а"), or a work type containing one of `work_types` (case
    ignored: "контрольн" matches «Контрольная работа»)."""

    values: list[Annotated[str, Field(min_length=1, max_length=10)]] = Field(max_length=20)
    work_types: list[Annotated[str, Field(min_length=2, max_length=50)]] = Field(max_length=20)


class SchoolIn(_In):
    name: Name
    timezone: TimeZoneName = "Europe/Moscow"
    quiet_hours: QuietHours = QuietHours(start="21:00", end="08:00")
    digest_time: HHMM = "19:00"
    # The day's marks in one message per guardian (SPEC §8 "Quiet defaults").
    day_report_time: HHMM = "15:30"
    # None: the default rule (a 1 or a 2, a test or контрольная).
    important_marks: ImportantMarks | None = None
    # A mark after the day's report went edits the report's Telegram or MAX message instead of
    # waiting for the evening (SPEC §8 "Quiet defaults"; off: the evening's message).
    edit_day_card: bool = False
    # A school's own bot (from @BotFather) raises a large region's ceiling: each bot has its
    # own rate limit. Write-only: the API never returns it.
    telegram_token: BotToken | None = None
    # SMS segments a calendar month the school pays for (SPEC §8); unset: no cap. At 80% its
    # admins are told once; at 100% only urgent announcements still go by SMS.
    sms_budget_month: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class ClassIn(_In):
    school_id: Ref
    name: Annotated[str, Field(min_length=1, max_length=50)]
    class_teacher_id: Ref | None = None


class StudentIn(_In):
    school_id: Ref
    class_id: Ref | None = None
    full_name: Name


class GuardianIn(_In):
    full_name: Name
    phone: Phone | None = None
    email: Email | None = None
    locale: Locale = "ru"
    student_ids: list[Ref] = Field(default_factory=list, max_length=50)


class StaffIn(_In):
    school_id: Ref
    full_name: Name
    role: Annotated[str, Field(min_length=1, max_length=50)] = "teacher"
    # The console's sign-in link is sent here; `locale` is its pages' language (ru, en).
    email: Email | None = None
    locale: Locale = "ru"


class ConsentIn(_In):
    document: Annotated[str, Field(min_length=1, max_length=500)]


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
