"""A guardian's settings page (issue 19), for parents without a bot: GET /p/<token> shows, per
category, how it reaches them (now, the day's report, the evening, off) and their quiet hours;
POST /p/<token> (a plain form, no script) saves what changed through roster.choices, each
change audited as the guardian's own (via "settings_link"). The token is signed and expires
(notifier/unsubscribe.py: Links.settings_url); it is the key, so the page is public and kept
by no cache. Made for an old phone's browser (templates/_public/), in the guardian's language.
One guardian-wide choice per category: per-child choices (the bot's) are left as they are."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from notifier.api.deps import RuntimeDep, SessionDep
from notifier.api.routes.summary_page import PUBLIC_HEADERS
from notifier.categories import ALL_CATEGORIES, Category, Mode, modes_of
from notifier.db.models import Guardian, School, Student
from notifier.message_words import category_title, language_of
from notifier.roster.choices import guardian_preferences, set_mode, set_quiet_hours
from notifier.roster.preferences import EffectivePreferences
from notifier.roster.schemas import QuietHours
from notifier.roster.service import active_consent, guardian_student_ids
from notifier.runtime import Runtime
from notifier.summaries import LOCALES
from notifier.unsubscribe import SETTINGS_LINK_AGE, ExpiredLink, InvalidLink, load_links

log = logging.getLogger(__name__)
router = APIRouter(tags=["settings"])
PAGE = "_public/settings.html.j2"
VIA = "settings_link"  # the audit trail's word for a change made on this page
# The public pages' headers, but this page posts its form back to itself.
HEADERS = {
    **PUBLIC_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}
QUIET_FIELDS = ("quiet", "quiet_start", "quiet_end")
LINK_DAYS = SETTINGS_LINK_AGE.days

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Настройки уведомлений",
        "intro": "Как присылать сообщения о ваших детях. Выбор действует для всех ваших детей.",
        "modes_note": "«В итогах дня» — всё за день одним сообщением, но важные оценки (двойка, "
        "контрольная) приходят сразу. «Вечером» — одним сообщением вечером.",
        "mode.instant": "Сразу",
        "mode.report": "В итогах дня ({time})",
        "mode.digest": "Вечером ({time})",
        "mode.weekly": "По субботам",
        "mode.off": "Не присылать",
        "quiet": "Тихие часы",
        "quiet_note": "Сообщения в тихие часы ждут их конца; срочные объявления школы приходят "
        "сразу.",
        "quiet_school": "Как в школе ({start}–{end})",
        "quiet_school_none": "Как в школе (без тихих часов)",
        "quiet_own": "Свои:",
        "quiet_from": "с",
        "quiet_to": "до",
        "quiet_same": "Одинаковое время — без тихих часов.",
        "save": "Сохранить",
        "saved": "Сохранено",
        "per_child": "Для отдельных детей выбрано по-своему; эта страница тот выбор не меняет.",
        "problem": "Не сохранено: {why}",
        "problem_field": "в форме есть поле «{name}», которого на странице нет. Откройте "
        "страницу заново по ссылке и выберите ещё раз.",
        "problem_twice": "«{category}»: выберите один вариант.",
        "problem_mode": "«{category}»: варианта «{value}» нет. Выберите один из предложенных.",
        "problem_quiet_choice": "тихие часы: выберите «Как в школе» или «Свои».",
        "problem_quiet_time": "тихие часы: укажите начало и конец как ЧЧ:ММ, например 21:00 и "
        "08:00.",
        "invalid_title": "Ссылка недействительна",
        "invalid_text": "Ссылка повреждена или неполная. Откройте ссылку из письма целиком; если "
        "не получается, попросите новую ссылку у классного руководителя или в школе.",
        "expired_title": "Срок ссылки истёк",
        "expired_text": f"Ссылка на настройки действует {LINK_DAYS} дней. Откройте её из самого "
        "нового письма (или со страницы итогов недели): там ссылка свежая. Если новых писем "
        "нет, попросите новую ссылку у классного руководителя или в школе.",
        "unknown_title": "Ссылка больше не действует",
        "unknown_text": "По этой ссылке уведомления больше не настраиваются: школа не связывает "
        "её ни с одним учеником. Если это ошибка, попросите новую ссылку у классного "
        "руководителя или в школе.",
        "no_consent_title": "Нет согласия на обработку данных",
        "no_consent_text": "Пока согласие не дано, уведомления о детях не отправляются, и "
        "настраивать нечего. Дать согласие — письменно, через классного руководителя или школу.",
        "en_hint": "This link does not open the settings. Ask the class teacher for a new one.",
    },
    "en": {
        "title": "Notification settings",
        "intro": "How we send you news of your children. A choice holds for all your children.",
        "modes_note": "“In the day's report”: the day's news in one message, but an important "
        "mark (a 2, a test) comes at once. “In the evening”: one message in the evening.",
        "mode.instant": "At once",
        "mode.report": "In the day's report ({time})",
        "mode.digest": "In the evening ({time})",
        "mode.weekly": "On Saturdays",
        "mode.off": "Do not send",
        "quiet": "Quiet hours",
        "quiet_note": "Messages in quiet hours wait until they end; the school's urgent "
        "announcements come at once.",
        "quiet_school": "As the school's ({start}–{end})",
        "quiet_school_none": "As the school's (none)",
        "quiet_own": "My own:",
        "quiet_from": "from",
        "quiet_to": "to",
        "quiet_same": "The same time twice: no quiet hours.",
        "save": "Save",
        "saved": "Saved",
        "per_child": "Some children have choices of their own; this page leaves those as they are.",
        "problem": "Not saved: {why}",
        "problem_field": "the form has a field “{name}” the page does not. Open the page again "
        "from the link and choose again.",
        "problem_twice": "“{category}”: choose one option.",
        "problem_mode": "“{category}”: there is no option “{value}”. Choose one of those shown.",
        "problem_quiet_choice": "quiet hours: choose the school's or your own.",
        "problem_quiet_time": "quiet hours: give the start and the end as HH:MM, e.g. 21:00 and "
        "08:00.",
        "invalid_title": "This link is not valid",
        "invalid_text": "The link is damaged or incomplete. Open the whole link from the email, "
        "or ask the class teacher or the school for a new one.",
        "expired_title": "This link has expired",
        "expired_text": f"A settings link works for {LINK_DAYS} days. Open the one in the newest "
        "email (or on the week's summary page): it is fresh. If no email has come lately, ask "
        "the class teacher or the school for a new link.",
        "unknown_title": "This link no longer works",
        "unknown_text": "This link no longer sets anything: the school links it to no pupil. If "
        "that is a mistake, ask the class teacher or the school for a new link.",
        "no_consent_title": "No consent to data processing",
        "no_consent_text": "Until consent is given, nothing about your children is sent, so there "
        "is nothing to set. Consent is given in writing, through the class teacher or the "
        "school.",
        "en_hint": "",
    },
}


@dataclass(frozen=True)
class Choice:
    mode: Mode
    title: str
    checked: bool


@dataclass(frozen=True)
class Row:
    category: Category
    title: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True)
class Quiet:
    school: str  # "As the school's (21:00–08:00)"
    own: bool
    start: str
    end: str


@dataclass(frozen=True)
class Form:
    school: str
    rows: tuple[Row, ...]
    quiet: Quiet
    per_child: bool  # some child has choices of its own, which this page leaves


@dataclass(frozen=True)
class Opened:
    guardian: Guardian
    school: School
    lang: str


@dataclass(frozen=True)
class Wanted:
    """A form read whole and valid: the mode of each category it names, and the quiet
    hours when it names them (None: the school's)."""

    modes: dict[Category, Mode]
    quiet_given: bool
    quiet: tuple[str, str] | None


class FormProblem(Exception):
    """What is wrong with a posted form, in the page's words."""


def _state_page(runtime: Runtime, status: int, lang: str, state: str) -> HTMLResponse:
    html = runtime.renderer.page(PAGE, {"lang": lang, "t": TEXTS[lang], "state": state})
    return HTMLResponse(html, status, headers=HEADERS)


def _form_page(
    runtime: Runtime,
    opened: Opened,
    prefs: EffectivePreferences,
    token: str,
    *,
    status: int = 200,
    saved: bool = False,
    problem: str | None = None,
) -> HTMLResponse:
    lang, school, t = opened.lang, opened.school, TEXTS[opened.lang]
    times = {Mode.report: school.day_report_time, Mode.digest: school.digest_time}
    rows = tuple(
        Row(
            category,
            category_title(category, language_of(lang)),
            tuple(
                Choice(
                    mode,
                    t[f"mode.{mode}"].format(time=times.get(mode, "")),
                    mode == prefs.mode(category, None),
                )
                for mode in modes_of(category)
            ),
        )
        for category in ALL_CATEGORIES
    )
    start, end = prefs.quiet_window(school)
    if school.quiet_start == school.quiet_end:  # equal ends: no quiet hours (delivery.timing)
        school_window = t["quiet_school_none"]
    else:
        school_window = t["quiet_school"].format(start=school.quiet_start, end=school.quiet_end)
    quiet = Quiet(school_window, prefs.quiet_hours is not None, start, end)
    form = Form(school.name, rows, quiet, any(prefs.per_student.values()))
    context: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "form": form,
        "token": token,
        "saved": saved,
        "problem": problem,
    }
    return HTMLResponse(runtime.renderer.page(PAGE, context), status, headers=HEADERS)


