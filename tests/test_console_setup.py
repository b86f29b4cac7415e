"""The onboarding checklist and its five steps, as an admin without JavaScript meets them: the
checklist's counts, the school's settings, the bot (against the local Bot API server), the
roster CSV's dry run and import, staff and their invitations, the journal's token; and the
refusals (a wrong token, another school's records)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bots.dispatcher import build_dispatcher
from bots.webhook import PATH, SECRET_HEADER, mount
from notifier.auth import Role, create_token
from notifier.channels.telegram import bot_id
from notifier.config import Settings
from notifier.console.pages import setup_bot
from notifier.db.models import ApiToken, AuditEntry, School, SchoolClass, Staff, Student
from notifier.roster.preferences import CHANNELS
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.console_client import CSRF, LINK, csrf_of, sign_in, teacher_client, visitor
from tests.factories import cloud_event, pupil_with_guardian, put, put_school
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

__all__ = ["visitor"]

SECRET = "webhook-secret-0123456789abcdefghijkl"
ADMIN_EMAIL = "director@school1.ru"


@pytest.fixture
def school_bot(bot_api: BotApiServer) -> Iterator[BotApiServer]:
    """The school's own bot, answered by the same local Bot API as the service's."""
    other = BotApiServer(token="654321:SCHOOL-bot-token", username="school1_bot")
    bot_api.serve_also(other)
    yield other


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={"telegram_token": SecretStr(bot_api.token), "telegram_api_base": bot_api.base}
    )


async def _school(api: httpx.AsyncClient, school: str = "s1") -> None:
    """An empty school and its admin (a member of staff with the role admin): the school's
    defaults not yet saved, as the checklist counts them."""
    await put_school(api, school, {"name": "Школа № 1"}, quiet_defaults=True)
    await put(
        api,
        f"/v1/staff/{school}-admin",
        {"school_id": school, "full_name": "Директор", "role": "admin", "email": ADMIN_EMAIL},
    )


async def _admin(api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer) -> None:
    await _school(api)
    await sign_in(visitor, smtp, ADMIN_EMAIL)


async def _post(visitor: httpx.AsyncClient, path: str, page: str, **data: Any) -> httpx.Response:
    """A form on `page` posted to `path`, with the page's CSRF token."""
    token = await csrf_of(visitor, page)
    return await visitor.post(path, data={"csrf": token, **data})


async def _count(runtime: Runtime, stmt: Any) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(stmt) or 0)


async def _actions(runtime: Runtime) -> list[tuple[str, str | None]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor_staff_id).order_by(AuditEntry.id)
        )
        return [(a, s) for a, s in rows]


CSV = (
    "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email;consent_date\n"
    "s1;7a;p1;Орлова Мария;g1;Орлов Пётр;+79161234567;;01.09.2026\n"
    "s1;7a;p2;Белов Денис;g2;Белова Ольга;;not-an-email;\n"
    "s1;9z;p3;Чужой Ученик;g3;Чужая Мать;+79161234568;;\n"
    "s1;7a;p4;Смирнов Олег;g4;Смирнова Анна;;anna@parents.example.org;\n"
)


# -- the checklist -----------------------------------------------------------------------------


