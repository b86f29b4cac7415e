"""Jinja environments over templates/: email HTML (autoescaped), email text, subjects."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from jinja2 import Environment, pass_context, select_autoescape
from jinja2.runtime import Context

from notifier.message_words import (
    ATTENDANCE_STATUSES,
    SCHEDULE_CHANGES,
    Language,
    attendance_status,
    category_title,
    language_of,
    plural,
    say,
)
from notifier.reports import summary
from notifier.template_set import ResourceLoader, check, templates_root

# The journal's attendance statuses and timetable changes in the Russian of the messages (the
# school-day bench reads them; the words of both languages are in notifier/message_words.py).
ATTENDANCE = {s: say(Language.ru, f"attendance.{s}") for s in ATTENDANCE_STATUSES}
SCHEDULE = {c: say(Language.ru, f"schedule.{c}") for c in SCHEDULE_CHANGES}


def ru_date(value: str | date | datetime | None, locale: str = "ru") -> str:
    """'2026-03-12' → '12 марта' ('12 March' in English)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = value.date()
    return _day_month(value, str(locale))


@lru_cache(maxsize=4096)
def _day_month(value: date, locale: str) -> str:
    # Babel looks its locale data up on every call; a school's messages name a few dates.
    return format_date(value, "d MMMM", locale=locale)


def ru_plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian form of a word for n, by CLDR plural rules (1 оценка, 3 оценки, 5 оценок)."""
    return plural(Language.ru, n, (one, few, many))


# -- What templates call with the message's language --------------------------------------------
#
# A message in a guardian's language has `locale` in its context (delivery/message.py puts it in
# the digest's and its lines'); these take it from there, so no template passes it by hand, and
# a message without it is Russian.


def _language(context: Context) -> Language:
    return language_of(context.get("locale"))


@pass_context
def _words(context: Context, key: str, n: int | None = None, **values: object) -> str:
    """`t("digest.report")`, `t("digest.sms.marks", n=3)`: notifier/message_words.py's words."""
    return say(_language(context), key, n, **values)


@pass_context
def _date_filter(context: Context, value: str | date | datetime | None) -> str:
    return ru_date(value, _language(context))


@pass_context
def _category_title(context: Context, category: str) -> str:
    return category_title(category, _language(context))


@pass_context
def _attendance_status(context: Context, status: str) -> str:
    return attendance_status(status, _language(context))


@pass_context
def _schedule_change(context: Context, change: str) -> str:
    return say(_language(context), f"schedule.{change}") if change in SCHEDULE else change


def _single_line(value: str) -> str:
    return " ".join(str(value).split())


class _Environment(Environment):
    """Jinja's, with each template's globals one plain dict. Jinja's are a ChainMap over the
    environment's, which every render copies into its context key by key: 3.8 µs against 0.4
    for a dict, a sixth of a Telegram message's render. Ours are all set before the first
    template loads (`load_templates` compiles every one) and never change after."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def _environment(*, html: bool, loader: ResourceLoader) -> Environment:
    # Text and subjects are not HTML; HTML templates are always escaped.
    escape = select_autoescape(enabled_extensions=("html.j2",), default=False) if html else False
    env = _Environment(
        loader=loader,
        autoescape=escape,  # on for every HTML template
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.globals.update(t=_words)
    env.filters.update(
        ru_date=_date_filter,  # in the message's language, despite the name
        ru_plural=ru_plural,  # Russian forms, given by the template
        category_title=_category_title,
        attendance_status=_attendance_status,
        schedule_change=_schedule_change,
        single_line=_single_line,
        average=summary.number,
        period=summary.period,
    )
    return env


def load_templates(root: Traversable) -> tuple[Environment, Environment]:
    """The HTML and the text environment over `root`, with every template compiled: a missing or
    broken one raises TemplatesError (one line) instead of failing its messages later."""
    loader = ResourceLoader(root)
    html, text = _environment(html=True, loader=loader), _environment(html=False, loader=loader)
    check(loader, html=html, text=text)
    return html, text


@lru_cache(maxsize=1)
def installed_templates() -> tuple[Environment, Environment]:
    """The installed templates, loaded once per process: by its first Renderer (every process
    builds one as it starts) or by the command line before it starts anything."""
    return load_templates(templates_root())


@dataclass(frozen=True)
class Attachment:
    filename: str  # ASCII, so no header needs encoding
    content_type: str  # "application/pdf"
    data: bytes


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    # The one-click unsubscribe link of this guardian and these categories (RFC 8058).
    unsubscribe: str | None = None
    attachments: tuple[Attachment, ...] = ()


class Renderer:
    """Renders a message kind for a channel; environments are built once per process."""

    def __init__(self, templates: Traversable | None = None) -> None:
        envs = installed_templates() if templates is None else load_templates(templates)
        self._html, self._text = envs

    def email(self, kind: str, context: dict[str, Any]) -> RenderedEmail:
        subject = self._text.get_template(f"{kind}/subject.txt.j2").render(context)
        text = self._text.get_template(f"{kind}/email.txt.j2").render(context).strip() + "\n"
        unsubscribe = context.get("unsubscribe_url")
        if unsubscribe:
            words = say(language_of(context.get("locale")), "mail.unsubscribe")
            text += f"{words}: {unsubscribe}\n"
        return RenderedEmail(
            # A header is one line whatever the data held: no header can be smuggled in.
            subject=_single_line(subject)[:200],
            text=text,
            html=self._html.get_template(f"{kind}/email.html.j2").render(context),
            unsubscribe=unsubscribe,
        )

    def page(self, template: str, context: dict[str, Any]) -> str:
        """A web page (HTML, autoescaped), e.g. the class's printable summary."""
        return self._html.get_template(template).render(context)

    def telegram(self, kind: str, context: dict[str, Any]) -> str:
        """Telegram HTML: autoescaped, so user text can never become markup."""
        return self._html.get_template(f"{kind}/telegram.html.j2").render(context).strip()

    def text(self, kind: str, name: str, context: dict[str, Any]) -> str:
        return self._text.get_template(f"{kind}/{name}").render(context).strip()


# -- What a template sees: pupil, guardian, school and the event ------------------------------


@dataclass(frozen=True)
class PupilView:
    id: str
    full_name: str

    @property
    def first_name(self) -> str:
        # Russian rosters write «Фамилия Имя Отчество»; the given name is the second word.
        parts = self.full_name.split()
        return parts[1] if len(parts) >= 2 else (parts[0] if parts else "")


@dataclass(frozen=True)
class PersonView:
    id: str
    full_name: str


@dataclass(frozen=True)
class SchoolView:
    id: str
    name: str | None
    timezone: str


def template_context(
    *,
    data: Mapping[str, Any],
    event_time: datetime | None,
    student: PupilView | None,
    guardian: PersonView,
    school: SchoolView | None,
    class_name: str | None,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """What a message's template sees: delivery builds it from a stored event, the console's
    announcement preview from the text being written, so both render the same message."""
    if event_time is not None and school is not None:
        # Dates in messages are the school's calendar dates, not UTC ones.
        event_time = event_time.astimezone(ZoneInfo(school.timezone))
    return {
        "student": student or PupilView("", ""),
        "guardian": guardian,
        "school": school,
        "class_name": class_name,
        "data": dict(data),
        "event_time": event_time,
        "previous": previous,
    }
