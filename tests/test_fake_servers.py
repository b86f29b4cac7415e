"""The local Telegram Bot API and SMS gateways answer like the real ones, and fail on request."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message

from tests.servers.sms_server import SMSRU_TEXTS, SmsGateway
from tests.servers.telegram import BotApiServer, parse_html

TOKEN = "123456:TEST-token"
CHAT = 5550001


@pytest.fixture
def tg() -> Iterator[BotApiServer]:
    with BotApiServer() as server:
        yield server


def _bot(server: BotApiServer, token: str = TOKEN, **default: Any) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base))
    return Bot(token, session=session, default=DefaultBotProperties(**default))


@pytest.fixture
async def bot(tg: BotApiServer) -> AsyncIterator[Bot]:
    bot = _bot(tg, parse_mode="HTML", link_preview_is_disabled=True)
    try:
        yield bot
    finally:
        await bot.session.close()


def _post(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """A plain synchronous HTTP call: (status, parsed JSON)."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


# --- Telegram: the server itself ------------------------------------------------------------


async def test_get_me_is_a_real_bot_user(bot: Bot, tg: BotApiServer) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456 and me.username == "notifier_test_bot"
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert tg.base.startswith("http://127.0.0.1:") and tg.token == TOKEN


async def test_send_message_with_valid_html_returns_a_message(bot: Bot, tg: BotApiServer) -> None:
    first = await bot.send_message(CHAT, "<b>x</b> &amp; &lt;")
    second = await bot.send_message(CHAT, "<i>ещё</i> одно")
    assert isinstance(first, Message)
    assert first.text == "x & <" and first.chat.id == CHAT and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.is_bot
    assert [(e.type, e.offset, e.length) for e in first.entities or []] == [("bold", 0, 1)]
    assert second.message_id == first.message_id + 1
    [sent, _] = tg.messages_to(CHAT)
    assert sent.text == "<b>x</b> &amp; &lt;" and sent.plain == "x & <"
    assert sent.parse_mode == "HTML" and sent.accepted and sent.message_id == first.message_id
    # aiogram sends chat_id as a string form field and the default link preview as JSON.
    assert sent.params["chat_id"] == str(CHAT)
    assert json.loads(sent.params["link_preview_options"]) == {"is_disabled": True}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Оценка <script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 13'),
        ("2 < 3", 'Unsupported start tag "" at byte offset 2'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("a <", "Unclosed start tag at byte offset 2"),
    ],
    ids=["script", "bare-lt", "unclosed", "misnested", "stray-end", "span", "cut-off"],
)
async def test_invalid_html_is_refused_like_telegram(
    bot: Bot, tg: BotApiServer, text: str, error: str
) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as caught:
        await bot.send_message(CHAT, text)
    assert caught.value.message == f"Bad Request: can't parse entities: {error}"
    assert tg.messages_to(CHAT) == []
    [rejected] = tg.rejected
    assert rejected.error_code == 400 and rejected.text == text and not rejected.accepted


def test_html_parser_keeps_what_telegram_keeps() -> None:
    # Unknown named entities and a bare "&" are not errors at Telegram: they stay literal.
    assert parse_html("Tom & Jerry &nbsp; &#128512;&#x41;") == ("Tom & Jerry &nbsp; 😀A", [])
    plain, entities = parse_html(
        '<a href="https://school.example/?a=1&amp;b=2">журнал</a> '
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>цитата</blockquote><tg-spoiler>s</tg-spoiler> 😀<u>u</u>"
    )
    assert plain == "журнал x = 1цитатаs 😀u"
    assert entities == [
        {"type": "text_link", "offset": 0, "length": 6, "url": "https://school.example/?a=1&b=2"},
        {"type": "pre", "offset": 7, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 12, "length": 6},
        {"type": "spoiler", "offset": 18, "length": 1},
        {"type": "underline", "offset": 22, "length": 1},  # 😀 is two UTF-16 units
    ]


async def test_strict_entities_mode_refuses_unknown_entities() -> None:
    with BotApiServer(strict_entities=True) as server:
        bot = _bot(server, parse_mode="HTML")
        try:
            with pytest.raises(TelegramBadRequest, match='Unsupported HTML entity "&nbsp;"'):
                await bot.send_message(CHAT, "a&nbsp;b")
        finally:
            await bot.session.close()