async def test_checklist_counts_change_as_steps_are_done(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _admin(api, visitor, smtp)
    page = (await visitor.get("/console/setup")).text
    assert "Подключение школы" in page and "Готово шагов: 1 из 5." in page  # staff: the admin
    for left in (
        "Настройки школы ещё не сохранялись",
        "Бота ещё нет",
        "Классов ещё нет",
        "Учеников ещё нет",
        "Токена для журнала ещё нет",
    ):
        assert left in page, left
    assert 'href="/console/setup/bot"' in page

    for klass in ("7a", "7b", "7v"):
        await put(api, f"/v1/classes/{klass}", {"school_id": "s1", "name": klass.upper()})
    await pupil_with_guardian(api, "p1", "g1", klass="7a", school="s1", consent=False)
    await pupil_with_guardian(api, "p2", "g2", klass="7a", school="s1", consent=False)
    await pupil_with_guardian(api, "p3", "g3", klass="7b", school="s1")
    await put(api, "/v1/students/p4", {"school_id": "s1", "class_id": "7v", "full_name": "Без Р"})
    page = (await visitor.get("/console/setup")).text
    assert "3 класса, 4 ученика, 3 родителя." in page
    assert "3 класса без классного руководителя" in page
    assert "2 родителя без согласия на обработку данных" in page
    assert "1 ученик без родителей в списке" in page
    assert "Классов ещё нет" not in page

    await put(
        api, "/v1/classes/7a", {"school_id": "s1", "name": "7A", "class_teacher_id": "s1-admin"}
    )
    await api.post("/v1/guardians/g1/consent", json={"document": "Заявление № 2"})
    page = (await visitor.get("/console/setup")).text
    assert "2 класса без классного руководителя" in page
    assert "1 родитель без согласия на обработку данных" in page


async def test_english_checklist(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _school(api)
    await put(
        api,
        "/v1/staff/s1-admin",
        {
            "school_id": "s1",
            "full_name": "Head",
            "role": "admin",
            "email": ADMIN_EMAIL,
            "locale": "en",
        },
    )
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7A"})
    await pupil_with_guardian(api, "p1", "g1", klass="7a", school="s1", consent=False)
    await sign_in(visitor, smtp, ADMIN_EMAIL)
    page = (await visitor.get("/console/setup")).text
    assert "1 class without a class teacher" in page
    assert "1 guardian without consent" in page
    assert "No bot yet" in page and "No integration token yet" in page


async def test_region_admin_chooses_a_school_first_and_teachers_may_not(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    settings: Settings,
    runtime: Runtime,
) -> None:
    await _school(api)
    await put(api, "/v1/staff/t1", {"school_id": "s1", "full_name": "Учитель", "email": "t@s1.ru"})
    token = await csrf_of(visitor, "/console/signin")
    await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    first = await visitor.get("/console/setup")
    assert first.status_code == 303 and first.headers["location"] == "/console/schools"
    await _post(visitor, "/console/schools", "/console/schools", school_id="s1")
    assert "Школа № 1" in (await visitor.get("/console/setup")).text

    async with teacher_client(settings, runtime) as teacher:
        await sign_in(teacher, smtp, "t@s1.ru")
        assert (await teacher.get("/console/setup")).status_code == 403
        assert (await teacher.get("/console/setup/journal")).status_code == 403


# -- 1. the school -----------------------------------------------------------------------------


async def test_school_settings_are_saved_through_the_apis_services(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _admin(api, visitor, smtp)
    page = (await visitor.get("/console/setup/school")).text
    assert '<option value="Europe/Moscow" selected>' in page
    form = {
        "timezone": "other",
        "timezone_other": "Mars/Olympus",
        "quiet_start": "22:00",
        "quiet_end": "07:30",
        "digest_time": "20:00",
        "day_report_time": "14:45",
        "edit_day_card_field": "true",
        "edit_day_card": "true",
        "mode_marks": "digest",
        "mode_summary": "off",
        "channel_1": "email",
        "channel_2": "max",
        "channel_3": "telegram",
        "channel_4": "sms",
    }
    refused = await _post(visitor, "/console/setup/school", "/console/setup/school", **form)
    assert refused.status_code == 422
    assert "IANA time zone" in refused.text and 'value="Mars/Olympus"' in refused.text
    twice = {**form, "timezone_other": "", "timezone": "Asia/Irkutsk", "channel_2": "email"}
    refused = await _post(visitor, "/console/setup/school", "/console/setup/school", **twice)
    assert refused.status_code == 422 and "only once" in refused.text

    saved = await _post(
        visitor,
        "/console/setup/school",
        "/console/setup/school",
        **{**form, "timezone_other": "Asia/Chita"},
    )
    assert (
        saved.status_code == 303 and saved.headers["location"] == "/console/setup/school?done=saved"
    )
    page = (await visitor.get(saved.headers["location"])).text
    assert "Настройки школы сохранены." in page and 'value="Asia/Chita"' in page
    # MAX is a choice of its own, by its name, in the order as saved.
    chosen = re.findall(r'<option value="(\w+)" selected>([^<]+)</option>', page)
    assert [c for c in chosen if c[0] in CHANNELS] == [
        ("email", "Почта"),
        ("max", "MAX"),
        ("telegram", "Telegram"),
        ("sms", "SMS"),
    ]
    async with runtime.sessions() as session:
        school = await session.get(School, "s1")
        assert school is not None
        assert (school.name, school.timezone, school.digest_time) == (
            "Школа № 1",
            "Asia/Chita",
            "20:00",
        )
        assert (school.quiet_start, school.quiet_end) == ("22:00", "07:30")
        assert school.day_report_time == "14:45" and school.edit_day_card
    assert 'name="edit_day_card" value="true" checked' in page
    unticked = {k: v for k, v in form.items() if k != "edit_day_card"}
    saved = await _post(
        visitor,
        "/console/setup/school",
        "/console/setup/school",
        **{**unticked, "timezone_other": "Asia/Chita"},
    )
    assert saved.status_code == 303
    async with runtime.sessions() as session:
        school = await session.get(School, "s1")
        assert school is not None and not school.edit_day_card
    subs = (await api.get("/v1/schools/s1/subscriptions")).json()
    assert subs["channels"] == ["email", "max", "telegram", "sms"]
    assert subs["categories"]["marks"] == "digest" and subs["categories"]["summary"] == "off"
    assert subs["set"]["categories"] == {"marks": "digest", "summary": "off"}  # the rest: defaults
    assert ("school.put", "s1-admin") in await _actions(runtime)
    assert ("subscriptions.set", "s1-admin") in await _actions(runtime)
    assert "Настройки школы ещё не сохранялись" not in (await visitor.get("/console/setup")).text


# -- 2. the bot --------------------------------------------------------------------------------


async def test_a_wrong_bot_token_is_refused_with_telegrams_reason(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    bot_api: BotApiServer,
    school_bot: BotApiServer,
) -> None:
    await _admin(api, visitor, smtp)
    page = "/console/setup/bot"
    wrong = await _post(visitor, page, page, token="654321:WRONG-token", mode="polling")
    assert wrong.status_code == 422
    assert "Telegram said 401 Unauthorized" in wrong.text and "@BotFather" in wrong.text
    assert "WRONG-token" not in wrong.text  # what was typed is not shown back
    malformed = await _post(visitor, page, page, token="just-some-text", mode="polling")
    assert malformed.status_code == 422 and "a bot token from @BotFather" in malformed.text
    # The service's own bot cannot be a school's.
    own = await _post(visitor, page, page, token=bot_api.token, mode="polling")
    assert own.status_code == 409 and "another school or the whole service" in own.text
    async with runtime.sessions() as session:
        school = await session.get(School, "s1")
        assert school is not None and school.telegram_token is None
    assert "Бота ещё нет" in (await visitor.get("/console/setup")).text


async def test_a_right_bot_token_shows_the_bot_and_is_stored(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    school_bot: BotApiServer,
) -> None:
    await _admin(api, visitor, smtp)
    page = "/console/setup/bot"
    saved = await _post(visitor, page, page, token=f"  {school_bot.token} ", mode="polling")
    assert saved.status_code == 303, saved.text
    shown = (await visitor.get(saved.headers["location"])).text
    assert "@school1_bot" in shown and "токен задан" in shown and "опрос (polling)" in shown
    assert school_bot.token not in shown and "SCHOOL-bot-token" not in shown
    methods = [c.method for c in school_bot.calls]
    assert "getMe" in methods and "deleteWebhook" in methods
    async with runtime.sessions() as session:
        school = await session.get(School, "s1")
        assert school is not None and school.telegram_token == school_bot.token
    assert ("school.put", "s1-admin") in await _actions(runtime)
    assert ("bot.polling", "s1-admin") in await _actions(runtime)
    assert "Бота ещё нет" not in (await visitor.get("/console/setup")).text

    # Webhook mode without the secret configured: refused, with what to do.
    refused = await _post(visitor, "/console/setup/bot/mode", page, mode="webhook")
    assert "webhook mode needs NOTIFIER_TELEGRAM_WEBHOOK_SECRET" in refused.text
    assert school_bot.webhook is None


async def test_webhook_mode_points_telegram_at_our_webhook_with_the_secret(
    api: httpx.AsyncClient,
    settings: Settings,
    smtp: SmtpServer,
    school_bot: BotApiServer,
    bot_api: BotApiServer,
) -> None:
    # The path the console registers is the one the API serves, with the school bot's id.
    assert setup_bot.WEBHOOK_PATH == PATH and SECRET_HEADER
    public = settings.model_copy(
        update={
            "public_url": "https://notifier.example",
            "telegram_webhook_secret": SecretStr(SECRET),
        }
    )
    from notifier.api.app import create_app
    from notifier.runtime import build_runtime

    runtime = build_runtime(public)
    try:
        app = create_app(public, runtime=runtime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://notifier.example"
        ) as browser:
            await _school(api)
            await sign_in(browser, smtp, ADMIN_EMAIL)
            page = "/console/setup/bot"
            saved = await _post(browser, page, page, token=school_bot.token, mode="webhook")
            assert saved.status_code == 303, saved.text
            assert school_bot.webhook is not None
            hook = f"/telegram/webhook/{bot_id(school_bot.token)}"
            assert school_bot.webhook.url == f"https://notifier.example{hook}"
            assert school_bot.webhook.secret_token == SECRET
            # An update Telegram posts there is answered by the school's bot.
            assert runtime.telegram is not None
            mount(
                app,
                dispatcher=build_dispatcher(public),
                bot=runtime.telegram.default_bot,
                runtime=runtime,
                secret=SECRET,
            )
            update = school_bot.user_message(4242, "/help")
            answered = await browser.post(hook, json=update, headers={SECRET_HEADER: SECRET})
            assert answered.status_code == 200
            assert school_bot.messages_to("4242") and not bot_api.messages_to("4242")
            unknown = await browser.post(
                "/telegram/webhook/999", json=update, headers={SECRET_HEADER: SECRET}
            )
            assert unknown.status_code == 404
            assert "вебхук" in (await browser.get(page)).text
            polled = await _post(browser, "/console/setup/bot/mode", page, mode="polling")
            assert polled.status_code == 303 and school_bot.webhook is None
    finally:
        await runtime.close()


# -- 3. classes and the roster -----------------------------------------------------------------


async def test_roster_dry_run_shows_numbered_errors_and_changes_nothing_then_imports(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _admin(api, visitor, smtp)
    page = "/console/setup/roster"
    bad = await _post(visitor, "/console/setup/classes", page, class_id="7 a", name="7А")
    assert bad.status_code == 422 and "без пробелов" in bad.text
    made = await _post(visitor, "/console/setup/classes", page, class_id="7a", name="7А")
    assert made.status_code == 303
    assert "1 класс без классного руководителя" in (await visitor.get("/console/setup")).text

    token = await csrf_of(visitor, page)
    checked = await visitor.post(
        "/console/setup/roster/check",
        data={"csrf": token},
        files={"file": ("roster.csv", CSV.encode(), "text/csv")},
    )
    assert checked.status_code == 200, checked.text
    text = checked.text
    assert "Строк в файле: 4; без ошибок: 2; с ошибками: 2." in text
    assert "Ученики: будет добавлено 2, изменено 0." in text
    assert re.search(r"<th scope=\"row\">3</th><td>[^<]*not-an-email", text), text
    assert re.search(r"<th scope=\"row\">4</th><td>[^<]*unknown class &#39;9z&#39;", text), text
    assert await _count(runtime, select(func.count()).select_from(Student)) == 0  # a dry run
    upload = re.search(r'name="upload" value="([^"]+)"', text)
    assert upload

    token = CSRF.search(text).group(1)  # type: ignore[union-attr]
    imported = await visitor.post(
        "/console/setup/roster/import", data={"csrf": token, "upload": upload.group(1)}
    )
    assert imported.status_code == 303
    done = (await visitor.get(imported.headers["location"])).text
    assert "Загружено строк: 2; пропущено строк с ошибками: 2." in done
    async with runtime.sessions() as session:
        assert set(await session.scalars(select(Student.id))) == {"p1", "p4"}
    assert ("roster.import", "s1-admin") in await _actions(runtime)
    page_text = (await visitor.get("/console/setup")).text
    assert "1 класс, 2 ученика, 2 родителя." in page_text
    assert "1 родитель без согласия на обработку данных" in page_text

    # The file is imported once: a second press finds it gone.
    again = await visitor.post(
        "/console/setup/roster/import", data={"csrf": token, "upload": upload.group(1)}
    )
    assert again.status_code == 410 and "Выберите его снова" in again.text
    forged = await visitor.post(
        "/console/setup/roster/import", data={"csrf": token, "upload": "../../etc/passwd"}
    )
    assert forged.status_code == 410


async def test_a_checked_file_waits_an_hour_at_most(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
) -> None:
    await _admin(api, visitor, smtp)
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А"})
    token = await csrf_of(visitor, "/console/setup/roster")
    checked = await visitor.post(
        "/console/setup/roster/check",
        data={"csrf": token},
        files={"file": ("roster.csv", CSV.encode(), "text/csv")},
    )
    [kept] = (settings.data_dir / "console" / "roster-uploads").glob("*.csv")
    assert kept.stat().st_mode & 0o077 == 0  # the service's user's alone
    two_hours_ago = time.time() - 7200
    os.utime(kept, (two_hours_ago, two_hours_ago))
    upload = re.search(r'name="upload" value="([^"]+)"', checked.text)
    assert upload
    late = await visitor.post(
        "/console/setup/roster/import", data={"csrf": token, "upload": upload.group(1)}
    )
    assert late.status_code == 410 and not kept.exists()
    assert await _count(runtime, select(func.count()).select_from(Student)) == 0


async def test_an_unusable_file_is_refused_with_the_reason(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _admin(api, visitor, smtp)
    token = await csrf_of(visitor, "/console/setup/roster")
    refused = await visitor.post(
        "/console/setup/roster/check",
        data={"csrf": token},
        files={"file": ("roster.csv", b"name;phone\nx;y\n", "text/csv")},
    )
    assert refused.status_code == 422 and "the header lacks column(s)" in refused.text
    sample = await visitor.get("/console/setup/roster/sample.csv")
    assert sample.status_code == 200 and "school_id;class_id" in sample.text
    assert "s1;7a;p-001" in sample.text


# -- 4. staff ----------------------------------------------------------------------------------


async def test_staff_added_lead_a_class_and_are_invited_by_email_and_telegram(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    bot_api: BotApiServer,
) -> None:
    await _admin(api, visitor, smtp)
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А"})
    page = "/console/setup/staff"
    refused = await _post(
        visitor, page, page, full_name="Анна Петровна", role="admin", email="nope", locale="ru"
    )
    assert refused.status_code == 422 and "email" in refused.text
    assert 'value="Анна Петровна"' in refused.text
    saved = await _post(
        visitor,
        page,
        page,
        staff_id="t1",
        full_name="Анна Петровна",
        role="teacher",
        email="Anna@School1.ru",
        locale="ru",
        classes="7a",
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/console/staff?done=saved"
    listing = (await visitor.get("/console/staff?done=saved")).text
    assert "Сотрудник сохранён." in listing and "Анна Петровна" in listing
    async with runtime.sessions() as session:
        staff = await session.get(Staff, "t1")
        klass = await session.get(SchoolClass, "7a")
        assert staff is not None and (staff.school_id, staff.role) == ("s1", "teacher")
        assert klass is not None and klass.class_teacher_id == "t1"
    assert "без классного руководителя" not in (await visitor.get("/console/setup")).text
    assert ("staff.put", "s1-admin") in await _actions(runtime)
    assert ("class.put", "s1-admin") in await _actions(runtime)

    # Edit: the form shows the member of staff; unticking the class leaves it without a teacher.
    form = (await visitor.get(f"{page}?staff_id=t1")).text
    assert 'value="Анна Петровна"' in form and 'value="7a" checked' in form
    await _post(
        visitor,
        page,
        f"{page}?staff_id=t1",
        staff_id="t1",
        existing="true",
        full_name="Анна Петровна",
        role="teacher",
        email="Anna@School1.ru",
        locale="en",
    )
    assert "1 класс без классного руководителя" in (await visitor.get("/console/setup")).text

    # Invited by email (the staff page's link), then by Telegram (a staff link code).
    before = len(smtp.messages)
    invited = await _post(visitor, "/console/staff/t1/invite", f"{page}?staff_id=t1")
    assert invited.status_code == 303 and len(smtp.messages) == before + 1
    assert smtp.messages[-1].rcpt_tos == ["Anna@school1.ru"]
    body = smtp.messages[-1].message.get_body(("plain",))
    assert body is not None and LINK.search(body.get_content())
    link = await _post(visitor, f"{page}/t1/telegram", "/console/staff")
    assert link.status_code == 200
    found = re.search(r"https://t\.me/notifier_test_bot\?start=([A-Za-z0-9_-]+)", link.text)
    assert found and f"/start {found.group(1)}" in link.text
    assert ("telegram_link.create", "s1-admin") in await _actions(runtime)


# -- 5. the journal ----------------------------------------------------------------------------


async def test_integration_token_is_shown_once_works_and_is_bound_to_the_school(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _admin(api, visitor, smtp)
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А"})
    await pupil_with_guardian(api, "p1", "g1", klass="7a", school="s1")
    await put_school(api, "s2", {"name": "Школа № 2"})
    await put(api, "/v1/classes/9b", {"school_id": "s2", "name": "9Б"})
    await pupil_with_guardian(api, "p9", "g9", klass="9b", school="s2")

    page = "/console/setup/journal"
    made = await _post(visitor, "/console/setup/journal/tokens", page, label="Журнал")
    assert made.status_code == 200
    found = re.search(r'id="new-token" class="secret" value="(ntf_[^"]+)"', made.text)
    assert found and 'data-copy="new-token"' in made.text and "setup.js" in made.text
    token = found.group(1)
    later = (await visitor.get(page)).text
    assert token not in later and "Журнал" in later and "действует" in later
    assert "Токена для журнала ещё нет" not in (await visitor.get("/console/setup")).text
    async with runtime.sessions() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.label == "Журнал"))
        assert row is not None and (row.role, row.school_id) == ("integration", "s1")
    # One entry, naming the admin (not the command line's "operator").
    assert [a for a in await _actions(runtime) if a[0] == "token.create"] == [
        ("token.create", "s1-admin")
    ]

    ours = cloud_event("journal.comment.created", {"student_id": "p1", "text": "Молодец"})
    theirs = cloud_event("journal.comment.created", {"student_id": "p9", "text": "Чужой"})
    posted = await api.post(
        "/v1/events",
        content=json.dumps([ours, theirs]),
        headers={
            "Content-Type": "application/cloudevents-batch+json",
            "Authorization": f"Bearer {token}",
        },
    )
    assert posted.status_code == 202, posted.text
    assert posted.json()["accepted"] == [ours["id"]]
    [rejected] = posted.json()["rejected"]
    assert rejected["id"] == theirs["id"] and "another school" in rejected["error"]

    revoked = await _post(visitor, f"/console/setup/journal/tokens/{row.id}/revoke", page)
    assert revoked.status_code == 303
    assert "Токен отозван" in (await visitor.get(revoked.headers["location"])).text
    again = await api.post(
        "/v1/events",
        content=json.dumps(ours),
        headers={
            "Content-Type": "application/cloudevents+json",
            "Authorization": f"Bearer {token}",
        },
    )
    assert again.status_code == 401
    assert ("token.revoke", "s1-admin") in await _actions(runtime)


async def test_a_role_the_api_gave_stays_when_the_form_saves(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _admin(api, visitor, smtp)
    await put(api, "/v1/staff/d1", {"school_id": "s1", "full_name": "Завуч", "role": "director"})
    page = "/console/setup/staff?staff_id=d1"
    form = (await visitor.get(page)).text
    assert '<option value="director" selected>director</option>' in form
    kept = await _post(
        visitor,
        "/console/setup/staff",
        page,
        staff_id="d1",
        existing="true",
        full_name="Завуч Иванова",
        role="director",
        locale="ru",
    )
    assert kept.status_code == 303
    other = await _post(
        visitor, "/console/setup/staff", page, staff_id="d2", full_name="Х", role="director"
    )
    assert other.status_code == 422 and "выберите учителя или администратора" in other.text
    async with runtime.sessions() as session:
        member = await session.get(Staff, "d1")
        assert member is not None and (member.full_name, member.role) == (
            "Завуч Иванова",
            "director",
        )


# -- scope ---------------------------------------------------------------------------------------


async def test_a_school_admin_cannot_open_another_schools_setup(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _admin(api, visitor, smtp)
    await put_school(api, "s2", {"name": "Школа № 2"})
    await put(api, "/v1/staff/x2", {"school_id": "s2", "full_name": "Чужой Учитель"})
    await put(api, "/v1/classes/9b", {"school_id": "s2", "name": "9Б"})
    async with runtime.sessions() as session:
        _, theirs = await create_token(session=session, role=Role.integration, school_id="s2")

    chosen = await _post(visitor, "/console/schools", "/console/setup", school_id="s2")
    assert chosen.status_code == 403
    setup = (await visitor.get("/console/setup")).text
    assert "Школа № 1" in setup and "Школа № 2" not in setup
    assert (await visitor.get("/console/setup/staff?staff_id=x2")).status_code == 403
    page = "/console/setup/staff"
    moved = await _post(visitor, page, page, staff_id="x2", full_name="Свой", role="teacher")
    assert moved.status_code == 403
    klass = await _post(
        visitor, "/console/setup/classes", "/console/setup/roster", class_id="9b", name="9Б"
    )
    assert klass.status_code == 403
    revoke = await _post(
        visitor, f"/console/setup/journal/tokens/{theirs.id}/revoke", "/console/setup/journal"
    )
    assert revoke.status_code == 403
    link = await _post(visitor, "/console/setup/staff/x2/telegram", page)
    assert link.status_code == 403

    # Rows of another school are refused row by row.
    token = await csrf_of(visitor, "/console/setup/roster")
    checked = await visitor.post(
        "/console/setup/roster/check",
        data={"csrf": token},
        files={"file": ("r.csv", CSV.replace("s1;7a;p1", "s2;9b;p1").encode(), "text/csv")},
    )
    assert "school &#39;s2&#39; is not yours" in checked.text

    async with runtime.sessions() as session:
        staff = await session.get(Staff, "x2")
        klass_row = await session.get(SchoolClass, "9b")
        token_row = await session.get(ApiToken, theirs.id)
        assert staff is not None and staff.full_name == "Чужой Учитель"
        assert klass_row is not None and klass_row.school_id == "s2"
        assert token_row is not None and token_row.revoked_at is None
