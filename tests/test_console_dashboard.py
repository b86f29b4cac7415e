"""The admin's dashboard ("Running") as an admin meets it: journal events posted to
POST /v1/events and delivered by the real pump through the local SMTP and Bot API servers, then
the figures on the page: events by category, messages per channel, the failure after an SMTP
rejection, the skips, the queue, the two charts; a school's admin sees their school only, the
region's admin the whole region; teachers are refused."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from pydantic import SecretStr

from notifier.auth import Role, create_token
from notifier.config import Settings
from notifier.db.models import Guardian
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN, FakeClock
from tests.console_client import CSRF, csrf_of, sign_in, teacher_client, visitor
from tests.factories import (
    attendance,
    consume_all,
    mark,
    post_structured,
    pupil_with_guardian,
    put,
    put_school,
)
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

__all__ = ["visitor"]


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0,
        }
    )


async def _two_schools(api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer) -> None:
    """School 1: a guardian on Telegram, one by email, one whose mailbox refuses mail, one
    without consent, and its admin. School 2: one guardian by email."""
    await put_school(api, "s1", {"name": "Школа № 1"})
    await put_school(api, "s2", {"name": "Школа № 2"})
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А"})
    await put(api, "/v1/classes/9a", {"school_id": "s2", "name": "9А"})
    await put(
        api,
        "/v1/staff/head",
        {"school_id": "s1", "full_name": "Завуч", "role": "admin", "email": "head@school1.ru"},
    )
    await put(
        api,
        "/v1/staff/t1",
        {"school_id": "s1", "full_name": "Учитель", "email": "teacher@school1.ru"},
    )
    for pupil, guardian, consent in (
        ("p1", "g1", True),
        ("p2", "g2", True),
        ("p3", "g3", True),
        ("p4", "g4", False),
    ):
        await pupil_with_guardian(api, pupil, guardian, klass="7a", school="s1", consent=consent)
    await pupil_with_guardian(api, "q1", "h1", klass="9a", school="s2")
    async with runtime.sessions() as session:
        g1 = await session.get(Guardian, "g1")
        assert g1 is not None
        g1.telegram_chat_id, g1.telegram_bot_id = "5001", str(bot_api.bot_id)
        await session.commit()


async def _a_day_of_journal(api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer) -> None:
    """Five marks (four pupils of school 1, one of school 2), a presence (no message), and a
    mark for a pupil school 1's own journal token names before the roster has them."""
    smtp.reject_recipient("g3@parents.example.org")
    for pupil in ("p1", "p2", "p3", "p4", "q1"):
        assert (await post_structured(api, mark(pupil))).status_code == 202
    assert (
        await post_structured(api, attendance("p1", "2026-11-23", "present"))
    ).status_code == 202
    async with runtime.sessions() as session:
        token, _ = await create_token(session=session, role=Role.integration, school_id="s1")
    own = await api.post(
        "/v1/events",
        content=json.dumps(mark("x")),
        headers={
            "Content-Type": "application/cloudevents+json",
            "Authorization": f"Bearer {token}",
        },
    )
    assert own.status_code == 202, own.text


def _figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"[^>]*>(?:<a [^>]*>)?([^<]*)<', page)
    assert found, f"no figure {name!r} on the page"
    return found.group(1).strip()


def _cell(page: str, attribute: str, value: str) -> int:
    found = re.search(rf'data-{attribute}="{value}">(\d+)<', page)
    assert found, f"no {attribute} {value!r} on the page"
    return int(found.group(1))


def _bars(page: str, chart: str) -> list[int]:
    svg = re.search(rf'<svg class="bars"[^>]*data-chart="{chart}".*?</svg>', page, re.S)
    assert svg, f"no {chart} chart"
    return [int(n) for n in re.findall(r'<g class="bar" data-total="(\d+)"', svg.group(0))]


async def _as_bootstrap_admin(visitor: httpx.AsyncClient) -> None:
    token = await csrf_of(visitor, "/console/signin")
    signed = await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    assert signed.status_code == 303