async def test_text_length_and_emptiness_are_checked_after_parsing(
    bot: Bot, tg: BotApiServer
) -> None:
    # 4096 characters once "&amp;" is decoded: fine although the raw text is 5 times longer.
    ok = await bot.send_message(CHAT, "&amp;" * 4096)
    assert ok.text == "&" * 4096
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(CHAT, "<b>" + "я" * 4097 + "</b>")
    # aiogram leaves an empty text out of the request altogether; Telegram: "empty".
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(CHAT, "")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(CHAT, "  <b> </b>\n")
    assert len(tg.accepted) == 1 and len(tg.rejected) == 3 and tg.attempts == 4


async def test_429_carries_retry_after(bot: Bot, tg: BotApiServer) -> None:
    tg.fail_next(429, times=1, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(CHAT, "first")
    assert caught.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in caught.value.message
    await bot.send_message(CHAT, "second")
    assert [m.plain for m in tg.messages_to(CHAT)] == ["second"]
    assert [m.error_code for m in tg.rejected] == [429]


async def test_faults_for_one_chat_leave_the_others_alone(bot: Bot, tg: BotApiServer) -> None:
    tg.fail_next(500, times=2, chat_id=CHAT)
    await bot.send_message(CHAT + 1, "other chat")
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "x")
    assert len(tg.messages_to(CHAT)) == 1 and len(tg.messages_to(CHAT + 1)) == 1


async def test_blocked_chat_answers_403_until_unblocked(bot: Bot, tg: BotApiServer) -> None:
    tg.block_chat(CHAT)
    for _ in range(2):
        with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "x")
    tg.unblock_chat(CHAT)
    await bot.send_message(CHAT, "x")
    tg.chat_not_found(CHAT + 1)
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(CHAT + 1, "x")
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message("@somebody", "x")
    assert len(tg.accepted) == 1 and len(tg.rejected) == 4


async def test_wrong_token_is_unauthorized(tg: BotApiServer) -> None:
    bot = _bot(tg, token="654321:WRONG-token")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await bot.get_me()
    finally:
        await bot.session.close()


