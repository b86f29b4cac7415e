"""The signed settings page for parents without a bot (issue 19): /p/<token> shows a guardian's
mode per category and quiet hours, a posted form saves what changed (audited as the guardian's
own, via the settings link) and nothing when any of it is invalid; an altered, expired or
another guardian's link, and a guardian without consent, get a page that says what to do and
no form. Emails and the week's page (the SMS's link) lead to it."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from notifier.api.app import create_app
from notifier.categories import ALL_CATEGORIES
from notifier.config import Settings
from notifier.db.models import AuditEntry
from notifier.runtime import Runtime, run_until_idle
from notifier.summaries import plan_weekly
from notifier.unsubscribe import SETTINGS_LINK_AGE, Links, load_links, signing_key
from tests.conftest import FakeClock
from tests.factories import (
    attendance,
    mark,
    post_batch,
    pupil_with_guardian,
    put,
    school_with_class,
)
from tests.servers.smtp_server import SmtpServer

CHECKED = re.compile(r'name="(\w+)" value="(\w+)" checked')


@pytest.fixture
async def public(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A parent's browser: no token."""
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as client:
        yield client


async def _links(runtime: Runtime) -> Links:
    async with runtime.sessions() as session:
        return await load_links(session, runtime.settings)


async def _link(runtime: Runtime, guardian_id: str) -> str:
    """The path of the guardian's settings link, as an email carries it."""
    url = (await _links(runtime)).settings_url(guardian_id)
    assert url.startswith(f"{runtime.settings.public_url}/p/")
    return urlsplit(url).path


async def _names(runtime: Runtime, url: str) -> str:
    """The guardian a settings link (the whole URL) is for; its token carries the second it
    was made, so two links for one guardian may differ."""
    prefix = f"{runtime.settings.public_url}/p/"
    assert url.startswith(prefix), url
    return (await _links(runtime)).settings_guardian(url.removeprefix(prefix))


async def _family(api: httpx.AsyncClient) -> None:
    """s17 sends every journal category at once (its subscriptions); g-1 (st-1) and g-2
    (st-2) have consent and email."""
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await pupil_with_guardian(api, "st-2", "g-2", full_name="Сидоров Пётр Ильич")


def _checked(page: str) -> dict[str, str]:
    return dict(CHECKED.findall(page))


async def _preferences(api: httpx.AsyncClient, guardian_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/guardians/{guardian_id}/preferences")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _trail(runtime: Runtime, guardian_id: str) -> list[AuditEntry]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.subject_type == "guardian",
                    AuditEntry.subject_id == guardian_id,
                    AuditEntry.action.like("preferences.%"),
                )
                .order_by(AuditEntry.id)
            )
        )


