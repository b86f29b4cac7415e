"""Signing in to the console: the emailed one-time link, its refusals, sessions, CSRF, the
bootstrap admin, revocation; as a visitor without JavaScript meets them (plain form posts)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from notifier.config import Settings
from notifier.db.models import ConsoleLink, ConsoleSession
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN, FakeClock
from tests.console_client import (
    CSRF,
    LINK,
    ask_link,
    csrf_of,
    school,
    sign_in,
    teacher_client,
    visitor,
)
from tests.factories import put_school
from tests.servers.smtp_server import SmtpServer

__all__ = ["visitor"]  # the fixture, used by name


async def test_emailed_link_signs_a_teacher_in_to_their_classes(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    assert (await visitor.get("/console/")).headers["location"] == "/console/signin"
    link = await ask_link(visitor, smtp, "anna@school1.ru")
    assert smtp.messages[-1].rcpt_tos == ["Anna@school1.ru"]
    # Opening the link (as a mail scanner would) does not spend it.
    confirm = await visitor.get(f"/console/signin/link/{link}")
    assert confirm.status_code == 200 and "Войти" in confirm.text
    token = CSRF.search(confirm.text).group(1)  # type: ignore[union-attr]
    spent = await visitor.post(f"/console/signin/link/{link}", data={"csrf": token})
    assert spent.status_code == 303
    cookie = spent.headers["set-cookie"]
    assert "notifier_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # NOTIFIER_PUBLIC_URL is http here
    home = await visitor.get("/console/")
    assert home.status_code == 200
    assert "7А" in home.text and "7Б" not in home.text  # only her own class
    assert "Анна Петровна" in home.text
    for header in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert header in home.headers


async def test_a_link_works_once_and_for_fifteen_minutes(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    clock: FakeClock,
) -> None:
    await school(api)
    link = await ask_link(visitor, smtp, "anna@school1.ru")
    token = await csrf_of(visitor, f"/console/signin/link/{link}")
    assert (
        await visitor.post(f"/console/signin/link/{link}", data={"csrf": token})
    ).status_code == 303
    again = await visitor.post(f"/console/signin/link/{link}", data={"csrf": token})
    assert again.status_code == 410 and "уже использована" in again.text

    late = await ask_link(visitor, smtp, "anna@school1.ru")
    clock.advance(15 * 60 + 1)
    page = await visitor.get(f"/console/signin/link/{late}")
    assert page.status_code == 410 and "истёк" in page.text
    assert 'href="/console/signin"' in page.text  # and how to get a new one

    unknown = await visitor.get("/console/signin/link/not-a-real-link")
    assert unknown.status_code == 404 and "не действует" in unknown.text

    # A newer link voids the older one.
    first = await ask_link(visitor, smtp, "anna@school1.ru")
    await ask_link(visitor, smtp, "anna@school1.ru")
    assert (await visitor.get(f"/console/signin/link/{first}")).status_code == 410

    # Stored as hashes only.
    async with runtime.sessions() as session:
        hashes = list(await session.scalars(select(ConsoleLink.token_hash)))
        assert link not in hashes and all(len(h) == 64 for h in hashes)
        cookies = list(await session.scalars(select(ConsoleSession.token_hash)))
        assert visitor.cookies.get("notifier_session") not in cookies


async def test_unknown_address_gets_the_same_answer_and_no_mail(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    token = await csrf_of(visitor, "/console/signin")
    answer = await visitor.post(
        "/console/signin", data={"email": "nobody@school1.ru", "csrf": token}
    )
    assert answer.status_code == 200 and "Проверьте почту" in answer.text
    assert smtp.messages == []
    bad = await visitor.post("/console/signin", data={"email": "not an address", "csrf": token})
    assert bad.status_code == 422 and "not an address" in bad.text


async def test_forms_without_the_csrf_token_are_refused(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    await visitor.get("/console/signin")
    refused = await visitor.post("/console/signin", data={"email": "anna@school1.ru"})
    assert refused.status_code == 403 and "Обновите страницу" in refused.text
    assert smtp.messages == []
    await sign_in(visitor, smtp, "anna@school1.ru")
    out = await visitor.post("/console/signout", data={"csrf": "forged"})
    assert out.status_code == 403
    assert (await visitor.get("/console/")).status_code == 200  # still signed in


async def test_idle_session_ends_and_sign_out_ends_it(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock
) -> None:
    await school(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    clock.advance(59 * 60)
    assert (await visitor.get("/console/")).status_code == 200  # activity keeps it alive
    clock.advance(61 * 60)
    assert (await visitor.get("/console/")).status_code == 303  # idle for over an hour

    await sign_in(visitor, smtp, "anna@school1.ru")
    token = await csrf_of(visitor, "/console/")
    out = await visitor.post("/console/signout", data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/console/signin"
    assert (await visitor.get("/console/")).status_code == 303


async def test_an_admin_ends_a_teachers_sessions(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    await sign_in(visitor, smtp, "anna@school1.ru")
    ended = await api.delete("/v1/staff/t1/console-sessions")
    assert ended.status_code == 200 and ended.json() == {"ended": 1}
    assert (await visitor.get("/console/")).status_code == 303


async def test_bootstrap_admin_signs_in_with_the_admin_token(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    await school(api)
    token = await csrf_of(visitor, "/console/signin")
    wrong = await visitor.post("/console/signin/admin", data={"token": "x" * 40, "csrf": token})
    assert wrong.status_code == 401 and "не подошёл" in wrong.text
    right = await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    assert right.status_code == 303
    home = await visitor.get("/console/")
    assert "7А" in home.text and "7Б" in home.text


async def test_english_for_staff_whose_locale_is_en(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await school(api)
    link = await ask_link(visitor, smtp, "other@school1.ru")
    assert "sign-in link" in smtp.messages[-1].message["Subject"].lower()
    token = await csrf_of(visitor, f"/console/signin/link/{link}")
    await visitor.post(f"/console/signin/link/{link}", data={"csrf": token})
    home = await visitor.get("/console/")
    assert "My classes" in home.text and 'lang="en"' in home.text


async def test_wrong_links_are_throttled_like_wrong_tokens(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, settings: Settings
) -> None:
    for _ in range(settings.auth_failures_per_minute):
        await visitor.get("/console/signin/link/guess")
    blocked = await visitor.get("/console/signin/link/guess")
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


async def test_bootstrap_admin_invites_a_teacher_and_ends_their_sessions(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    settings: Settings,
    runtime: Runtime,
) -> None:
    await school(api)
    token = await csrf_of(visitor, "/console/signin")
    await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    page = await visitor.get("/console/staff")
    assert page.status_code == 200 and "Анна Петровна" in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    invited = await visitor.post("/console/staff/t1/invite", data={"csrf": token})
    assert invited.status_code == 303
    assert "Ссылка отправлена." in (await visitor.get(invited.headers["location"])).text
    assert smtp.messages[-1].rcpt_tos == ["Anna@school1.ru"]
    link = LINK.search(smtp.messages[-1].message.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]

    async with teacher_client(settings, runtime) as teacher:
        confirm = await csrf_of(teacher, f"/console/signin/link/{link}")
        await teacher.post(f"/console/signin/link/{link}", data={"csrf": confirm})
        assert (await teacher.get("/console/")).status_code == 200
        assert (await teacher.get("/console/staff")).status_code == 403  # teachers do not
        ended = await visitor.post("/console/staff/t1/end-sessions", data={"csrf": token})
        assert ended.status_code == 303
        assert (await teacher.get("/console/")).status_code == 303


async def test_a_region_admin_chooses_the_school_the_pages_show(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    await school(api)
    await put_school(api, "s2", {"name": "Школа № 2"})
    token = await csrf_of(visitor, "/console/signin")
    await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    page = await visitor.get("/console/schools")
    assert "Школа № 1" in page.text and "Школа № 2" in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    chosen = await visitor.post(
        "/console/schools", data={"csrf": token, "school_id": "s2", "back": "//evil.example/x"}
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/console/"
    page = await visitor.get("/console/schools")
    assert 'aria-current="true">Школа № 2' in page.text
    missing = await visitor.post("/console/schools", data={"csrf": token, "school_id": "nope"})
    assert missing.status_code == 404