def test_raw_http_json_query_404_401_from_sync_code(tg: BotApiServer) -> None:
    url = f"{tg.base}/bot{TOKEN}"
    status, body = _post(
        f"{url}/sendMessage",
        json.dumps({"chat_id": CHAT, "text": "<i>json</i>", "parse_mode": "HTML"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200 and body["ok"] is True and body["result"]["text"] == "json"
    status, body = _post(f"{url}/sendMessage?chat_id={CHAT}&text=query")
    assert status == 200 and body["result"]["text"] == "query"
    assert _post(f"{url}/sendSticker") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert _post(f"{tg.base}/bot1:bad/getMe") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    tg.fail_next(403, times=1)
    assert _post(f"{url}/sendMessage?chat_id={CHAT}&text=x") == (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    tg.fail_next(429, times=1, retry_after=3)
    assert _post(f"{url}/sendMessage?chat_id={CHAT}&text=x") == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )
    assert [m.plain for m in tg.messages_to(CHAT)] == ["json", "query"]


def test_rate_figures(tg: BotApiServer) -> None:
    url = f"{tg.base}/bot{TOKEN}/sendMessage"
    assert tg.max_per_second() == 0 and tg.min_gap_per_chat() == float("inf")
    for chat in (1, 2, 3):
        _post(f"{url}?chat_id={chat}&text=x")
    time.sleep(0.3)
    _post(f"{url}?chat_id=1&text=y")
    tg.block_chat(2)
    _post(f"{url}?chat_id=2&text=y")  # refused: not counted
    assert tg.max_per_second() == 4
    assert 0.3 <= tg.min_gap_per_chat() < 1.0
    assert tg.attempts == 5


async def test_flood_limits_answer_429(bot: Bot, tg: BotApiServer) -> None:
    tg.set_flood_limits(per_second=None, per_chat_interval=1.0, retry_after=2)
    await bot.send_message(CHAT, "one")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(CHAT, "two")
    assert caught.value.retry_after == 2
    await bot.send_message(CHAT + 1, "another chat is fine")


# --- Telegram: updates -------------------------------------------------------------------------


async def test_get_updates_returns_a_queued_start_command(bot: Bot, tg: BotApiServer) -> None:
    queued = tg.user_message(CHAT, "/start abc")
    [update] = await bot.get_updates(timeout=1)
    assert update.update_id == queued["update_id"]
    message = update.message
    assert message is not None and message.text == "/start abc"
    assert message.chat.id == CHAT and message.from_user is not None
    assert message.from_user.first_name == "Мама"
    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [("bot_command", 0, 6)]
    # Not confirmed yet: the same update again.
    assert [u.update_id for u in await bot.get_updates()] == [update.update_id]
    # Confirmed by the offset: gone, and a long poll with nothing new waits its timeout.
    started = time.monotonic()
    assert await bot.get_updates(offset=update.update_id + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9
    assert tg.pending_updates() == []


async def test_long_poll_wakes_when_an_update_arrives(bot: Bot, tg: BotApiServer) -> None:
    timer = threading.Timer(0.3, tg.user_message, args=(CHAT, "привет"))
    started = time.monotonic()
    timer.start()
    try:
        [update] = await bot.get_updates(timeout=10)
    finally:
        timer.cancel()
    assert 0.25 <= time.monotonic() - started < 5
    assert update.message is not None and update.message.text == "привет"
    assert update.message.entities is None


async def test_a_newer_poll_ends_the_older_one_with_409(bot: Bot, tg: BotApiServer) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=10))
    while tg.polls_waiting == 0:
        await asyncio.sleep(0.01)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await older


async def test_dispatcher_polls_and_answers(bot: Bot, tg: BotApiServer) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(f"Здравствуйте, <b>{message.chat.first_name}</b>!")

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
    )
    try:
        tg.user_message(CHAT, "/start", first_name="Анна")
        [answer] = await tg.wait_for_messages(1)
    finally:
        await dp.stop_polling()
        await polling
    assert answer.chat_id == str(CHAT) and answer.plain == "Здравствуйте, Анна!"


async def test_webhook_blocks_get_updates(bot: Bot, tg: BotApiServer) -> None:
    with pytest.raises(TelegramBadRequest, match="An HTTPS URL must be provided"):
        await bot.set_webhook("http://127.0.0.1:8000/telegram/webhook")
    assert await bot.set_webhook(
        "https://notifier.example/telegram/webhook", secret_token="s3cret_token-1"
    )
    assert tg.webhook is not None and tg.webhook.secret_token == "s3cret_token-1"
    tg.user_message(CHAT, "/start")
    info = await bot.get_webhook_info()
    assert info.url == "https://notifier.example/telegram/webhook"
    assert info.pending_update_count == 1 and info.has_custom_certificate is False
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates() == []


async def test_callback_edit_answer_delete(bot: Bot, tg: BotApiServer) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Прочитано", callback_data="read:1")]]
    )
    sent = await bot.send_message(CHAT, "Оценка: <b>5</b>", reply_markup=keyboard)
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump() == keyboard.model_dump()
    assert tg.messages_to(CHAT)[0].reply_markup == {
        "inline_keyboard": [[{"text": "Прочитано", "callback_data": "read:1"}]]
    }
    queued = tg.callback_query(CHAT, "read:1", sent.message_id)
    [update] = await bot.get_updates()
    query = update.callback_query
    assert (
        query is not None and query.data == "read:1" and query.id == queued["callback_query"]["id"]
    )
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Спасибо")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)

    edited = await bot.edit_message_text(
        "Оценка: <b>5</b> ✓", chat_id=CHAT, message_id=sent.message_id
    )
    assert isinstance(edited, Message) and edited.text == "Оценка: 5 ✓"
    assert edited.reply_markup is None  # editing text without a markup drops the keyboard
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Оценка: <b>5</b> ✓", chat_id=CHAT, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        chat_id=CHAT, message_id=sent.message_id, reply_markup=keyboard
    )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
    assert await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)
    assert [c.method for c in tg.calls if c.ok and c.method.startswith("edit")] == [
        "editMessageText",
        "editMessageReplyMarkup",
    ]


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="я" * 33)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "x", reply_markup=keyboard)


async def test_commands_and_logout(bot: Bot, tg: BotApiServer) -> None:
    commands = [BotCommand(command="start", description="Подключить уведомления")]
    assert await bot.set_my_commands(commands)
    assert [c.model_dump() for c in await bot.get_my_commands()] == [
        c.model_dump() for c in commands
    ]
    assert tg.commands() == [{"command": "start", "description": "Подключить уведомления"}]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start!", description="x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    assert await bot.log_out()
    assert await bot.close()