async def _school_of(session: AsyncSession, guardian_id: str) -> School | None:
    """The school whose times the page shows: the first pupil's, as guardian_preferences
    reads that school's subscriptions."""
    students = await guardian_student_ids(session=session, guardian_id=guardian_id)
    student = await session.get(Student, students[0]) if students else None
    return await session.get(School, student.school_id) if student is not None else None


async def _open(session: AsyncSession, runtime: Runtime, token: str) -> Opened | HTMLResponse:
    """The guardian the token names, when the page may show their settings; else the page
    that says why not (and what to do)."""
    links = await load_links(session, runtime.settings)
    try:
        guardian_id = links.settings_guardian(token)
    except ExpiredLink:
        log.info("settings_page.expired")
        return _state_page(runtime, 410, "ru", "expired")
    except InvalidLink:
        log.info("settings_page.invalid")
        return _state_page(runtime, 404, "ru", "invalid")
    guardian = await session.get(Guardian, guardian_id)
    if guardian is None:
        log.info("settings_page.unknown")
        return _state_page(runtime, 404, "ru", "unknown")
    lang = guardian.locale if guardian.locale in LOCALES else "ru"
    if await active_consent(session=session, guardian_id=guardian.id) is None:
        log.info("settings_page.no_consent", extra={"guardian_id": guardian.id})
        return _state_page(runtime, 403, lang, "no_consent")
    school = await _school_of(session, guardian.id)
    if school is None:
        log.info("settings_page.no_pupil", extra={"guardian_id": guardian.id})
        return _state_page(runtime, 404, lang, "unknown")
    return Opened(guardian, school, lang)


