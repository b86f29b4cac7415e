"""The class teacher's pages without JavaScript: reach, invitation slips, printouts, and the
403 page (logged) for another teacher's class."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import httpx
import pytest
import zxingcpp
from pydantic import SecretStr
from pypdf import PdfReader

from notifier.config import Settings
from tests.console_client import CSRF, csrf_of, school, sign_in, visitor
from tests.factories import pupil_with_guardian
from tests.pdf_reader import pdf_text
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

__all__ = ["visitor"]
KEY = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={"telegram_token": SecretStr(bot_api.token), "telegram_api_base": bot_api.base}
    )


async def _class(api: httpx.AsyncClient) -> None:
    await school(api)
    await pupil_with_guardian(
        api,
        "p1",
        "g1",
        klass="7a",
        school="s1",
        full_name="Орлова Мария",
        guardian_name="Орлов Пётр",
    )
    await pupil_with_guardian(
        api,
        "p2",
        "g2",
        klass="7a",
        school="s1",
        consent=False,
        full_name="Белов Денис",
        guardian_name="Белова Ольга",
    )
    await pupil_with_guardian(
        api,
        "p3",
        "g3",
        klass="7b",
        school="s1",
        full_name="Чужой Ученик",
        guardian_name="Чужая Мать",
    )


async def test_reach_page_says_who_is_reached_and_what_to_do(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _class(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    page = await visitor.get("/console/classes/7a")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Сообщения получают 1 из 2 семей." in text
    assert "Соберите подписанные согласия" in text
    # The family not reached comes first.
    assert text.index("Белов Денис") < text.index("Орлова Мария")
    assert "Нет согласия" in text and "Почта" in text
    assert "Чужой Ученик" not in text


async def test_another_teachers_class_is_a_403_page_and_logged(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _class(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    with caplog.at_level(logging.WARNING, logger="notifier.console"):
        for path in ("/console/classes/7b", "/console/classes/7b/summary.pdf"):
            page = await visitor.get(path)
            assert page.status_code == 403, path
            assert "Нет доступа" in page.text and "Попытка записана" in page.text
    denied = [r for r in caplog.records if r.getMessage() == "console.denied"]
    assert len(denied) == 2 and {r.__dict__["staff_id"] for r in denied} == {"t1"}
    token = await csrf_of(visitor, "/console/")
    slips = await visitor.post("/console/classes/7b/invitations", data={"csrf": token})
    assert slips.status_code == 403


async def test_invitation_slips_carry_a_qr_with_the_deep_link(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, bot_api: BotApiServer
) -> None:
    await _class(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    missing = await visitor.post("/console/classes/7a/invitations", data={})
    assert missing.status_code == 403  # no CSRF token
    token = await csrf_of(visitor, "/console/classes/7a")
    answer = await visitor.post("/console/classes/7a/invitations", data={"csrf": token})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert "attachment" in answer.headers["content-disposition"]
    text = pdf_text(answer.content)
    assert "Орлов Пётр" in text and "Белова Ольга" in text and "Чужая Мать" not in text
    links = []
    for page in PdfReader(io.BytesIO(answer.content)).pages:
        for image in page.images:
            links += [b.text for b in zxingcpp.read_barcodes(image.image)]
    assert len(links) == 2
    assert all(link.startswith(f"https://t.me/{bot_api.username}?start=") for link in links)
    code = links[0].split("start=")[1]
    assert code in text.replace("\n", " ").replace(" ", "") or code in text


async def test_summary_printout_opens_with_the_session(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _class(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    pdf = await visitor.get("/console/classes/7a/summary.pdf?all=true")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert "Орлова Мария" in pdf_text(pdf.content)
    page = await visitor.get("/console/classes/7a/summary.html?all=true")
    assert page.status_code == 200 and "Орлова Мария" in page.text
    blank = await visitor.get("/console/classes/7a/summary.html?from=&to=&all=true")
    assert blank.status_code == 200  # the form's empty date fields: the last school week
    bad = await visitor.get("/console/classes/7a/summary.html?from=2026-11-20")
    assert bad.status_code == 422 and "give both from and to" in bad.text
    assert (await httpx_anonymous(visitor, "/console/classes/7a/summary.pdf")).status_code == 303


async def httpx_anonymous(visitor: httpx.AsyncClient, path: str) -> httpx.Response:
    """The same request without the session cookie."""
    async with httpx.AsyncClient(transport=visitor._transport, base_url=visitor.base_url) as other:
        return await other.get(path)


async def test_compose_preview_send_and_watch_the_report(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, pump: Any
) -> None:
    await _class(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    page = await visitor.get("/console/announcements/new?class_id=7a")
    assert page.status_code == 200 and "Орлова Мария" in page.text  # pupils to choose from
    form = {
        "csrf": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
        "key": KEY.search(page.text).group(1),  # type: ignore[union-attr]
        "class_id": "7a",
        "text": "Собрание <в пятницу> & без опозданий",
        "when": "now",
    }
    shown = await visitor.post(
        "/console/announcements/preview",
        data=form,
        headers={"HX-Request": "true", "HX-Target": "preview"},
    )
    assert shown.status_code == 200 and "<html" not in shown.text
    assert "Собрание &lt;в пятницу&gt; &amp; без опозданий" in shown.text
    assert "1 из 2 SMS-частей, кодировка UCS2" in shown.text
    whole = await visitor.post("/console/announcements/preview", data=form)  # without JS
    assert (
        "<html" in whole.text
        and "SMS-частей" in whole.text
        and "без опозданий</textarea>" in whole.text
    )
    sent = await visitor.post("/console/announcements", data=form)
    assert sent.status_code == 303, sent.text
    report_url = sent.headers["location"]
    again = await visitor.post("/console/announcements", data=form)  # a second click
    assert again.headers["location"] == report_url
    before = await visitor.get(report_url)
    assert 'hx-trigger="every 2s"' in before.text and "Запланировано" in before.text
    # The unreached first: no consent before the pending one.
    assert before.text.index("Белова Ольга") < before.text.index("Орлов Пётр")
    await pump()
    after = await visitor.get(report_url)
    assert "Доставлено 1 из 2 родителям." in after.text and "every 2s" not in after.text
    assert "Почта" in after.text  # the channel, in words
    assert "Отменить неотправленное" not in after.text
    polled = await visitor.get(report_url, headers={"HX-Request": "true"})
    assert polled.headers["HX-Refresh"] == "true"  # done: the page loads once, without its button
    token = CSRF.search(after.text).group(1)  # type: ignore[union-attr]
    late = await visitor.post(report_url + "/cancel", data={"csrf": token})
    assert late.status_code == 409 and "nothing is left to cancel" in late.text
    assert [m.rcpt_tos for m in smtp.messages[-1:]] == [["g1@parents.example.org"]]
    listing = await visitor.get("/console/announcements")
    assert "Собрание &lt;в пятницу&gt;" in listing.text


async def test_schedule_then_cancel(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, pump: Any
) -> None:
    await _class(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    page = await visitor.get("/console/announcements/new")
    form = {
        "csrf": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
        "key": KEY.search(page.text).group(1),  # type: ignore[union-attr]
        "class_id": "7a",
        "student_ids": ["p1"],
        "text": "Завтра экскурсия",
        "when": "later",
        "send_at": "2026-11-30T18:00",
    }
    sent = await visitor.post("/console/announcements", data=form)
    assert sent.status_code == 303, sent.text
    report = await visitor.get(sent.headers["location"])
    assert "Отправится 30.11.2026 18:00" in report.text
    token = CSRF.search(report.text).group(1)  # type: ignore[union-attr]
    cancelled = await visitor.post(sent.headers["location"] + "/cancel", data={"csrf": token})
    assert cancelled.status_code == 303
    report = await visitor.get(sent.headers["location"])
    assert "Объявление отменено." in report.text and "Отменено" in report.text
    await pump()
    assert smtp.messages[1:] == []  # only the sign-in mail

    bad = dict(form, send_at="tomorrow", key="k2")
    refused = await visitor.post("/console/announcements", data=bad)
    assert refused.status_code == 422 and "send_at" in refused.text
    assert "Завтра экскурсия</textarea>" in refused.text  # nothing typed is lost
    other = dict(form, class_id="7b", key="k3", when="now")
    assert (await visitor.post("/console/announcements", data=other)).status_code == 403