def test_stop_ends_a_pending_long_poll_promptly() -> None:
    server = BotApiServer()
    server.start()
    outcome: list[Any] = []

    def poll() -> None:
        outcome.append(_post(f"{server.base}/bot{TOKEN}/getUpdates?timeout=30"))

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    poller.join(10)
    assert time.monotonic() - started < 5
    assert outcome == [(200, {"ok": True, "result": []})]
    server.stop()  # a second stop is harmless


# --- SMS: the generic JSON gateway ----------------------------------------------------------------


@pytest.fixture
def sms_http() -> Iterator[SmsGateway]:
    with SmsGateway("http") as server:
        yield server


@pytest.fixture
def smsru() -> Iterator[SmsGateway]:
    with SmsGateway("smsru", api_key="SMSRU-KEY") as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _send_http(
    session: aiohttp.ClientSession, gateway: SmsGateway, body: Any, key: str = "test-key"
) -> tuple[int, Any]:
    async with session.post(
        gateway.url, json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        return response.status, await response.json()


SMS = {"to": "+79161234567", "text": "Оценка: 5", "sender": "School5"}


async def test_http_gateway_accepts(sms_http: SmsGateway, http: aiohttp.ClientSession) -> None:
    assert sms_http.url.endswith("/send")
    status, body = await _send_http(http, sms_http, SMS)
    assert status == 200 and body["status"] == "accepted" and body["id"]
    [sms] = await sms_http.wait_for(1)
    assert (sms.to, sms.text, sms.sender, sms.id) == (
        "+79161234567",
        "Оценка: 5",
        "School5",
        body["id"],
    )
    status, _ = await _send_http(http, sms_http, {**SMS, "sender": None})
    assert status == 200 and sms_http.messages[1].sender is None
    assert len(sms_http.messages_to("+7 (916) 123-45-67")) == 2


@pytest.mark.parametrize(
    ("body", "key", "status"),
    [
        (SMS, "wrong-key", 401),
        ({**SMS, "to": "89161234567"}, "test-key", 400),
        ({**SMS, "to": "+7 916 123"}, "test-key", 400),
        ({"to": "+79161234567"}, "test-key", 400),
        ({**SMS, "text": "  "}, "test-key", 400),
        ([SMS], "test-key", 400),
    ],
)
async def test_http_gateway_refuses(
    sms_http: SmsGateway, http: aiohttp.ClientSession, body: Any, key: str, status: int
) -> None:
    got, answer = await _send_http(http, sms_http, body, key)
    assert got == status and isinstance(answer["error"], str)
    assert sms_http.messages == [] and sms_http.requests == 1


async def test_http_gateway_faults(sms_http: SmsGateway, http: aiohttp.ClientSession) -> None:
    sms_http.fail_next(503, times=2)
    sms_http.fail_next(400, times=1, text="number is blacklisted")
    assert await _send_http(http, sms_http, SMS) == (503, {"error": "Service Unavailable"})
    assert (await _send_http(http, sms_http, SMS))[0] == 503
    assert await _send_http(http, sms_http, SMS) == (400, {"error": "number is blacklisted"})
    assert (await _send_http(http, sms_http, SMS))[0] == 200
    assert sms_http.requests == 4 and len(sms_http.messages) == 1
    sms_http.reject_number("+79160000000")
    assert (await _send_http(http, sms_http, {**SMS, "to": "+79160000000"}))[0] == 400


async def test_http_gateway_delay_times_the_client_out(
    sms_http: SmsGateway, http: aiohttp.ClientSession
) -> None:
    sms_http.delay_next(1.0, times=1, deliver=False)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            sms_http.url,
            json=SMS,
            headers={"Authorization": "Bearer test-key"},
            timeout=aiohttp.ClientTimeout(total=0.3),
        ):
            pass
    await asyncio.sleep(1.0)
    assert sms_http.messages == []
    # A delayed request that is delivered: the client gave up, the SMS still went.
    sms_http.delay_next(0.5, times=1)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            sms_http.url,
            json=SMS,
            headers={"Authorization": "Bearer test-key"},
            timeout=aiohttp.ClientTimeout(total=0.2),
        ):
            pass
    await sms_http.wait_for(1, timeout=5)
    assert (await _send_http(http, sms_http, SMS))[0] == 200
    assert sms_http.requests == 3