def _time(value: str) -> str:
    """An old phone without a time picker gets a text box: "9:00" and "21.00" are meant."""
    found = re.fullmatch(r"\s*(\d{1,2})[:.](\d{2})\s*", value)
    return f"{int(found[1]):02d}:{found[2]}" if found else value


def _one(form: FormData, name: str, problem: str) -> str | None:
    values = form.getlist(name)
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):  # twice, or a file
        raise FormProblem(problem)
    return values[0]


def _read(form: FormData, lang: str) -> Wanted:
    """The whole form, or FormProblem for the first thing wrong in it: nothing is saved
    unless all of it is valid."""
    t = TEXTS[lang]
    known = {*ALL_CATEGORIES, *QUIET_FIELDS}
    for name in form:
        if name not in known:
            raise FormProblem(t["problem_field"].format(name=name[:40]))
    modes: dict[Category, Mode] = {}
    for category in ALL_CATEGORIES:
        title = category_title(category, language_of(lang))
        value = _one(form, category, t["problem_twice"].format(category=title))
        if value is None:
            continue  # not posted: left as it is
        if value not in modes_of(category):
            raise FormProblem(t["problem_mode"].format(category=title, value=value[:40]))
        modes[category] = Mode(value)
    choice = _one(form, "quiet", t["problem_quiet_choice"])
    if choice not in (None, "school", "own"):
        raise FormProblem(t["problem_quiet_choice"])
    quiet = None
    if choice == "own":
        start = _one(form, "quiet_start", t["problem_quiet_time"]) or ""
        end = _one(form, "quiet_end", t["problem_quiet_time"]) or ""
        try:
            hours = QuietHours(start=_time(start), end=_time(end))
        except ValidationError:
            raise FormProblem(t["problem_quiet_time"]) from None
        quiet = (hours.start, hours.end)
    return Wanted(modes, choice is not None, quiet)


@router.get("/p/{token}", response_class=HTMLResponse, include_in_schema=False)
async def settings_page(token: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """The guardian's choices, as a form."""
    opened = await _open(session, runtime, token)
    if isinstance(opened, HTMLResponse):
        return opened
    prefs = await guardian_preferences(session=session, guardian_id=opened.guardian.id)
    log.info("settings_page.opened", extra={"guardian_id": opened.guardian.id})
    return _form_page(runtime, opened, prefs, token)


@router.post("/p/{token}", response_class=HTMLResponse, include_in_schema=False)
async def save_settings(
    token: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    """Saves what the form changed (each change audited) and shows the page again."""
    opened = await _open(session, runtime, token)
    if isinstance(opened, HTMLResponse):
        return opened
    guardian_id = opened.guardian.id
    prefs = await guardian_preferences(session=session, guardian_id=guardian_id)
    try:
        wanted = _read(await request.form(), opened.lang)
    except FormProblem as problem:
        log.info("settings_page.refused", extra={"guardian_id": guardian_id})
        why = TEXTS[opened.lang]["problem"].format(why=problem)
        return _form_page(runtime, opened, prefs, token, status=400, problem=why)
    # Only what differs from what applies now: a mode the school set, posted back unchanged,
    # stays the school's (and follows it), not the guardian's own.
    changed = [c for c, mode in wanted.modes.items() if mode != prefs.mode(c, None)]
    for category in changed:
        await set_mode(
            session=session,
            guardian_id=guardian_id,
            category=category,
            mode=wanted.modes[category],
            via=VIA,
        )
    quiet_changed = wanted.quiet_given and wanted.quiet != prefs.quiet_hours
    if quiet_changed:
        await set_quiet_hours(
            session=session, guardian_id=guardian_id, window=wanted.quiet, via=VIA
        )
    log.info(
        "settings_page.saved",
        extra={"guardian_id": guardian_id, "categories": changed, "quiet_hours": quiet_changed},
    )
    prefs = await guardian_preferences(session=session, guardian_id=guardian_id)
    return _form_page(runtime, opened, prefs, token, saved=True)
