"""Telegram: linking through the bot, delivery, escaping, flood control, blocked chats."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from json import loads as json_loads
from typing import Any

import httpx
import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from pydantic import SecretStr

from bots.dispatcher import build_dispatcher
from bots.webhook import mount
from notifier.api.app import create_app
from notifier.config import Settings
from notifier.runtime import Runtime, run_until_idle
from notifier.summaries import plan_weekly
from tests.conftest import ADMIN_TOKEN, FakeClock
from tests.factories import (
    cloud_event,
    consume_all,
    mark,
    post_batch,
    post_structured,
    pupil_with_guardian,
    put,
    school_with_class,
)
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

CHAT = 700001


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0.2,
        }
    )


@pytest.fixture
def dp(settings: Settings) -> Dispatcher:
    return build_dispatcher(settings)


async def feed(dp: Dispatcher, runtime: Runtime, update: dict[str, Any]) -> None:
    assert runtime.telegram is not None
    await dp.feed_update(
        runtime.telegram.default_bot, Update.model_validate(update), runtime=runtime
    )


async def link(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    guardian: str = "g-1",
    chat: int = CHAT,
) -> str:
    r = await api.post(f"/v1/guardians/{guardian}/telegram-link")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"] == f"https://t.me/{bot_api.username}?start={body['code']}"
    await feed(dp, runtime, bot_api.user_message(chat, f"/start {body['code']}"))
    return str(body["code"])


def _attempts_to(bot_api: BotApiServer, chat: int) -> int:
    return sum(1 for m in bot_api.sent if m.chat_id == str(chat))


async def _family(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(
        api, "st-1", "g-1", email="mum@parents.example.org", full_name="Соколова Вера Андреевна"
    )


async def _two_children(api: httpx.AsyncClient) -> None:
    """The family of `_family`, with a second child of g-1 in the class."""
    await _family(api)
    await pupil_with_guardian(
        api,
        "st-2",
        "g-1",
        email="mum@parents.example.org",
        full_name="Соколов Пётр Андреевич",
        extra_students=("st-1",),
    )


async def test_linked_guardian_gets_every_kind_by_telegram_only(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _family(api)
    await link(api, dp, runtime, bot_api)
    [confirmation] = bot_api.messages_to(str(CHAT))
    assert "Вера" in confirmation.plain
    events = [
        mark("st-1", value="4", subject="Физика"),
        mark("st-1", value="2", subject="Биология", mark_id="upd-1"),
        cloud_event(
            "journal.homework.assigned",
            {
                "homework_id": "h1",
                "class_id": "7b",
                "subject": "История",
                "text": "Параграф 7",
                "due_date": "2026-11-25",
            },
        ),
        cloud_event(
            "journal.attendance.recorded",
            {
                "student_id": "st-1",
                "lesson_date": "2026-11-23",
                "status": "absent",
                "lesson_number": 2,
            },
        ),
        cloud_event(
            "journal.schedule.changed",
            {
                "class_id": "7b",
                "date": "2026-11-24",
                "change": "cancelled",
                "lesson_number": 3,
                "subject": "Музыка",
            },
        ),
        cloud_event(
            "journal.period_mark.created",
            {"student_id": "st-1", "subject": "Химия", "period": "1 четверть", "value": "5"},
        ),
        cloud_event(
            "journal.comment.created",
            {"student_id": "st-1", "text": "Молодец!", "teacher": "Иванова Н. П."},
        ),
        cloud_event(
            "journal.homework.updated",
            {
                "homework_id": "h1",
                "class_id": "7b",
                "subject": "История",
                "text": "Параграф 8",
                "due_date": "2026-11-26",
            },
        ),
        cloud_event(
            "journal.mark.updated",
            {
                "mark_id": "upd-1",
                "student_id": "st-1",
                "subject": "Биология",
                "value": "4",
                "old_value": "2",
                "changed_by": "Петров П. П.",
            },
        ),
        cloud_event("journal.mark.deleted", {"mark_id": "upd-1", "student_id": "st-1"}),
    ]
    for event in events:  # one at a time: each is its own message
        assert (await post_batch(api, [event])).status_code == 202
        await pump()
    sent = bot_api.messages_to(str(CHAT))[1:]
    assert len(sent) == 10
    texts = "\n".join(m.plain for m in sent)
    for needle in (
        "Физика",
        "История",
        "Параграф 7",
        "Музыка",
        "Химия",
        "Молодец!",
        "Параграф 8",
        "2 → 4",
        "Биология",
    ):
        assert needle in texts
    assert all("Вера" in m.plain for m in sent)
    assert smtp.messages == []
    log = (await api.get("/v1/guardians/g-1/notifications")).json()["items"]
    assert {e["channel"] for e in log} == {"telegram"}


async def test_used_expired_and_unknown_codes_link_nothing(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    clock: FakeClock,
    smtp: SmtpServer,
    pump,
) -> None:
    await _family(api)
    code = await link(api, dp, runtime, bot_api)
    other_chat = CHAT + 1
    await feed(dp, runtime, bot_api.user_message(other_chat, f"/start {code}"))
    assert "уже использован" in bot_api.messages_to(str(other_chat))[-1].plain
    stale = (await api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    clock.advance(15 * 24 * 3600)
    await feed(dp, runtime, bot_api.user_message(other_chat, f"/start {stale}"))
    assert "истёк" in bot_api.messages_to(str(other_chat))[-1].plain
    await feed(dp, runtime, bot_api.user_message(other_chat, "/start not-a-real-code"))
    assert "не подошёл" in bot_api.messages_to(str(other_chat))[-1].plain
    await post_structured(api, mark("st-1"))
    await pump()
    assert len(bot_api.messages_to(str(CHAT))) == 2  # confirmation + the mark
    assert len(bot_api.messages_to(str(other_chat))) == 3  # only the three refusals


async def test_repeated_wrong_codes_are_throttled(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _family(api)
    for i in range(5):
        await feed(dp, runtime, bot_api.user_message(CHAT, f"/start wrong-{i}"))
    good = (await api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    await feed(dp, runtime, bot_api.user_message(CHAT, f"/start {good}"))
    assert "Слишком много" in bot_api.messages_to(str(CHAT))[-1].plain
    guardian = (await api.get("/v1/guardians/g-1")).json()
    assert guardian.get("telegram_linked") is False


async def test_stop_unlinks_and_help_answers(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _family(api)
    await link(api, dp, runtime, bot_api)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/help"))
    assert "/stop" in bot_api.messages_to(str(CHAT))[-1].plain
    await feed(dp, runtime, bot_api.user_message(CHAT, "/stop"))
    assert "отключён" in bot_api.messages_to(str(CHAT))[-1].plain
    before = len(bot_api.messages_to(str(CHAT)))
    await post_structured(api, mark("st-1"))
    await pump()
    assert len(bot_api.messages_to(str(CHAT))) == before
    assert len(smtp.messages) == 1  # email, the next channel


async def test_long_polling_links_a_chat(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _family(api)
    code = (await api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    assert runtime.telegram is not None
    bot = runtime.telegram.default_bot
    task = asyncio.create_task(
        dp.start_polling(
            bot, handle_signals=False, close_bot_session=False, polling_timeout=1, runtime=runtime
        )
    )
    try:
        bot_api.user_message(CHAT, f"/start {code}")
        await bot_api.wait_for_messages(1, timeout=10)
    finally:
        await dp.stop_polling()
        await task
    assert "подключён" in bot_api.messages_to(str(CHAT))[0].plain
    assert (await api.get("/v1/guardians/g-1")).json()["telegram_linked"] is True


@pytest.fixture
async def webhook_api(
    settings: Settings, runtime: Runtime, dp: Dispatcher
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=runtime)
    assert runtime.telegram is not None
    mount(
        app,
        dispatcher=dp,
        bot=runtime.telegram.default_bot,
        runtime=runtime,
        secret="hook-secret-0123456789abcdefghijklmnop",
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://notifier.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        yield client


async def test_webhook_checks_the_secret(
    webhook_api: httpx.AsyncClient, bot_api: BotApiServer
) -> None:
    await _family(webhook_api)
    code = (await webhook_api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    update = bot_api.user_message(CHAT, f"/start {code}")
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
        r = await webhook_api.post("/telegram/webhook", json=update, headers=headers)
        assert r.status_code == 401
    assert bot_api.messages_to(str(CHAT)) == []
    assert (await webhook_api.get("/v1/guardians/g-1")).json()["telegram_linked"] is False
    r = await webhook_api.post(
        "/telegram/webhook",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret-0123456789abcdefghijklmnop"},
    )
    assert r.status_code == 200
    assert "подключён" in bot_api.messages_to(str(CHAT))[0].plain
    assert (await webhook_api.get("/v1/guardians/g-1")).json()["telegram_linked"] is True


async def test_teacher_text_arrives_as_valid_html_shown_literally(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer, pump
) -> None:
    await _family(api)
    await link(api, dp, runtime, bot_api)
    nasty = "Сказал <b>громко</b> <script>alert(1)</script> & 2 < 3"
    await post_structured(
        api,
        cloud_event(
            "journal.comment.created",
            {"student_id": "st-1", "text": nasty, "teacher": "<i>Иванова</i>"},
        ),
    )
    await pump()
    [message] = bot_api.messages_to(str(CHAT))[1:]
    assert nasty in message.plain
    assert "<i>Иванова</i>" in message.plain
    assert bot_api.rejected == []


async def test_flood_control_waits_as_telegram_asks(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api)
    for i in range(2, 5):
        await pupil_with_guardian(api, f"st-{i}", f"g-{i}")
    for i, guardian in enumerate(["g-1", "g-2", "g-3", "g-4"]):
        await link(api, dp, runtime, bot_api, guardian=guardian, chat=CHAT + i)
    confirmations = len(bot_api.sent)
    bot_api.fail_next(429, times=5, retry_after=3)
    started = time.monotonic()
    await post_batch(
        api,
        [mark(f"st-{i}") for i in range(1, 5)]
        + [cloud_event("journal.comment.created", {"student_id": "st-1", "text": "Молодец"})],
    )
    for _ in range(6):
        await pump()
        clock.advance(3)
    await pump()
    delivered = [m for m in bot_api.sent[confirmations:] if m.accepted]
    assert len(delivered) == 5
    assert len({(m.chat_id, m.text) for m in delivered}) == 5  # each once
    assert min(m.at for m in delivered) >= started + 3 - 0.05  # none before the delay
    assert smtp.messages == []


async def test_blocked_bot_falls_back_to_email_until_relinked(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _family(api)
    await link(api, dp, runtime, bot_api)
    bot_api.block_chat(str(CHAT))
    await post_structured(api, mark("st-1", value="5"))
    await pump()
    attempts_after_block = _attempts_to(bot_api, CHAT)
    await post_structured(api, mark("st-1", value="4"))
    await pump()
    assert len(smtp.messages) == 2  # that message and the next by email
    assert _attempts_to(bot_api, CHAT) == attempts_after_block  # Telegram not tried again
    log = (await api.get("/v1/guardians/g-1/notifications")).json()["items"]
    assert [e["channel"] for e in log] == ["email", "email"]
    assert log[1]["attempts"][0]["outcome"] == "permanent"
    bot_api.unblock_chat(str(CHAT))
    await link(api, dp, runtime, bot_api)
    await post_structured(api, mark("st-1", value="3"))
    await pump()
    assert len(smtp.messages) == 2
    assert "3" in bot_api.messages_to(str(CHAT))[-1].plain


async def test_a_school_with_its_own_bot(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer, pump
) -> None:
    school_bot = BotApiServer(token="777777:SCHOOL17-token", username="school17_bot")
    bot_api.serve_also(school_bot)
    r = await api.put(
        "/v1/schools/s17", json={"name": "Школа № 17", "telegram_token": school_bot.token}
    )
    assert r.status_code == 200
    assert "telegram_token" not in r.json() and r.json()["telegram_bot_id"] == "777777"
    await api.put("/v1/classes/7b", json={"school_id": "s17", "name": "7Б"})
    await pupil_with_guardian(api, "st-1", "g-1")
    link_ = (await api.post("/v1/guardians/g-1/telegram-link")).json()
    assert link_["url"].startswith("https://t.me/school17_bot?start=")
    assert runtime.telegram is not None
    bot = runtime.telegram.add_bot(school_bot.token)
    await dp.feed_update(
        bot,
        Update.model_validate(school_bot.user_message(CHAT, f"/start {link_['code']}")),
        runtime=runtime,
    )
    await post_structured(api, mark("st-1", value="2"))  # a 2 goes at once
    await pump()
    assert len(school_bot.messages_to(str(CHAT))) == 2  # confirmation and the mark
    assert bot_api.sent == []  # the default bot wrote nothing


async def test_link_codes_are_stored_hashed(
    api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer
) -> None:
    from sqlalchemy import select

    from notifier.db.models import LinkCode

    await _family(api)
    code = (await api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    async with runtime.sessions() as session:
        stored = list(await session.scalars(select(LinkCode.code_hash)))
    assert len(stored) == 1 and code not in stored[0] and len(stored[0]) == 64


def _button(message: Any, text: str) -> str:
    for row in message.reply_markup["inline_keyboard"]:
        for button in row:
            if button["text"] == text:
                return str(button["callback_data"])
    raise AssertionError(f"no button {text!r} in {message.reply_markup}")


async def test_settings_keyboard_changes_the_next_messages_routing(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _two_children(api)
    await link(api, dp, runtime, bot_api)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/settings"))
    menu = bot_api.messages_to(str(CHAT))[-1]
    assert "Настройки уведомлений" in menu.plain and "Оценки: сразу" in menu.plain
    # Marks off for every child.
    await feed(
        dp, runtime, bot_api.callback_query(CHAT, _button(menu, "Оценки: выкл"), menu.message_id)
    )
    prefs = (await api.get("/v1/guardians/g-1/preferences")).json()
    assert prefs["categories"]["marks"] == "off"
    # The weekly summary has two choices of its own.
    assert "Итоги недели: по субботам" in menu.plain
    summary_off = _button(menu, "Итоги недели: выкл")
    await feed(dp, runtime, bot_api.callback_query(CHAT, summary_off, menu.message_id))
    prefs = (await api.get("/v1/guardians/g-1/preferences")).json()
    assert prefs["categories"]["summary"] == "off"
    # ...but marks back on for Пётр only.
    await feed(dp, runtime, bot_api.callback_query(CHAT, _button(menu, "Пётр"), menu.message_id))
    edited = bot_api.calls_to("editMessageText")[-1]
    peter_menu = type("M", (), {"reply_markup": json_loads(edited.params["reply_markup"])})()
    await feed(
        dp,
        runtime,
        bot_api.callback_query(CHAT, _button(peter_menu, "Оценки: сразу"), menu.message_id),
    )
    quiet = _button(menu, "Тишина: 22:00–07:00")
    await feed(dp, runtime, bot_api.callback_query(CHAT, quiet, menu.message_id))
    prefs = (await api.get("/v1/guardians/g-1/preferences")).json()
    assert prefs["per_student"] == {"st-2": {"marks": "instant"}}
    assert prefs["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    before = len(bot_api.messages_to(str(CHAT)))
    await post_batch(api, [mark("st-1", subject="Алгебра"), mark("st-2", subject="Физика")])
    await pump()
    sent = bot_api.messages_to(str(CHAT))[before:]
    assert len(sent) == 1 and "Физика" in sent[0].plain and "Пётр" in sent[0].plain
    log = {
        e["student_id"]: e
        for e in (await api.get("/v1/guardians/g-1/notifications")).json()["items"]
    }
    assert (log["st-1"]["status"], log["st-1"]["reason"]) == ("skipped", "opted_out")


async def test_a_class_teacher_announces_from_telegram(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    from notifier.announcements import send_summaries

    await put(api, "/v1/schools/s17", {"name": "Школа № 17"})
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова Нина Петровна"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    await pupil_with_guardian(api, "st-1", "g-1", email="one@parents.example.org")
    await pupil_with_guardian(api, "st-2", "g-2", consent=False, full_name="Бобров Глеб Ильич")
    code = (await api.post("/v1/staff/t-1/telegram-link")).json()["code"]
    teacher_chat = 8800
    await feed(dp, runtime, bot_api.user_message(teacher_chat, f"/start {code}"))
    assert "7Б" in bot_api.messages_to(str(teacher_chat))[-1].plain

    async def step(text: str | None = None, button: str | None = None) -> Any:
        last = bot_api.messages_to(str(teacher_chat))[-1]
        if text is not None:
            await feed(dp, runtime, bot_api.user_message(teacher_chat, text))
        else:
            assert button is not None
            await feed(
                dp,
                runtime,
                bot_api.callback_query(teacher_chat, _button(last, button), last.message_id),
            )
        return bot_api.messages_to(str(teacher_chat))[-1]

    # Cancel at the preview: nothing is sent.
    await step("/announce")
    await step(button="7Б")
    preview = await step("Собрание <в пятницу> & без опозданий")
    assert "Предпросмотр" in preview.plain and "Получат: 1" in preview.plain
    await step(button="Отмена")
    await pump()
    assert smtp.messages == []
    assert (await api.get("/v1/announcements")).json()["items"] == []
    # Then for real.
    await step("/announce")
    await step(button="7Б")
    await step("Собрание в пятницу в 18:00")
    await step(button="Отправить")
    await pump()
    assert [m.rcpt_tos for m in smtp.messages] == [["one@parents.example.org"]]
    sent = await send_summaries(sessions=runtime.sessions, telegram=runtime.telegram, now=clock())
    assert sent == 1
    summary = bot_api.messages_to(str(teacher_chat))[-1].plain
    assert "доставлено: 1 из 2" in summary and "Бобров Глеб Ильич — нет согласия" in summary
    assert (
        await send_summaries(sessions=runtime.sessions, telegram=runtime.telegram, now=clock()) == 0
    )


async def test_marks_asks_which_child_then_shows_the_weeks_marks_with_averages(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    """A parent of two children: /marks offers both, and for the one picked shows this week's
    marks per subject with the average and the weighted average (a corrected mark counts as
    corrected, last week's mark and the other child's do not count)."""
    from tests.factories import cloud_event

    await _two_children(api)
    await link(api, dp, runtime, bot_api)
    events = [
        mark("st-2", mark_id="a1", subject="Алгебра", value="5", lesson_date="2026-11-23"),
        mark(
            "st-2", mark_id="a2", subject="Алгебра", value="3", weight=2, lesson_date="2026-11-24"
        ),
        mark("st-2", mark_id="a3", subject="Алгебра", value="2", lesson_date="2026-11-23"),
        cloud_event(
            "journal.mark.updated",
            {"mark_id": "a3", "student_id": "st-2", "subject": "Алгебра", "value": "4"},
        ),
        mark("st-2", mark_id="a4", subject="Физика", value="2", lesson_date="2026-11-16"),
        mark("st-1", mark_id="a5", subject="История", value="5", lesson_date="2026-11-23"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await consume_all(runtime)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/marks"))
    picker = bot_api.messages_to(str(CHAT))[-1]
    assert "О ком из детей?" in picker.plain
    await feed(
        dp, runtime, bot_api.callback_query(CHAT, _button(picker, "Пётр"), picker.message_id)
    )
    answer = bot_api.messages_to(str(CHAT))[-1].plain
    assert "Оценки за неделю 23 ноября – 29 ноября" in answer and "Пётр" in answer
    # (5 + 3 + 4) / 3 = 4.00; (5·1 + 3·2 + 4·1) / 4 = 3.75
    assert "Алгебра: 5, 4, 3 (вес 2) — средний 4,00, взвешенный 3,75" in answer  # lesson order
    assert "Физика" not in answer and "История" not in answer


async def test_homework_shows_tomorrows_then_the_rest_of_the_week(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    """Monday 23 November: tomorrow's homework first, then Wednesday's; an updated assignment
    shows its new text, another class's homework does not show."""
    from tests.factories import cloud_event

    await _family(api)
    await link(api, dp, runtime, bot_api)

    def homework(hw: str, due: str, text: str, klass: str = "7b", updated: bool = False) -> dict:  # type: ignore[type-arg]
        kind = "updated" if updated else "assigned"
        data = {"homework_id": hw, "class_id": klass, "subject": "Алгебра", "text": text}
        return cloud_event(f"journal.homework.{kind}", data | {"due_date": due})

    events = [
        homework("h1", "2026-11-24", "№ 12 <b>и</b> 13"),
        homework("h2", "2026-11-25", "Параграф 4"),
        homework("h2", "2026-11-25", "Параграф 5", updated=True),
        homework("h3", "2026-11-24", "Чужое задание", klass="8a"),
        homework("h4", "2026-11-23", "Сегодняшнее"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await consume_all(runtime)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/homework"))
    answer = bot_api.messages_to(str(CHAT))[-1].plain
    assert "На завтра, 24 ноября\nАлгебра: № 12 <b>и</b> 13" in answer  # shown as typed
    assert "25 ноября · Алгебра: Параграф 5" in answer
    assert "Параграф 4" not in answer and "Чужое" not in answer and "Сегодняшнее" not in answer


async def test_absences_this_term_and_last_weeks_summary(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    """The term began on 1 November: October's absence does not count. /summary is last week
    (16–22 November) with averages and attendance."""
    from tests.factories import cloud_event

    await _family(api)
    await link(api, dp, runtime, bot_api)

    def attendance(day: str, status: str) -> dict:  # type: ignore[type-arg]
        data = {"student_id": "st-1", "lesson_date": day, "status": status}
        return cloud_event("journal.attendance.recorded", data)

    events = [
        attendance("2026-10-20", "absent"),
        attendance("2026-11-02", "absent"),
        attendance("2026-11-17", "absent"),
        attendance("2026-11-18", "late"),
        attendance("2026-11-23", "excused"),
        mark("st-1", mark_id="w1", subject="Химия", value="4", lesson_date="2026-11-17"),
        mark("st-1", mark_id="w2", subject="Химия", value="5", weight=3, lesson_date="2026-11-18"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await consume_all(runtime)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/absences"))
    absences = bot_api.messages_to(str(CHAT))[-1].plain
    assert "Посещаемость с 1 ноября по 23 ноября" in absences
    assert "Пропуски: 2 раза, по уважительной причине: 1 раз, опоздания: 1 раз" in absences
    await feed(dp, runtime, bot_api.user_message(CHAT, "/summary"))
    summary = bot_api.messages_to(str(CHAT))[-1].plain
    assert "Сводка за неделю 16 ноября – 22 ноября" in summary
    # (4 + 5) / 2 = 4.50; (4·1 + 5·3) / 4 = 4.75
    assert "Химия: 4, 5 (вес 3) — средний 4,50, взвешенный 4,75" in summary
    assert "Пропуски: 1 раз, по уважительной причине: 0 раз, опоздания: 1 раз" in summary


async def test_a_guardian_with_the_english_locale_is_answered_in_english(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _family(api)
    body = {
        "full_name": "Sokolova Vera",
        "email": "mum@parents.example.org",
        "student_ids": ["st-1"],
        "locale": "en",
    }
    assert (await api.put("/v1/guardians/g-1", json=body)).status_code == 200
    await link(api, dp, runtime, bot_api)
    events = [
        mark("st-1", mark_id="e1", subject="Химия", value="4", lesson_date="2026-11-23"),
        mark("st-1", mark_id="e2", subject="Химия", value="5", weight=3, lesson_date="2026-11-23"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await consume_all(runtime)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/marks"))
    answer = bot_api.messages_to(str(CHAT))[-1].plain
    assert "Marks for the week 23 November – 29 November" in answer
    assert "Химия: 4, 5 (weight 3) — average 4.50, weighted 4.75" in answer
    await feed(dp, runtime, bot_api.user_message(CHAT, "/absences"))
    assert "Absences: 0 times, excused: 0 times, late: 0 times" in (
        bot_api.messages_to(str(CHAT))[-1].plain
    )


async def test_the_weekly_summary_comes_to_telegram_short_on_saturday_evening(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
) -> None:
    await _family(api)
    await link(api, dp, runtime, bot_api)
    events = [
        mark("st-1", mark_id="w1", subject="Химия", value="4", lesson_date="2026-11-23"),
        mark("st-1", mark_id="w2", subject="Химия", value="5", weight=3, lesson_date="2026-11-24"),
        mark("st-1", mark_id="w3", subject="Физика", value="3", lesson_date="2026-11-24"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await run_until_idle(runtime)
    smtp.clear()
    clock.now = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # Saturday 19:00 in Moscow
    async with runtime.sessions() as session:
        assert await plan_weekly(session=session, now=clock.now) == 1
    await run_until_idle(runtime)
    summary = bot_api.messages_to(str(CHAT))[-1]
    assert "Итоги недели · Вера, 7Б" in summary.plain
    assert "23 ноября – 29 ноября" in summary.plain
    assert "Физика: 3 — ср. 3,00" in summary.plain
    assert "Химия: 4 5 — ср. 4,50, взвеш. 4,75" in summary.plain
    assert "Пропущено уроков: 0, опозданий: 0" in summary.plain
    assert smtp.messages == []  # Telegram first: the email is not sent as well


# -- Consent, private chats, unlinking (issue 13) --------------------------------------------


async def test_without_consent_the_bot_shows_no_childs_data_and_says_how_to_consent(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _two_children(api)
    await link(api, dp, runtime, bot_api)
    events = [mark("st-1", subject="Алгебра", value="5", lesson_date="2026-11-23")]
    assert (await post_batch(api, events)).status_code == 202
    await consume_all(runtime)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/marks"))
    picker = bot_api.messages_to(str(CHAT))[-1]
    await feed(dp, runtime, bot_api.user_message(CHAT, "/settings"))
    menu = bot_api.messages_to(str(CHAT))[-1]
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 204

    before = len(bot_api.messages_to(str(CHAT)))
    for command in ("/marks", "/homework", "/absences", "/summary", "/settings"):
        await feed(dp, runtime, bot_api.user_message(CHAT, command))
    answers = bot_api.messages_to(str(CHAT))[before:]
    assert len(answers) == 5
    for answer in answers:
        assert "Нет согласия" in answer.plain, answer.plain
        assert "классного руководителя или школу" in answer.plain
        assert answer.reply_markup is None
        for data in ("Вера", "Пётр", "Алгебра", "Оценки"):
            assert data not in answer.plain
    # Buttons sent before the revocation show nothing and change nothing either.
    edits = len(bot_api.calls_to("editMessageText"))
    for message, button in ((picker, "Вера"), (menu, "Оценки: выкл"), (menu, "Пётр")):
        await feed(
            dp, runtime, bot_api.callback_query(CHAT, _button(message, button), message.message_id)
        )
    assert len(bot_api.messages_to(str(CHAT))) == before + 5
    assert len(bot_api.calls_to("editMessageText")) == edits
    alerts = bot_api.calls_to("answerCallbackQuery")[-3:]
    assert all("Нет согласия" in str(call.params.get("text")) for call in alerts)
    prefs = (await api.get("/v1/guardians/g-1/preferences")).json()
    assert prefs["categories"]["marks"] != "off"
    # Consent given again (through the school): the answers come back.
    r = await api.post("/v1/guardians/g-1/consent", json={"document": "Заявление № 2"})
    assert r.status_code == 201
    await feed(dp, runtime, bot_api.user_message(CHAT, "/marks"))
    assert "О ком из детей?" in bot_api.messages_to(str(CHAT))[-1].plain


async def test_without_consent_an_english_guardian_is_told_in_english(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _family(api)
    body = {"full_name": "Sokolova Vera", "student_ids": ["st-1"], "locale": "en"}
    assert (await api.put("/v1/guardians/g-1", json=body)).status_code == 200
    await link(api, dp, runtime, bot_api)
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 204
    await feed(dp, runtime, bot_api.user_message(CHAT, "/marks"))
    answer = bot_api.messages_to(str(CHAT))[-1].plain
    assert "No consent" in answer and "class teacher or the school" in answer
    assert "Вера" not in answer


async def test_linking_without_consent_names_no_child(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", full_name="Соколова Вера", consent=False)
    await link(api, dp, runtime, bot_api)
    [confirmation] = bot_api.messages_to(str(CHAT))
    assert "подключён" in confirmation.plain and "Нет согласия" in confirmation.plain
    assert "Вера" not in confirmation.plain


def _in_group(update: dict[str, Any], group: int = -1001234567890) -> dict[str, Any]:
    """The same update, as if it came from a supergroup the user and the bot are in."""
    body = update["message"] if "message" in update else update["callback_query"]["message"]
    body["chat"] = {"id": group, "type": "supergroup", "title": "Родители 7Б"}
    return update


async def test_the_bot_answers_only_in_private_chats(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    from bots.core.payloads import Ask

    await _family(api)
    await link(api, dp, runtime, bot_api)
    code = (await api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    calls = len(bot_api.calls)
    # The linked guardian's own user, but in a group: no command and no button is answered.
    for text in ("/marks", "/homework", "/settings", "/help", "/stop", "Привет", f"/start {code}"):
        await feed(dp, runtime, _in_group(bot_api.user_message(CHAT, text)))
    button = Ask(what="marks", child=0).pack()
    await feed(dp, runtime, _in_group(bot_api.callback_query(CHAT, button, 1)))
    assert [c.method for c in bot_api.calls[calls:]] == []
    assert (await api.get("/v1/guardians/g-1")).json()["telegram_linked"] is True  # not /stop
    # The same user in the private chat is answered.
    await feed(dp, runtime, bot_api.user_message(CHAT, "/marks"))
    assert "Оценки за неделю" in bot_api.messages_to(str(CHAT))[-1].plain


async def test_a_school_unlinks_a_guardians_chat_at_once(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _family(api)
    await link(api, dp, runtime, bot_api)
    assert (await api.delete("/v1/guardians/g-1/telegram")).status_code == 204
    assert (await api.get("/v1/guardians/g-1")).json()["telegram_linked"] is False
    before = len(bot_api.messages_to(str(CHAT)))
    await post_structured(api, mark("st-1"))
    await pump()
    assert len(bot_api.messages_to(str(CHAT))) == before
    assert len(smtp.messages) == 1  # email, the next channel
    await feed(dp, runtime, bot_api.user_message(CHAT, "/marks"))
    assert "не подключён" in bot_api.messages_to(str(CHAT))[-1].plain
    # Not linked any more: the same answer (the state asked for holds); unknown: 404.
    assert (await api.delete("/v1/guardians/g-1/telegram")).status_code == 204
    assert (await api.delete("/v1/guardians/nobody/telegram")).status_code == 404
    trail = (
        await api.get(
            "/v1/audit",
            params={
                "subject_type": "guardian",
                "subject_id": "g-1",
                "action": "telegram_link.delete",
            },
        )
    ).json()["items"]
    assert len(trail) == 2 and {e["actor_role"] for e in trail} == {"admin"}


async def test_a_school_unlinks_a_teachers_chat_at_once(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await put(api, "/v1/schools/s17", {"name": "Школа № 17"})
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова Нина Петровна"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    code = (await api.post("/v1/staff/t-1/telegram-link")).json()["code"]
    teacher_chat = 8800
    await feed(dp, runtime, bot_api.user_message(teacher_chat, f"/start {code}"))
    assert "классный руководитель" in bot_api.messages_to(str(teacher_chat))[-1].plain
    assert (await api.delete("/v1/staff/t-1/telegram")).status_code == 204
    await feed(dp, runtime, bot_api.user_message(teacher_chat, "/announce"))
    assert "подключите бот" in bot_api.messages_to(str(teacher_chat))[-1].plain
    assert (await api.delete("/v1/staff/t-1/telegram")).status_code == 204
    assert (await api.delete("/v1/staff/nobody/telegram")).status_code == 404
    trail = (
        await api.get("/v1/audit", params={"subject_type": "staff", "subject_id": "t-1"})
    ).json()["items"]
    assert [e["action"] for e in trail].count("telegram_link.delete") == 2


async def test_a_new_code_voids_the_older_unused_ones(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _family(api)
    first = (await api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    second = (await api.post("/v1/guardians/g-1/telegram-link")).json()["code"]
    await feed(dp, runtime, bot_api.user_message(CHAT, f"/start {first}"))
    assert "заменён более новым" in bot_api.messages_to(str(CHAT))[-1].plain
    assert (await api.get("/v1/guardians/g-1")).json()["telegram_linked"] is False
    await feed(dp, runtime, bot_api.user_message(CHAT, f"/start {second}"))
    assert "подключён" in bot_api.messages_to(str(CHAT))[-1].plain
    # A staff member's codes too; and another person's code is not touched.
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова Нина Петровна"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    old = (await api.post("/v1/staff/t-1/telegram-link")).json()["code"]
    await pupil_with_guardian(api, "st-2", "g-2")
    other = (await api.post("/v1/guardians/g-2/telegram-link")).json()["code"]
    new = (await api.post("/v1/staff/t-1/telegram-link")).json()["code"]
    teacher_chat = 8800
    await feed(dp, runtime, bot_api.user_message(teacher_chat, f"/start {old}"))
    assert "заменён более новым" in bot_api.messages_to(str(teacher_chat))[-1].plain
    await feed(dp, runtime, bot_api.user_message(teacher_chat, f"/start {new}"))
    assert "классный руководитель" in bot_api.messages_to(str(teacher_chat))[-1].plain
    await feed(dp, runtime, bot_api.user_message(CHAT + 2, f"/start {other}"))
    assert "подключён" in bot_api.messages_to(str(CHAT + 2))[-1].plain


async def test_a_new_chat_replacing_a_linked_one_tells_the_old_chat(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer, pump
) -> None:
    await _family(api)
    await link(api, dp, runtime, bot_api)
    await link(api, dp, runtime, bot_api, chat=CHAT + 1)
    told = bot_api.messages_to(str(CHAT))[-1].plain
    assert "Этот чат отключён от уведомлений школы: подключён другой чат." in told
    assert "Вера" not in told
    assert "подключён" in bot_api.messages_to(str(CHAT + 1))[-1].plain
    await post_structured(api, mark("st-1", subject="Физика"))
    await pump()
    assert len(bot_api.messages_to(str(CHAT))) == 2  # the confirmation and the notice only
    assert "Физика" in bot_api.messages_to(str(CHAT + 1))[-1].plain
    # Linking the same chat again tells nobody.
    await link(api, dp, runtime, bot_api, chat=CHAT + 1)
    assert len(bot_api.messages_to(str(CHAT))) == 2
    # In the guardian's language; and an old chat that blocked the bot does not stop the link.
    body = {"full_name": "Sokolova Vera", "student_ids": ["st-1"], "locale": "en"}
    assert (await api.put("/v1/guardians/g-1", json=body)).status_code == 200
    await link(api, dp, runtime, bot_api, chat=CHAT + 2)
    assert "another chat was linked" in bot_api.messages_to(str(CHAT + 1))[-1].plain
    assert "This chat is linked" in bot_api.messages_to(str(CHAT + 2))[-1].plain
    bot_api.block_chat(str(CHAT + 2))
    await link(api, dp, runtime, bot_api, chat=CHAT + 3)
    assert "This chat is linked" in bot_api.messages_to(str(CHAT + 3))[-1].plain


async def test_the_bots_logs_carry_no_chat_ids(
    api: httpx.AsyncClient,
    dp: Dispatcher,
    runtime: Runtime,
    bot_api: BotApiServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from notifier.logs import _KeyValueFormatter

    caplog.set_level(logging.INFO)
    await _family(api)
    await feed(dp, runtime, bot_api.user_message(CHAT, "/start wrong-code"))
    await link(api, dp, runtime, bot_api)
    await link(api, dp, runtime, bot_api, chat=CHAT + 1)
    await feed(dp, runtime, bot_api.user_message(CHAT + 1, "/settings"))
    menu = bot_api.messages_to(str(CHAT + 1))[-1]
    await feed(
        dp,
        runtime,
        bot_api.callback_query(CHAT + 1, _button(menu, "Оценки: выкл"), menu.message_id),
    )
    await feed(dp, runtime, bot_api.user_message(CHAT + 1, "/stop"))
    formatter = _KeyValueFormatter()
    lines = [
        formatter.format(r) for r in caplog.records if r.name.split(".")[0] in ("bots", "notifier")
    ]
    events = " ".join(lines)
    for event in ("bot.link_refused", "bot.linked", "bot.preference", "bot.unlinked"):
        assert event in events
    assert "guardian_id=g-1" in events
    leaks = [line for line in lines if str(CHAT) in line or str(CHAT + 1) in line]
    assert leaks == []


async def test_console_in_the_bot_sends_a_teacher_a_sign_in_link(
    api: httpx.AsyncClient, dp: Dispatcher, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await put(api, "/v1/schools/s17", {"name": "Школа № 17"})
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова Нина Петровна"})
    code = (await api.post("/v1/staff/t-1/telegram-link")).json()["code"]
    await feed(dp, runtime, bot_api.user_message(8800, f"/start {code}"))
    await feed(dp, runtime, bot_api.user_message(8800, "/console"))
    answer = bot_api.messages_to("8800")[-1].plain
    assert "/console/signin/link/" in answer and "15" in answer
    link = answer.split("/console/signin/link/")[1].split()[0]
    app = create_app(runtime.settings, runtime=runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notifier.test"
    ) as visitor:
        page = await visitor.get(f"/console/signin/link/{link}")
        assert page.status_code == 200 and "Войти" in page.text
    # A stranger's chat gets no link.
    await feed(dp, runtime, bot_api.user_message(9900, "/console"))
    assert "/console/" not in bot_api.messages_to("9900")[-1].plain