# --- SMS: SMS.ru ---------------------------------------------------------------------------------


async def _smsru(
    session: aiohttp.ClientSession,
    gateway: SmsGateway,
    *,
    get: bool = False,
    sender: str | None = None,
    **fields: str,
) -> tuple[int, Any]:
    params = {"api_id": "SMSRU-KEY", "to": "79161234567", "msg": "Оценка: 5", "json": "1"}
    params.update(fields)
    if sender is not None:
        params["from"] = sender  # a keyword in Python
    url = gateway.url + "/sms/send"
    request = session.get(url, params=params) if get else session.post(url, data=params)
    async with request as response:
        text = await response.text()
        return response.status, json.loads(text) if params.get("json") == "1" else text


async def test_smsru_accepts_by_post_and_get(
    smsru: SmsGateway, http: aiohttp.ClientSession
) -> None:
    assert ":" in smsru.url and not smsru.url.endswith("/")
    status, body = await _smsru(http, smsru, sender="School5")
    assert status == 200
    assert body == {
        "status": "OK",
        "status_code": 100,
        "sms": {"79161234567": {"status": "OK", "status_code": 100, "sms_id": "000001-10000001"}},
        "balance": 4122.56,
    }
    status, body = await _smsru(http, smsru, get=True, to="+7 (916) 765-43-21")
    assert body["sms"]["79167654321"]["status"] == "OK"
    [first, second] = await smsru.wait_for(2)
    assert (first.to, first.text, first.sender) == ("79161234567", "Оценка: 5", "School5")
    assert second.to == "79167654321" and second.sender is None
    # test=1: answered as usual, nothing sent.
    status, body = await _smsru(http, smsru, test="1")
    assert body["status"] == "OK" and len(smsru.messages) == 2 and smsru.requests == 3


async def test_smsru_errors_come_with_http_200(
    smsru: SmsGateway, http: aiohttp.ClientSession
) -> None:
    assert await _smsru(http, smsru, api_id="wrong") == (
        200,
        {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"},
    )
    status, body = await _smsru(http, smsru, to="12345")
    assert status == 200 and body["status"] == "OK"
    assert body["sms"]["12345"] == {
        "status": "ERROR",
        "status_code": 202,
        "status_text": "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    }
    smsru.reject_number("+79160000000", 207)
    _, body = await _smsru(http, smsru, to="79160000000,79161234567")
    assert body["sms"]["79160000000"]["status_code"] == 207
    assert body["sms"]["79161234567"]["status_code"] == 100
    assert [m.to for m in smsru.messages] == ["79161234567"]


async def test_smsru_faults(smsru: SmsGateway, http: aiohttp.ClientSession) -> None:
    smsru.fail_next_smsru(220, times=1)
    smsru.fail_next(502, times=1)
    assert await _smsru(http, smsru) == (
        200,
        {"status": "ERROR", "status_code": 220, "status_text": SMSRU_TEXTS[220]},
    )
    assert await _smsru(http, smsru) == (502, {"error": "Bad Gateway"})
    assert (await _smsru(http, smsru))[1]["status"] == "OK"
    assert smsru.requests == 3 and len(smsru.messages) == 1
    smsru.delay_next(1.0, deliver=False)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            smsru.url + "/sms/send",
            data={"api_id": "SMSRU-KEY", "to": "79161234567", "msg": "x", "json": "1"},
            timeout=aiohttp.ClientTimeout(total=0.2),
        ):
            pass


async def test_smsru_plain_text_answer(smsru: SmsGateway, http: aiohttp.ClientSession) -> None:
    status, text = await _smsru(http, smsru, json="0")
    assert (status, text) == (200, "100\n000001-10000001\nbalance=4122.56")
    status, text = await _smsru(http, smsru, json="0", api_id="wrong")
    assert text == "200"


async def test_http_gateway_refuses_wrong_method_and_path(
    sms_http: SmsGateway, http: aiohttp.ClientSession
) -> None:
    async with http.get(sms_http.url) as response:
        assert response.status == 405
    async with http.post(sms_http.url.replace("/send", "/other"), json=SMS) as response:
        assert response.status == 404
