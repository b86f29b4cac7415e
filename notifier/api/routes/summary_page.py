"""The week's page a summary SMS links to: GET /s/<token>, public (the token is the key; see
notifier/delivery/message.py), in the guardian's language, made to read on an old phone's
browser (templates/_public/). A token we did not make answers 404, an expired or withdrawn one
410, each with a page that says so."""

from __future__ import annotations

import logging
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from notifier.api.deps import RuntimeDep, SessionDep
from notifier.db.models import Notification
from notifier.runtime import Runtime
from notifier.summaries import (
    PAGE_DAYS,
    SummaryLinkClosed,
    SummaryLinkInvalid,
    SummaryWeek,
    summary_week,
)
from notifier.unsubscribe import load_links

log = logging.getLogger(__name__)
router = APIRouter(tags=["summaries"])
PAGE = "_public/summary.html.j2"
PUBLIC_HEADERS = {  # every public page a parent opens from an SMS (/s/, /a/)
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    # The token is in the address: no page it links to, and no proxy, may keep it.
    "Referrer-Policy": "no-referrer",
    # A page without script: the browser refuses any that got in.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
}

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Итоги недели",
        "date": "d MMMM y",  # 27 января 2027
        "klass": "класс",
        "marks": "Оценки",
        "average": "Средний балл",
        "weighted": "средневзвешенный",
        "no_marks": "Оценок за неделю нет.",
        "attendance": "Посещаемость",
        "missed": "Пропущено уроков",
        "excused": "по уважительной причине",
        "late": "Опозданий",
        "until": "Ссылка действует до",
        "settings": "Настройки уведомлений меняет классный руководитель.",
        "settings_link": "Настроить уведомления",
        "invalid_title": "Ссылка недействительна",
        "invalid_text": "Ссылка повреждена или неполная. Откройте ссылку из SMS целиком; если "
        "не получается, спросите оценки у классного руководителя.",
        "expired_title": "Срок ссылки истёк",
        "expired_text": f"Итоги недели открываются по ссылке {PAGE_DAYS} дней. Оценки за прошлые "
        "недели можно узнать у классного руководителя.",
        "withdrawn_title": "Ссылка больше не действует",
        "withdrawn_text": "Итоги недели по этому ученику вам больше не отправляются. Если это "
        "ошибка, обратитесь к классному руководителю.",
        "en_hint": "This link does not open the page. Ask the class teacher.",
    },
    "en": {
        "title": "Summary of the week",
        "date": "MMMM d, y",
        "klass": "class",
        "marks": "Marks",
        "average": "Average",
        "weighted": "weighted",
        "no_marks": "No marks this week.",
        "attendance": "Attendance",
        "missed": "Lessons missed",
        "excused": "excused",
        "late": "Late",
        "until": "This link works until",
        "settings": "The class teacher changes what you are sent.",
        "settings_link": "Notification settings",
        "invalid_title": "This link is not valid",
        "invalid_text": "The link is damaged or incomplete. Open the whole link from the text "
        "message, or ask the class teacher.",
        "expired_title": "This link has expired",
        "expired_text": f"A week's summary opens for {PAGE_DAYS} days. Ask the class teacher "
        "about earlier weeks.",
        "withdrawn_title": "This link no longer works",
        "withdrawn_text": "You no longer receive this pupil's summaries. If that is a mistake, "
        "ask the class teacher.",
        "en_hint": "",
    },
}


def _page(runtime: Runtime, status: int, lang: str, **context: Any) -> HTMLResponse:
    def number(value: float | None) -> str:
        return format_decimal(value, "0.00", locale=lang) if value is not None else "—"

    html = runtime.renderer.page(
        PAGE, {"lang": lang, "t": TEXTS[lang], "number": number, **context}
    )
    return HTMLResponse(html, status, headers=PUBLIC_HEADERS)


@router.get("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
async def week_page(token: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """The pupil's week: marks with averages per subject, absences and lateness."""
    try:
        week: SummaryWeek = await summary_week(session=session, token=token, now=runtime.clock())
    except SummaryLinkInvalid:
        log.info("summary_page.invalid")
        return _page(runtime, 404, "ru", state="invalid")
    except SummaryLinkClosed as closed:
        log.info("summary_page.closed", extra={"why": closed.why.value})
        return _page(runtime, 410, closed.locale, state=closed.why.value)
    log.info("summary_page.opened", extra={"notification_id": week.row_id})
    until = format_date(week.until, TEXTS[week.locale]["date"], locale=week.locale)
    # The row is in the session already (summary_week read it): its guardian's settings link,
    # for a parent whose only messages are SMS (settings_page.py).
    row = await session.get(Notification, week.row_id)
    links = await load_links(session, runtime.settings)
    settings_url = links.settings_url(row.guardian_id) if row is not None else None
    return _page(runtime, 200, week.locale, week=week, until=until, settings_url=settings_url)