async def _choose(visitor: httpx.AsyncClient, school_id: str) -> None:
    page = await visitor.get("/console/schools?back=/dashboard")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    chosen = await visitor.post(
        "/console/schools", data={"csrf": token, "school_id": school_id, "back": "/dashboard"}
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/console/dashboard"


async def test_the_dashboard_counts_a_days_events_messages_failures_and_skips(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _two_schools(api, runtime, bot_api)
    await _a_day_of_journal(api, runtime, smtp)
    await pump()
    assert len(bot_api.accepted) == 1
    await _as_bootstrap_admin(visitor)
    await _choose(visitor, "s1")
    page = (await visitor.get("/console/dashboard")).text
    assert "Школа № 1: работа сервиса" in page
    # In: four marks and the unmatched one (school 1's token), the presence; not school 2's.
    assert _figure(page, "events") == "6"
    assert _cell(page, "category", "marks") == 5
    assert _cell(page, "category", "attendance") == 1
    assert "Не нашли ученика или класс: 1." in page and 'href="/console/unmatched"' in page
    # Out: Telegram for g1, email for g2; g3's mailbox refused, g4 gave no consent.
    assert _figure(page, "sent") == "2"
    assert _cell(page, "channel", "telegram") == 1
    assert _cell(page, "channel", "email") == 1
    assert _cell(page, "channel", "sms") == 0
    failed = re.search(r'data-table="failed-messages".*?</table>', page, re.S)
    assert failed and "<code>email: smtp 550</code></th><td>1</td>" in failed.group(0)
    attempts = re.search(r'data-table="failed-attempts".*?</table>', page, re.S)
    assert attempts and "<code>smtp 550</code></td><td>окончательная</td><td>1</td>" in (
        attempts.group(0)
    )
    assert "g3@parents" not in page and "Mailbox unavailable" not in page
    assert _cell(page, "skipped", "no_consent") == 1
    assert _cell(page, "skipped", "opted_out") == 0
    # Nothing waits: everything went, the stream is read and acknowledged.
    assert _figure(page, "due") == "0" and _figure(page, "oldest") == "—"
    assert _figure(page, "stream") == "7"
    assert _figure(page, "lag") == "0" and _figure(page, "pending") == "0"
    # The charts: a bar per hour and per day, this hour's and today's holding the two.
    hours, days = _bars(page, "hours"), _bars(page, "days")
    assert len(hours) == 24 and hours[-1] == 2 and sum(hours) == 2
    assert len(days) == 30 and days[-1] == 2 and sum(days) == 2
    assert '<title id="hours-title">' in page and '<desc id="days-desc">' in page
    assert 'aria-labelledby="hours-title hours-desc"' in page
    assert "<summary>Числа графика</summary>" in page
    assert re.search(r'<rect class="ch-telegram" x="[\d.]+" y="[\d.]+"', page)
    assert "style=" not in page  # the CSP allows no inline style
    for target in ("dead-letters", "unmatched", "deliveries", "audit", "tokens", "sessions"):
        assert f'href="/console/{target}"' in page


async def test_a_school_admin_sees_their_school_and_the_region_admin_all_schools(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    settings: Settings,
    pump,
) -> None:
    await _two_schools(api, runtime, bot_api)
    await _a_day_of_journal(api, runtime, smtp)
    await pump()
    await _as_bootstrap_admin(visitor)
    region = (await visitor.get("/console/dashboard")).text
    assert "Весь регион: работа сервиса" in region and "Выбрать школу" in region
    assert _cell(region, "channel", "email") == 2  # school 2's guardian too
    assert _figure(region, "sent") == "3" and _figure(region, "events") == "7"
    assert _figure(region, "dead") == "0"
    await _choose(visitor, "s2")
    other = (await visitor.get("/console/dashboard")).text
    assert "Школа № 2: работа сервиса" in other and _figure(other, "sent") == "1"
    assert 'href="/console/dashboard?region=true"' in other
    again = (await visitor.get("/console/dashboard?region=true")).text
    assert "Весь регион: работа сервиса" in again and _figure(again, "sent") == "3"
    assert 'hx-get="/console/dashboard?region=true"' in again

    async with teacher_client(settings, runtime) as head:
        await sign_in(head, smtp, "head@school1.ru")
        own = (await head.get("/console/dashboard")).text
        assert "Школа № 1: работа сервиса" in own and "Выбрать школу" not in own
        assert _cell(own, "channel", "email") == 1 and _figure(own, "sent") == "2"
        assert 'data-figure="dead"' not in own  # the dead letters are counted for the region
        # Asking for the region gives a school's admin their own school still.
        asked = (await head.get("/console/dashboard?region=true")).text
        assert "Школа № 1: работа сервиса" in asked and _figure(asked, "sent") == "2"


async def test_teachers_are_refused(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
) -> None:
    await _two_schools(api, runtime, bot_api)
    await sign_in(visitor, smtp, "teacher@school1.ru")
    page = await visitor.get("/console/dashboard")
    assert page.status_code == 403 and "Нет доступа" in page.text


async def test_the_queue_figures_and_the_refreshing_fragment(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    clock: FakeClock,
) -> None:
    await _two_schools(api, runtime, bot_api)
    for pupil in ("p1", "p2", "q1"):
        assert (await post_structured(api, mark(pupil))).status_code == 202
    await _as_bootstrap_admin(visitor)
    await _choose(visitor, "s1")
    page = (await visitor.get("/console/dashboard")).text
    assert _figure(page, "stream") == "3"
    assert _figure(page, "due") == "0"
    await consume_all(runtime)  # stored and planned; no delivery yet
    clock.advance(5 * 60 + 10)
    page = (await visitor.get("/console/dashboard")).text
    assert _figure(page, "lag") == "0" and _figure(page, "pending") == "0"
    assert _figure(page, "due") == "2"  # school 1's two; school 2's row is not counted
    assert _figure(page, "oldest") == "5 мин"
    assert 'hx-get="/console/dashboard" hx-trigger="every 30s"' in page
    fragment = await visitor.get("/console/dashboard", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<svg" not in fragment.text
    assert _figure(fragment.text, "due") == "2" and _figure(fragment.text, "events") == "2"


async def test_english_for_an_admin_whose_locale_is_en(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
) -> None:
    await _two_schools(api, runtime, bot_api)
    await put(
        api,
        "/v1/staff/head",
        {
            "school_id": "s1",
            "full_name": "Завуч",
            "role": "admin",
            "email": "head@school1.ru",
            "locale": "en",
        },
    )
    await sign_in(visitor, smtp, "head@school1.ru")
    page = (await visitor.get("/console/dashboard")).text
    assert "Школа № 1: running" in page and "Sent per hour over the last 24 hours" in page
    assert "No failures today." in page
