"""The guides as their readers meet them: the parents' and teachers' guides open without
signing in, the admins' only for admins; headings in order, lists for steps; the parents' guide
printable on the page and as the last page of the invitation slips."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from notifier.config import Settings
from notifier.console.i18n import translator
from notifier.console.pages.help import Audience, blocks, guide
from notifier.reports.invitations import Block, BlockKind
from tests.conftest import ADMIN_TOKEN
from tests.console_client import csrf_of, school, sign_in, visitor
from tests.factories import pupil_with_guardian
from tests.pdf_reader import pdf_pages, pdf_text, read
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

__all__ = ["visitor"]  # the fixture, used by name

HEADING = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.S)


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={"telegram_token": SecretStr(bot_api.token), "telegram_api_base": bot_api.base}
    )


def _headings(page: str) -> list[tuple[int, str]]:
    return [
        (int(level), re.sub(r"<[^>]+>", "", text).strip()) for level, text in HEADING.findall(page)
    ]


async def test_the_parents_guide_is_public_and_printable(visitor: httpx.AsyncClient) -> None:
    page = await visitor.get("/console/help/parents")
    assert page.status_code == 200, page.text
    assert _headings(page.text) == [
        (1, "Памятка для родителей"),
        (2, "Как подключить Telegram"),
        (2, "Что и когда присылать: /settings"),
        (2, "Как отключиться: /stop"),
        (2, "Что значит согласие"),
        (2, "Нет Telegram?"),
        (2, "Куда обращаться"),
    ]
    # Steps are a numbered list; the words say what a parent does.
    steps = re.search(r"<ol>(.*?)</ol>", page.text, re.S)
    assert steps is not None and steps.group(1).count("<li>") == 3
    assert "Нажмите «Запустить» (Start)" in page.text
    assert "/start" in page.text and "классному руководителю" in page.text
    assert "Выйти" not in page.text  # nobody is signed in: no console frame
    # Printable: a Print button the script shows, and print rules without the frame.
    assert 'src="/console/static/help.js"' in page.text and "data-print hidden" in page.text
    script = await visitor.get("/console/static/help.js")
    assert script.status_code == 200 and "window.print()" in script.text
    css = (await visitor.get("/console/static/console.css")).text
    assert re.search(r"@media print \{[^}]*\.guide-actions", css)
    assert "content-security-policy" in page.headers  # a console page like the others


async def test_who_reads_which_guide(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    index = await visitor.get("/console/help")
    assert index.status_code == 200
    assert "Памятка для родителей" in index.text and "Памятка классному руководителю" in index.text
    assert "Памятка администратору школы" not in index.text
    teachers = await visitor.get("/console/help/teachers")
    assert teachers.status_code == 200 and "Вход" in teachers.text  # for whoever cannot sign in
    admins = await visitor.get("/console/help/admins")
    assert admins.status_code == 303 and admins.headers["location"] == "/console/signin"

    await sign_in(visitor, smtp, "anna@school1.ru")
    home = await visitor.get("/console/")
    assert 'href="/console/help"' in home.text  # linked from the console's navigation
    index = await visitor.get("/console/help")
    assert "Анна Петровна" in index.text  # the console's frame for a signed-in reader
    assert "Памятка администратору школы" not in index.text
    refused = await visitor.get("/console/help/admins")
    assert refused.status_code == 403 and "Нет доступа" in refused.text
    parents = await visitor.get("/console/help/parents")
    assert parents.status_code == 200 and "Анна Петровна" in parents.text

    await visitor.post("/console/signout", data={"csrf": await csrf_of(visitor, "/console/")})
    token = await csrf_of(visitor, "/console/signin")
    await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    index = await visitor.get("/console/help")
    assert 'href="/console/help/admins"' in index.text
    admins = await visitor.get("/console/help/admins")
    assert admins.status_code == 200
    headings = _headings(admins.text)
    assert headings[0] == (1, "Памятка администратору школы")
    assert [h for h in headings[1:] if h[0] != 2] == []  # headings in order
    assert (2, "С чего начать") in headings and (2, "Что на каждой странице") in headings
    onboarding = re.search(r"<ol>(.*?)</ol>", admins.text, re.S)
    assert onboarding is not None and onboarding.group(1).count("<li>") == 5
    for page in ("«Подключение»", "«Ученики и родители»", "«Работа сервиса»", "«Отчёт»"):
        assert page in admins.text  # the navigation's own words


async def test_english_for_english_readers(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    anonymous = await visitor.get("/console/help/parents", headers={"Accept-Language": "en-GB"})
    assert "A guide for parents" in anonymous.text and 'lang="en"' in anonymous.text
    await sign_in(visitor, smtp, "other@school1.ru")  # locale en
    page = await visitor.get("/console/help/teachers")
    assert "A guide for class teachers" in page.text and "Signing in" in page.text


def test_a_guides_body_is_paragraphs_and_lists() -> None:
    assert blocks("Первый абзац.\n1. Шаг один\n2. Шаг два\nАбзац.\n– пункт\n– ещё\n\n") == (
        Block(BlockKind.text, ("Первый абзац.",)),
        Block(BlockKind.steps, ("Шаг один", "Шаг два")),
        Block(BlockKind.text, ("Абзац.",)),
        Block(BlockKind.points, ("пункт", "ещё")),
    )
    # Every guide, in both languages, has a title, a lead and headed sections with words.
    for audience in Audience:
        for locale in ("ru", "en"):
            shown = guide(audience, translator(locale))
            assert shown.title and shown.intro and shown.sections
            assert all(s.heading and s.blocks for s in shown.sections)


async def test_the_parents_guide_prints_after_the_invitation_slips(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    await pupil_with_guardian(
        api,
        "p1",
        "g1",
        klass="7a",
        school="s1",
        guardian_name="Орлов Пётр",
        full_name="Орлова Мария",
    )
    await sign_in(visitor, smtp, "anna@school1.ru")
    page = await visitor.get("/console/classes/7a")
    assert 'name="with_guide"' in page.text
    assert "Приложить памятку для родителей последней страницей" in page.text
    token = await csrf_of(visitor, "/console/classes/7a")

    plain = await visitor.post("/console/classes/7a/invitations", data={"csrf": token})
    assert plain.status_code == 200, plain.text
    assert pdf_pages(plain.content) == 1 and "Памятка для родителей" not in pdf_text(plain.content)

    answer = await visitor.post(
        "/console/classes/7a/invitations",
        data={"csrf": token, "with_guide": "true", "include_linked": "true"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    pages = pdf_text(answer.content).split("\f")
    assert len(pages) == 2  # the slips' sheet, then the guide's page
    assert "Орлов Пётр" in pages[0] and "Памятка для родителей" not in pages[0]
    last = " ".join(pages[1].split())
    assert last.startswith("Памятка для родителей")
    for heading in ("Как подключить Telegram", "Как отключиться: /stop", "Что значит согласие"):
        assert heading in last
    assert "1. Возьмите у классного руководителя листок-приглашение" in last
    assert len(read(answer.content).pages[1].images) == 0  # plain text, no codes