async def _entries(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _altered(token: str) -> str:
    """The token with one character of its signature changed. Not the last: in base64 its low
    bits are padding, and a change there may decode to the same signature."""
    i = len(token) - 10
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


async def test_a_guardian_sees_their_modes_and_saves_a_change_that_is_audited(
    api: httpx.AsyncClient, runtime: Runtime, public: httpx.AsyncClient
) -> None:
    await _family(api)
    path = await _link(runtime, "g-1")

    page = await public.get(path)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]
    text = page.text
    assert '<html lang="ru">' in text and "<script" not in text
    assert "<h1>Настройки уведомлений</h1>" in text and "Школа № 17" in text
    # The current effective mode of every category is the checked one.
    effective = (await _preferences(api, "g-1"))["categories"]
    assert _checked(text) == {**effective, "quiet": "school"}
    assert set(_checked(text)) == {*ALL_CATEGORIES, "quiet"}
    for title in (
        "Сразу",
        "В итогах дня (15:30)",
        "Вечером (19:00)",
        "По субботам",
        "Не присылать",
        "Как в школе (21:00–08:00)",
        "<legend>Оценки</legend>",
        "<legend>Итоги недели</legend>",
    ):
        assert title in text, title
    assert 'name="summary" value="report"' not in text  # the summary: Saturdays or off
    assert "Сохранено" not in text

    # The form as a browser posts it: every category (most unchanged), and own quiet hours
    # typed on a phone without a time picker ("7:00").
    form = {**effective, "marks": "digest", "homework": "off"}
    form |= {"quiet": "own", "quiet_start": "22:00", "quiet_end": "7:00"}
    saved = await public.post(path, data=form)
    assert saved.status_code == 200, saved.text
    assert "Сохранено" in saved.text
    assert _checked(saved.text)["marks"] == "digest"
    assert _checked(saved.text)["quiet"] == "own"
    assert 'name="quiet_start" value="22:00"' in saved.text
    assert 'name="quiet_end" value="07:00"' in saved.text

    mine = await _preferences(api, "g-1")
    assert mine["categories"] == {**effective, "marks": "digest", "homework": "off"}
    assert mine["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert (await _preferences(api, "g-2"))["categories"] == effective

    # One entry per change, as the guardian's own, ids and choices only: the modes posted back
    # unchanged are not pinned as the guardian's (they still follow the school).
    trail = await _trail(runtime, "g-1")
    assert [(e.action, e.actor_role, e.actor_token_id) for e in trail] == [
        ("preferences.mode", "guardian", None),
        ("preferences.mode", "guardian", None),
        ("preferences.quiet_hours", "guardian", None),
    ]
    modes = sorted((e.detail or {})["category"] for e in trail[:2])
    assert modes == ["homework", "marks"]
    assert all((e.detail or {})["via"] == "settings_link" for e in trail[:2])
    assert (trail[0].detail or {})["student_id"] is None
    assert (trail[2].detail or {})["quiet_hours"] == ["22:00", "07:00"]

    # The same form again changes nothing, so the trail grows by nothing.
    again = await public.post(path, data={**form, "quiet_end": "07:00"})
    assert again.status_code == 200 and "Сохранено" in again.text
    assert len(await _trail(runtime, "g-1")) == 3

    # Back to the school's quiet hours.
    back = await public.post(path, data={"quiet": "school"})
    assert back.status_code == 200 and _checked(back.text)["quiet"] == "school"
    assert (await _preferences(api, "g-1"))["quiet_hours"] is None


async def test_an_altered_or_expired_link_is_refused_with_a_page_and_changes_nothing(
    api: httpx.AsyncClient, runtime: Runtime, settings: Settings, public: httpx.AsyncClient
) -> None:
    await _family(api)
    path = await _link(runtime, "g-1")
    token = path.removeprefix("/p/")
    async with runtime.sessions() as session:
        key = await signing_key(session, settings)
        links = await load_links(session, settings)
    before = await _entries(runtime)

    flipped = _altered(token)
    unsubscribe = links.token("g-1", ["marks"])  # signed by us, but not a settings link
    other_key = Links("k" * 40, settings.public_url).settings_url("g-1").rsplit("/", 1)[-1]
    for bad in (flipped, token[:-5], unsubscribe, other_key, "x", "not.a.token"):
        for answer in (await public.get(f"/p/{bad}"), await public.post(f"/p/{bad}", data={})):
            assert answer.status_code == 404, bad
            assert "Ссылка недействительна" in answer.text, bad
            assert "попросите новую ссылку" in answer.text
            assert "<form" not in answer.text
            assert answer.headers["cache-control"] == "no-store"

    def signed(age: timedelta) -> str:
        then = datetime.now(UTC) - age
        url = Links(key, settings.public_url, clock=lambda: then).settings_url("g-1")
        return urlsplit(url).path

    assert (await public.get(signed(SETTINGS_LINK_AGE - timedelta(hours=1)))).status_code == 200
    expired = signed(SETTINGS_LINK_AGE + timedelta(hours=1))
    for answer in (
        await public.get(expired),
        await public.post(expired, data={"marks": "off"}),
    ):
        assert answer.status_code == 410
        assert "Срок ссылки истёк" in answer.text and "самого нового письма" in answer.text
        assert "<form" not in answer.text
    # An expired link altered is only an altered one.
    altered = _altered(expired)
    assert (await public.get(altered)).status_code == 404

    assert await _entries(runtime) == before
    assert (await _preferences(api, "g-1"))["categories"]["marks"] == "instant"


async def test_another_guardians_link_changes_only_that_guardian(
    api: httpx.AsyncClient, runtime: Runtime, public: httpx.AsyncClient
) -> None:
    await _family(api)
    theirs = await _link(runtime, "g-2")
    answer = await public.post(theirs, data={"marks": "off"})
    assert answer.status_code == 200 and "Сохранено" in answer.text
    assert (await _preferences(api, "g-2"))["categories"]["marks"] == "off"
    assert (await _preferences(api, "g-1"))["categories"]["marks"] == "instant"
    assert await _trail(runtime, "g-1") == []
    # g-2's signature under g-1's id is no link at all.
    mine = (await _link(runtime, "g-1")).removeprefix("/p/")
    forged = mine.split(".")[0] + "." + ".".join(theirs.removeprefix("/p/").split(".")[1:])
    assert (await public.post(f"/p/{forged}", data={"marks": "off"})).status_code == 404
    assert (await _preferences(api, "g-1"))["categories"]["marks"] == "instant"


async def test_without_consent_or_without_a_guardian_there_is_no_form(
    api: httpx.AsyncClient, runtime: Runtime, public: httpx.AsyncClient
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", consent=False)
    path = await _link(runtime, "g-1")
    before = await _entries(runtime)
    for answer in (await public.get(path), await public.post(path, data={"marks": "off"})):
        assert answer.status_code == 403
        assert "Нет согласия на обработку данных" in answer.text
        assert "<form" not in answer.text and "Оценки" not in answer.text
    assert await _entries(runtime) == before
    assert (await _preferences(api, "g-1"))["categories"]["marks"] == "instant"

    # Consent given: the same link opens the form; withdrawn: it closes again.
    consent = {"document": "Заявление № 2"}
    assert (await api.post("/v1/guardians/g-1/consent", json=consent)).status_code == 201
    assert (await public.get(path)).status_code == 200
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 204
    assert (await public.get(path)).status_code == 403

    # A guardian we do not know (erased, or never): the link no longer works.
    gone = await public.get(await _link(runtime, "g-erased"))
    assert gone.status_code == 404 and "Ссылка больше не действует" in gone.text
    assert "<form" not in gone.text


async def test_an_invalid_form_is_refused_whole_and_says_what_is_wrong(
    api: httpx.AsyncClient, runtime: Runtime, public: httpx.AsyncClient
) -> None:
    await _family(api)
    path = await _link(runtime, "g-1")
    effective = (await _preferences(api, "g-1"))["categories"]
    before = await _entries(runtime)
    # Each form has a valid change (marks off) beside one thing wrong: nothing is saved.
    for form, wanted in (
        ({"homework": "sometimes"}, "«Домашние задания»: варианта «sometimes» нет"),
        ({"summary": "instant"}, "«Итоги недели»: варианта «instant» нет"),
        ({"weather": "instant"}, "в форме есть поле «weather»"),
        ({"quiet": "own", "quiet_start": "25:00", "quiet_end": "07:00"}, "ЧЧ:ММ"),
        ({"quiet": "own", "quiet_start": "22:00"}, "ЧЧ:ММ"),
        ({"quiet": "always"}, "«Как в школе» или «Свои»"),
    ):
        answer = await public.post(path, data={"marks": "off", **form})
        assert answer.status_code == 400, form
        assert "Не сохранено" in answer.text and wanted in answer.text, (form, answer.text)
        assert "Сохранено" not in answer.text.replace("Не сохранено", "")
        assert _checked(answer.text)["marks"] == effective["marks"]  # the stored choice
    # Two values for one category (a crafted body).
    twice = await public.post(
        path,
        content="marks=off&marks=digest",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400 and "«Оценки»: выберите один вариант" in twice.text
    # What a page shows back is escaped.
    hostile = await public.post(path, data={"marks": "<b>x</b>"})
    assert hostile.status_code == 400
    assert "<b>x</b>" not in hostile.text and "&lt;b&gt;x&lt;/b&gt;" in hostile.text

    assert await _entries(runtime) == before
    assert (await _preferences(api, "g-1"))["categories"] == effective
    assert (await _preferences(api, "g-1"))["quiet_hours"] is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_page_speaks_english_shows_the_schools_times_and_escapes(
    api: httpx.AsyncClient, runtime: Runtime, public: httpx.AsyncClient
) -> None:
    hostile = "Школа <script>alert(1)</script>"
    body = {
        "name": hostile,
        "digest_time": "18:30",
        "day_report_time": "14:00",
        "quiet_hours": {"start": "22:00", "end": "07:30"},
    }
    await put(api, "/v1/schools/s17", body)
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б"})
    await put(
        api, "/v1/students/st-1", {"school_id": "s17", "class_id": "7b", "full_name": "Петров Иван"}
    )
    await put(
        api,
        "/v1/guardians/g-1",
        {"full_name": "Anna", "email": "g-1@example.org", "locale": "en", "student_ids": ["st-1"]},
    )
    assert (await api.post("/v1/guardians/g-1/consent", json={"document": "D"})).status_code == 201
    page = await public.get(await _link(runtime, "g-1"))
    assert page.status_code == 200
    text = page.text
    assert '<html lang="en">' in text and "<h1>Notification settings</h1>" in text
    for title in (
        "In the day's report (14:00)",
        "In the evening (18:30)",
        "As the school's (22:00–07:30)",
        "<legend>Marks</legend>",
    ):
        assert title in html.unescape(text), title
    assert hostile not in text and "&lt;script&gt;" in text and "<script" not in text
    saved = await public.post(await _link(runtime, "g-1"), data={"marks": "report"})
    assert saved.status_code == 200 and "Saved" in saved.text
    assert (await _preferences(api, "g-1"))["categories"]["marks"] == "report"


async def test_a_per_child_choice_is_named_and_left_as_it_is(
    api: httpx.AsyncClient, runtime: Runtime, public: httpx.AsyncClient
) -> None:
    await school_with_class(api)
    await put(api, "/v1/students/st-2", {"school_id": "s17", "full_name": "Петрова Мария"})
    await pupil_with_guardian(api, "st-1", "g-1", extra_students=("st-2",))
    own = {"per_student": {"st-2": {"marks": "off"}}}
    assert (await api.put("/v1/guardians/g-1/preferences", json=own)).status_code == 200
    path = await _link(runtime, "g-1")
    page = await public.get(path)
    assert "Для отдельных детей выбрано по-своему" in page.text
    assert (await public.post(path, data={"marks": "digest"})).status_code == 200
    mine = await _preferences(api, "g-1")
    assert mine["categories"]["marks"] == "digest"
    assert mine["per_student"] == {"st-2": {"marks": "off"}}


async def test_the_weeks_page_links_to_the_settings_page(
    api: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    public: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    """An SMS-only parent's week (the SMS goes to the file outbox): its page links to their
    settings, and that link opens them."""
    await school_with_class(api)
    pupil = {"school_id": "s17", "class_id": "7b", "full_name": "Петров Иван"}
    await put(api, "/v1/students/st-1", pupil)
    phone = "+79161234567"
    await put(
        api, "/v1/guardians/g-1", {"full_name": "Петрова", "phone": phone, "student_ids": ["st-1"]}
    )
    assert (await api.post("/v1/guardians/g-1/consent", json={"document": "D"})).status_code == 201
    assert (await post_batch(api, [mark("st-1")])).status_code == 202
    await run_until_idle(runtime)
    clock.now = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # Saturday, 19:00 in Moscow
    async with runtime.sessions() as session:
        planned = await plan_weekly(session=session, now=clock.now, public_url=settings.public_url)
    assert planned == 1
    await run_until_idle(runtime)
    texts = [
        json.loads(p.read_text())["text"] for p in (settings.outbox_dir / "sms").glob("*.json")
    ]
    [link] = [t.rsplit(" ", 1)[-1] for t in texts if "/s/" in t]
    week = await public.get(urlsplit(link).path)
    assert week.status_code == 200, week.text
    found = re.search(r'<a href="([^"]+/p/[^"]+)">Настроить уведомления</a>', week.text)
    assert found, week.text
    assert await _names(runtime, found[1]) == "g-1"
    page = await public.get(urlsplit(found[1]).path)
    assert page.status_code == 200 and "<h1>Настройки уведомлений</h1>" in page.text


async def test_an_email_carries_its_guardians_settings_link(
    api: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    public: httpx.AsyncClient,
    smtp: SmtpServer,
) -> None:
    """Passes once dispatch puts `settings_url` into every email's context."""
    await _family(api)
    assert (await post_batch(api, [attendance("st-1", "2026-11-23", "absent")])).status_code == 202
    await run_until_idle(runtime)
    [mail] = await smtp.wait_for(1)
    assert mail.rcpt_tos == ["g-1@parents.example.org"]
    plain = mail.message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    body = mail.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"^Настроить уведомления: (\S+)$", plain, re.MULTILINE)
    assert found, plain
    assert await _names(runtime, found[1]) == "g-1"
    assert "обратитесь к классному руководителю" not in plain
    assert f'<a href="{found[1]}" style="color:#6b7280;">Настроить уведомления</a>' in body
    assert (await public.get(urlsplit(found[1]).path)).status_code == 200
