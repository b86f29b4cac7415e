"""The local MAX Bot API server (tests/servers/max/) answers like platform-api2.max.ru: driven
by maxapi as production drives it, and by plain HTTP for what maxapi would never send."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from maxapi import Bot, Dispatcher
from maxapi.client.default import DefaultConnectionProperties
from maxapi.enums.message_link_type import MessageLinkType
from maxapi.enums.parse_mode import ParseMode
from maxapi.enums.update import UpdateType
from maxapi.exceptions import InvalidToken, MaxApiError
from maxapi.methods.types.getted_updates import process_update_request
from maxapi.types.attachments import Attachments
from maxapi.types.attachments.buttons import CallbackButton
from maxapi.types.message import NewMessageLink
from maxapi.types.updates.bot_started import BotStarted
from maxapi.types.updates.message_callback import MessageCallback, MessageForCallback
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder

from tests.servers.max import SECRET_HEADER, MarkupError, MaxApiServer, parse, plain

USER = 70_001
OTHER = 70_002


@pytest.fixture
async def bot(max_api: MaxApiServer) -> AsyncIterator[Bot]:
    # No retries: a programmed 503 must reach the test, not be retried for seconds.
    bot = Bot(max_api.token, default_connection=DefaultConnectionProperties(max_retries=0))
    bot.set_api_url(max_api.base)
    try:
        yield bot
    finally:
        await bot.close_session()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    server: MaxApiServer,
    method: str,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    body: Any = None,
    token: str | None = "default",
) -> tuple[int, Any]:
    """One raw request: (status, parsed JSON)."""
    headers = (
        {} if token is None else {"Authorization": server.token if token == "default" else token}
    )
    params = {k: str(v) for k, v in (query or {}).items()}
    async with http.request(
        method, server.base + path, params=params, json=body, headers=headers
    ) as response:
        return response.status, await response.json()


async def post_message(
    http: aiohttp.ClientSession, server: MaxApiServer, body: Any, user_id: int = USER
) -> tuple[int, Any]:
    return await call(http, server, "POST", "/messages", query={"user_id": user_id}, body=body)


def inline_keyboard(*buttons: CallbackButton) -> list[Attachments]:
    """One row of buttons, as maxapi's builder makes it."""
    builder = InlineKeyboardBuilder()  # type: ignore[no-untyped-call]
    return [builder.row(*buttons).as_markup()]


def keyboard(*rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "inline_keyboard", "payload": {"buttons": list(rows)}}


def callback(text: str = "Да", payload: str = "yes") -> dict[str, Any]:
    return {"type": "callback", "text": text, "payload": payload}


def link(text: str = "Сайт", url: str = "https://school.example") -> dict[str, Any]:
    return {"type": "link", "text": text, "url": url}


# -- the bot and its token --------------------------------------------------------------------


async def test_get_me_is_the_bot(bot: Bot, max_api: MaxApiServer) -> None:
    me = await bot.get_me()
    assert (me.user_id, me.username, me.is_bot) == (590_001, "notifier_test_bot", True)
    assert me.last_activity_time


async def test_the_token_goes_in_the_authorization_header_only(
    http: aiohttp.ClientSession, max_api: MaxApiServer
) -> None:
    assert await call(http, max_api, "GET", "/me", token=None) == (
        401,
        {"code": "verify.token", "message": "No access token"},
    )
    assert await call(http, max_api, "GET", "/me", token="nope") == (
        401,
        {"code": "verify.token", "message": "Invalid access_token"},
    )
    status, body = await call(http, max_api, "GET", "/me", token=f"Bearer {max_api.token}")
    assert (status, body["message"]) == (401, "Malformed access token")
    # The deprecated query parameter is refused even beside a good header.
    status, body = await call(http, max_api, "GET", "/me", query={"access_token": max_api.token})
    assert status == 401 and "Authorization: <token>" in body["message"]
    status, body = await call(http, max_api, "GET", "/nowhere")
    assert (status, body["code"]) == (404, "not.found")
    status, body = await call(http, max_api, "PATCH", "/messages")
    assert (status, body["code"]) == (405, "method.not.allowed")
    assert [c.status for c in max_api.calls] == [401, 401, 401, 401, 404, 405]


async def test_maxapi_with_a_wrong_token_raises_invalid_token(max_api: MaxApiServer) -> None:
    bot = Bot("wrong-token")
    bot.set_api_url(max_api.base)
    try:
        with pytest.raises(InvalidToken, match="Invalid access_token"):
            await bot.get_me()
    finally:
        await bot.close_session()


# -- sending ------------------------------------------------------------------------------------


async def test_send_html_returns_the_message_as_max_does(bot: Bot, max_api: MaxApiServer) -> None:
    max_api.bot_started(USER)
    result = await bot.send_message(
        user_id=USER,
        text='<b>Завтра</b> контрольная &amp; <a href="https://school.example/t">расписание</a>',
        format=ParseMode.HTML,
        attachments=inline_keyboard(CallbackButton(text="Прочитано", payload="ack:1")),
        disable_link_preview=True,
    )
    assert result is not None
    message = result.message
    assert message.body is not None and message.sender is not None
    assert message.body.text == "Завтра контрольная & расписание"
    assert [(m.type, m.from_, m.length) for m in message.body.markup or []] == [
        ("strong", 0, 6),
        ("link", 21, 10),
    ]
    assert message.recipient.user_id == USER
    assert message.recipient.chat_id == max_api.dialog_chat_id(USER) != USER
    assert message.sender.user_id == max_api.bot_user_id
    assert message.body.mid.startswith("mid.")

    [sent] = max_api.messages_to(USER)
    assert sent.accepted and sent.mid == message.body.mid
    assert sent.plain == message.body.text and sent.format == "html"
    assert sent.keyboard == [
        [{"type": "callback", "text": "Прочитано", "payload": "ack:1", "intent": "default"}]
    ]
    assert sent.disable_link_preview is True
    fetched = await bot.get_message(message.body.mid)
    assert fetched.body is not None and fetched.body.text == message.body.text


async def test_a_dialog_chat_id_reaches_the_same_user(bot: Bot, max_api: MaxApiServer) -> None:
    await bot.send_message(chat_id=max_api.dialog_chat_id(USER), text="по chat_id")
    await bot.send_message(user_id=USER, text="по user_id")
    assert [m.plain for m in max_api.messages_to(USER)] == ["по chat_id", "по user_id"]


async def test_replies_and_forwards_link_a_message(bot: Bot, max_api: MaxApiServer) -> None:
    asked = max_api.user_message(USER, "Когда собрание?")["message"]["body"]["mid"]
    reply = await bot.send_message(
        user_id=USER, text="В четверг", link=NewMessageLink(type=MessageLinkType.REPLY, mid=asked)
    )
    assert reply is not None and reply.message.link is not None
    assert reply.message.link.message.text == "Когда собрание?"
    forward = await bot.send_message(
        user_id=OTHER, link=NewMessageLink(type=MessageLinkType.FORWARD, mid=asked)
    )
    assert forward is not None and forward.message.link is not None
    with pytest.raises(MaxApiError) as refused:
        await bot.send_message(
            user_id=OTHER,
            text="и ещё",
            link=NewMessageLink(type=MessageLinkType.FORWARD, mid=asked),
        )
    assert refused.value.raw == {
        "code": "proto.payload",
        "message": "errors.forward.text.not-empty",
    }


async def test_text_length_is_4000_utf16_units_of_the_raw_text(
    http: aiohttp.ClientSession, bot: Bot, max_api: MaxApiServer
) -> None:
    ok = await post_message(http, max_api, {"text": "я" * 4000})
    assert ok[0] == 200
    status, body = await post_message(http, max_api, {"text": "я" * 4001})
    assert (status, body) == (
        400,
        {"code": "proto.payload", "message": "Field 'text' size (4001) must be at most 4000"},
    )
    # Markup counts: MAX checks the field before it parses it.
    status, _ = await post_message(
        http, max_api, {"text": "<b>" + "я" * 3995 + "</b>", "format": "html"}
    )
    assert status == 400
    # maxapi is stricter than the docs: it refuses 4000 characters itself.
    with pytest.raises(ValueError, match="4000"):
        await bot.send_message(user_id=USER, text="я" * 4000)
    assert max_api.attempts == 3 and len(max_api.rejected) == 2


@pytest.mark.parametrize(
    ("fmt", "text", "fragment"),
    [
        ("html", "<b>жирный", "<b> opened at position 0 is never closed"),
        ("html", "<b><i>x</b></i>", "Unexpected </b> at position 7"),
        ("html", "<span>x</span>", "Unsupported tag <span>"),
        ("html", "<br>", "Unsupported tag <br>"),
        ("html", '<b class="x">y</b>', "attribute 'class'"),
        ("html", "<a>x</a>", "needs href"),
        ("html", '<a href="javascript:x()">x</a>', "http:// and https://"),
        ("html", "</i>", "no <i> is open"),
        ("html", "a <b", "Unclosed tag"),
        ("markdown", "**жирный", "'**' opened at position 0 is never closed"),
        ("markdown", "курсив_ и_", "'_' at position 6 closes nothing"),
        ("markdown", "**a _b** c_", "close the inner one first"),
        ("markdown", "`код", "` opened at position 0 is never closed"),
        ("markdown", "++подчёркнуто", "never closed"),
        ("markdown", "[ссылка](ftp://x)", "http:// and https://"),
        ("markdown", "[ссылка](https://x", "no ')'"),
    ],
)
async def test_bad_markup_is_refused(
    http: aiohttp.ClientSession, max_api: MaxApiServer, fmt: str, text: str, fragment: str
) -> None:
    status, body = await post_message(http, max_api, {"text": text, "format": fmt})
    assert status == 400 and body["code"] == "proto.payload"
    assert fragment in body["message"]
    [sent] = max_api.rejected
    assert (sent.status, sent.error, sent.text, sent.plain) == (400, "proto.payload", text, "")


async def test_unknown_html_tags_are_stripped_when_not_strict() -> None:
    with MaxApiServer(strict_markup=False) as server:
        bot = Bot(server.token)
        bot.set_api_url(server.base)
        try:
            result = await bot.send_message(
                user_id=USER, text='<span class="x">a</span> <b>b</b>', format=ParseMode.HTML
            )
        finally:
            await bot.close_session()
    assert result is not None and result.message.body is not None
    assert result.message.body.text == "a b"


def test_what_the_parent_reads() -> None:
    assert plain("<b>Итоги</b> &lt;5А&gt; &#8470;1", "html") == "Итоги <5А> №1"
    assert plain("**Итоги** 5\\*3, snake_case, 2 * 3", "markdown") == "Итоги 5*3, snake_case, 2 * 3"
    assert plain("# Заголовок\n> цитата\n`код`", "markdown") == "Заголовок\nцитата\nкод"
    assert plain("[Иванова](max://user/7) и __всё__ ~~нет~~", "markdown") == "Иванова и всё нет"
    assert plain("<b>как есть</b>", None) == "<b>как есть</b>"
    assert plain("a < b, <Иванов>", "html") == "a < b, <Иванов>"
    text, markup = parse("^^важно^^ ++да++ 🙂 *ок*", "markdown")
    assert text == "важно да 🙂 ок"
    # Offsets are UTF-16 units: the emoji counts two.
    assert [(m.type, m.start, m.length) for m in markup] == [
        ("highlighted", 0, 5),
        ("underline", 6, 2),
        ("emphasized", 12, 2),
    ]
    _, [mention] = parse('<a href="max://user/7">Иванова</a>', "html")
    assert (mention.type, mention.user_id) == ("user_mention", 7)
    with pytest.raises(MarkupError):
        plain("<u>x", "html")


@pytest.mark.parametrize(
    ("query", "body", "fragment"),
    [
        ({"user_id": USER}, {"text": "x", "parse_mode": "HTML"}, "Unknown field 'parse_mode'"),
        ({"user_id": USER}, {"text": "x", "reply_markup": {}}, "Unknown field 'reply_markup'"),
        ({"user_id": USER}, {"text": "   "}, "Message is empty"),
        ({"user_id": USER}, {"text": "<b></b>", "format": "html"}, "Message is empty"),
        ({"user_id": USER}, {"attachments": []}, "Message is empty"),
        ({"user_id": USER}, {"text": "x", "format": "HTML"}, "must be one of"),
        ({"user_id": USER}, {"text": "x", "notify": "no"}, "true or false"),
        ({}, {"text": "x"}, "Missing required parameter: user_id or chat_id"),
        ({"user_id": USER, "chat_id": 5}, {"text": "x"}, "not both"),
        ({"user_id": "abc"}, {"text": "x"}, "Invalid user_id"),
        ({"user_id": USER, "disable_link_preview": "1"}, {"text": "x"}, "true or false"),
        ({"user_id": USER}, {"text": "x", "link": {"type": "reply", "mid": "mid.00"}}, "Invalid"),
        (
            {"user_id": USER},
            {"attachments": [{"type": "gif", "payload": {}}]},
            "Unknown attachment",
        ),
    ],
)
async def test_malformed_requests_are_refused(
    http: aiohttp.ClientSession,
    max_api: MaxApiServer,
    query: dict[str, Any],
    body: dict[str, Any],
    fragment: str,
) -> None:
    status, answer = await call(http, max_api, "POST", "/messages", query=query, body=body)
    assert status == 400 and answer["code"] == "proto.payload"
    assert fragment in answer["message"]
    assert len(max_api.rejected) == 1


# -- the inline keyboard ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([[callback()]] * 31, "31 rows; MAX allows at most 30"),
        ([[callback()] * 8], "8 buttons; MAX allows at most 7"),
        ([[link()] * 2 + [callback()] * 2], "4 buttons; MAX allows at most 3"),
        ([[]], "row 0 is empty"),
        ([], "at least 1 row"),
        ([[callback(text="")]], "1 to 128"),
        ([[callback(text="я" * 129)]], "1 to 128"),
        ([[callback(payload="p" * 1025)]], "1 to 1024"),
        ([[{"type": "callback", "text": "Да"}]], "1 to 1024"),
        ([[link(url="ftp://school.example")]], "Must have only http/https links format in buttons"),
        ([[{"type": "link", "text": "x"}]], "Must have only http/https links"),
        ([[{"type": "chat", "text": "x", "chat_title": "y"}]], "Unknown button type 'chat'"),
        ([[{**callback(), "callback_data": "x"}]], "Unknown field 'callback_data'"),
        ([[{**callback(), "intent": "loud"}]], "default, positive or negative"),
        ([[{"type": "open_app", "text": "x"}]], "needs web_app or contact_id"),
    ],
)
async def test_bad_keyboards_are_refused(
    http: aiohttp.ClientSession,
    max_api: MaxApiServer,
    rows: list[list[dict[str, Any]]],
    fragment: str,
) -> None:
    status, body = await post_message(
        http, max_api, {"text": "Выберите", "attachments": [keyboard(*rows)]}
    )
    assert (status, body["code"]) == (400, "proto.payload")
    assert fragment in body["message"]


async def test_the_largest_keyboards_pass(
    http: aiohttp.ClientSession, max_api: MaxApiServer
) -> None:
    full = [[callback(payload=f"{r}.{c}") for c in range(7)] for r in range(30)]
    wide = [[link(), {"type": "request_contact", "text": "Телефон"}, callback()]]
    for rows in (full, wide):
        status, _ = await post_message(
            http, max_api, {"text": "x", "attachments": [keyboard(*rows)]}
        )
        assert status == 200
    status, body = await post_message(
        http, max_api, {"text": "x", "attachments": [keyboard(*full, [callback()])]}
    )
    assert status == 400 and "31 rows" in body["message"]
    assert len(max_api.accepted) == 2


# -- long polling -------------------------------------------------------------------------------


async def test_updates_with_marker_and_types(bot: Bot, max_api: MaxApiServer) -> None:
    started = max_api.bot_started(USER, "link-code", name="Ольга", locale="en")
    max_api.user_message(USER, "Здравствуйте")
    first = await bot.get_updates(timeout=0)
    assert [u["update_type"] for u in first["updates"]] == ["bot_started", "message_created"]
    assert first["updates"][0] == started
    assert started["chat_id"] == max_api.dialog_chat_id(USER)
    assert (started["payload"], started["user_locale"], started["user"]["first_name"]) == (
        "link-code",
        "en",
        "Ольга",
    )
    # Without a marker nothing is committed: the same updates come again.
    again = await bot.get_updates(timeout=0)
    assert again == first
    # maxapi parses them into its events.
    events = await process_update_request(events=first, bot=bot)
    assert isinstance(events[0], BotStarted) and events[0].payload == "link-code"
    # …and fetch the dialog each one happened in (GET /chats/{id}).
    assert events[0].chat is not None and events[0].chat.type == "dialog"
    assert events[0].chat.dialog_with_user is not None
    assert events[0].chat.dialog_with_user.user_id == USER
    # The marker commits everything before it.
    empty = await bot.get_updates(timeout=0, marker=first["marker"])
    assert empty == {"updates": [], "marker": first["marker"]}
    assert max_api.pending_updates() == []

    max_api.user_message(USER, "раз")
    max_api.bot_started(OTHER)
    max_api.user_message(USER, "два")
    only = await bot.get_updates(
        timeout=0, marker=first["marker"], types=[UpdateType.MESSAGE_CREATED]
    )
    assert [u["message"]["body"]["text"] for u in only["updates"]] == ["раз", "два"]
    limited = await bot.get_updates(timeout=0, limit=1, marker=first["marker"])
    assert len(limited["updates"]) == 1 and limited["marker"] == first["marker"] + 1
    assert max_api.bot_started(OTHER, "x" * 129)["payload"] is None  # MAX drops a long one


async def test_long_poll_waits_and_wakes_when_an_update_arrives(
    bot: Bot, max_api: MaxApiServer
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await max_api.wait_for_poll(timeout=5)
    begun = time.monotonic()
    max_api.user_message(USER, "Вопрос")
    got = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - begun < 2
    assert got["updates"][0]["message"]["body"]["text"] == "Вопрос"

    begun = time.monotonic()
    quiet = await bot.get_updates(timeout=1, marker=got["marker"])
    assert quiet["updates"] == [] and 0.9 < time.monotonic() - begun < 3


async def test_update_parameters_are_checked(
    http: aiohttp.ClientSession, max_api: MaxApiServer
) -> None:
    status, body = await call(http, max_api, "GET", "/updates", query={"timeout": 91})
    assert (status, body["message"]) == (400, "Field 'timeout' value (91) must be at most 90")
    status, body = await call(http, max_api, "GET", "/updates", query={"limit": 0})
    assert (status, body["message"]) == (400, "Field 'limit' value (0) must be at least 1")
    status, body = await call(http, max_api, "GET", "/updates", query={"types": "message_new"})
    assert status == 400 and "message_new" in body["message"]


async def test_a_dispatcher_polls_and_answers(bot: Bot, max_api: MaxApiServer) -> None:
    dp = Dispatcher()

    @dp.bot_started()
    async def started(event: BotStarted) -> None:
        await bot.send_message(user_id=event.user.user_id, text=f"Код {event.payload} принят")

    polling = asyncio.create_task(dp.start_polling(bot))
    try:
        await max_api.wait_for_poll(timeout=5)
        max_api.bot_started(USER, "X1")
        [sent] = await max_api.wait_for_messages(1, timeout=5)
        assert (sent.user_id, sent.plain) == (USER, "Код X1 принят")
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)


# -- webhooks -----------------------------------------------------------------------------------


@pytest.fixture
async def webhook() -> AsyncIterator[dict[str, Any]]:
    """A local endpoint that records what MAX POSTs and answers `state["status"]`."""
    state: dict[str, Any] = {"status": 200, "got": []}

    async def receive(request: web.Request) -> web.Response:
        state["got"].append((dict(request.headers), await request.json()))
        return web.json_response({}, status=state["status"])

    app = web.Application()
    app.router.add_post("/max/webhook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}/max/webhook"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_webhook_gets_updates_with_the_secret_header(
    bot: Bot, max_api: MaxApiServer, webhook: dict[str, Any]
) -> None:
    with pytest.warns(UserWarning, match="HTTPS"):  # maxapi warns of plain HTTP, rightly
        await bot.subscribe_webhook(url=webhook["url"], secret="s3cret-Value_1")
    [subscription] = (await bot.get_subscriptions()).subscriptions
    assert subscription.url == webhook["url"] and subscription.update_types is None

    max_api.bot_started(USER, "code")
    [delivery] = await max_api.wait_for_deliveries(1)
    assert delivery.delivered and delivery.secret == "s3cret-Value_1"
    [(headers, update)] = webhook["got"]
    assert headers[SECRET_HEADER] == "s3cret-Value_1"
    assert update["update_type"] == "bot_started" and update["payload"] == "code"

    # Long polling and webhooks exclude each other.
    with pytest.raises(MaxApiError) as refused:
        await bot.get_updates(timeout=0)
    assert refused.value.code == 405

    webhook["status"] = 500
    max_api.user_message(USER, "не дошло")
    failed = (await max_api.wait_for_deliveries(2))[1]
    assert failed.status == 500 and not failed.delivered
    webhook["status"] = 200
    assert max_api.redeliver() == 1
    third = (await max_api.wait_for_deliveries(3))[2]
    assert third.delivered and third.update == failed.update

    assert (await bot.unsubscribe_webhook(url=webhook["url"])).success
    max_api.user_message(USER, "снова опрос")
    polled = await bot.get_updates(timeout=0)
    assert [u["message"]["body"]["text"] for u in polled["updates"]] == ["снова опрос"]


async def test_webhook_update_types_and_an_unreachable_endpoint(
    http: aiohttp.ClientSession, max_api: MaxApiServer, webhook: dict[str, Any]
) -> None:
    body = {"url": webhook["url"], "update_types": ["message_callback"]}
    assert await call(http, max_api, "POST", "/subscriptions", body=body) == (
        200,
        {"success": True},
    )
    max_api.bot_started(USER)  # not subscribed to: dropped
    await post_message(http, max_api, {"text": "?", "attachments": [keyboard([callback()])]})
    max_api.press(USER, max_api.accepted[0].mid or "", "yes")
    [delivery] = await max_api.wait_for_deliveries(1)
    assert delivery.update["update_type"] == "message_callback"

    dead = "http://127.0.0.1:9/max/webhook"
    await call(http, max_api, "POST", "/subscriptions", body={"url": dead})
    max_api.user_message(USER, "x")
    reached = await max_api.wait_for_deliveries(2)
    assert reached[-1].url == dead and reached[-1].status is None and reached[-1].error


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"url": "http://school.example/hook"}, "must be https://"),
        ({"url": "https://school.example/hook", "secret": "abc"}, "5 to 256 characters"),
        ({"url": "https://school.example/hook", "secret": "bad secret!"}, "5 to 256 characters"),
        ({"url": "https://school.example/hook", "update_types": ["message"]}, "'message'"),
        ({"url": "https://school.example/hook", "events": ["x"]}, "Unknown field 'events'"),
        ({}, "Missing required parameter: url"),
    ],
)
async def test_bad_subscriptions_are_refused(
    http: aiohttp.ClientSession, max_api: MaxApiServer, body: dict[str, Any], fragment: str
) -> None:
    status, answer = await call(http, max_api, "POST", "/subscriptions", body=body)
    assert status == 400 and fragment in answer["message"]
    assert max_api.subscriptions == []


# -- callbacks, edits, deletions ------------------------------------------------------------------


async def test_callback_answers_notify_and_replace_the_message(
    bot: Bot, max_api: MaxApiServer
) -> None:
    kb = inline_keyboard(
        CallbackButton(text="Да", payload="yes"), CallbackButton(text="Нет", payload="no")
    )
    sent = await bot.send_message(user_id=USER, text="Придёте?", attachments=kb)
    assert sent is not None and sent.message.body is not None
    mid = sent.message.body.mid
    with pytest.raises(ValueError, match="no callback button with payload 'maybe'"):
        max_api.press(USER, mid, "maybe")
    with pytest.raises(ValueError, match="not in user"):
        max_api.press(OTHER, mid, "yes")

    max_api.press(USER, mid, "yes")
    [event] = await process_update_request(events=await bot.get_updates(timeout=0), bot=bot)
    assert isinstance(event, MessageCallback) and event.callback.payload == "yes"
    await event.ack(notification="Спасибо!")
    await bot.send_callback(
        callback_id=event.callback.callback_id,
        message=MessageForCallback(
            text="Вы ответили: **да**", format=ParseMode.MARKDOWN, attachments=[]
        ),
    )
    first, second = max_api.answers_to(USER)
    assert (first.notification, first.mid, first.message) == ("Спасибо!", mid, None)
    assert second.message is not None and second.message["text"] == "Вы ответили: **да**"
    now = max_api.message(mid)
    assert now is not None and now["body"]["text"] == "Вы ответили: да"
    assert max_api.keyboard(mid) is None  # attachments: [] removed it
    assert [e.via for e in max_api.edits_of(mid)] == ["answer"]


async def test_bad_answers_are_refused(http: aiohttp.ClientSession, max_api: MaxApiServer) -> None:
    status, body = await call(
        http, max_api, "POST", "/answers", query={"callback_id": "nope"}, body={"notification": "x"}
    )
    assert (status, body) == (
        400,
        {"code": "proto.payload", "message": "callback_id: Callback identifier is invalid"},
    )
    status, body = await call(
        http, max_api, "POST", "/answers", query={"callback_id": "nope"}, body={}
    )
    assert status == 400 and body["message"] == (
        "Invalid request. `message` or `notification` required"
    )
    status, body = await call(http, max_api, "POST", "/answers", body={"notification": "x"})
    assert status == 400 and body["message"] == "Missing required parameter: callback_id"
    assert [a.status for a in max_api.answers] == [400, 400, 400]


async def test_edit_and_delete(bot: Bot, max_api: MaxApiServer) -> None:
    kb = inline_keyboard(CallbackButton(text="Ок", payload="ok"))
    sent = await bot.send_message(user_id=USER, text="Было", attachments=kb)
    assert sent is not None and sent.message.body is not None
    mid = sent.message.body.mid
    # maxapi sends "attachments": [] with every edit, which (as documented) drops the keyboard.
    await bot.edit_message(mid, text="<i>Стало</i>", format=ParseMode.HTML, attachments=kb)
    now = max_api.message(mid)
    assert now is not None and now["body"]["text"] == "Стало"
    assert max_api.keyboard(mid) is not None
    await bot.edit_message(mid, text="Без кнопок")
    assert max_api.keyboard(mid) is None
    assert [e.plain for e in max_api.edits_of(mid)] == ["Стало", "Без кнопок"]

    assert (await bot.delete_message(mid)).success
    assert max_api.message(mid) is None
    with pytest.raises(MaxApiError) as gone:
        await bot.get_message(mid)
    assert gone.value.code == 404
    with pytest.raises(MaxApiError) as again:
        await bot.edit_message(mid, text="поздно")
    assert again.value.code == 404


# -- faults -------------------------------------------------------------------------------------


async def test_programmed_faults(bot: Bot, max_api: MaxApiServer) -> None:
    max_api.fail_next(429)
    with pytest.raises(MaxApiError) as limited:
        await bot.send_message(user_id=USER, text="1")
    assert limited.value.code == 429
    assert limited.value.raw == {"code": "too.many.requests", "message": "Too many requests"}

    max_api.fail_next(503, times=2, user_id=OTHER)
    await bot.send_message(user_id=USER, text="2")  # someone else's fault
    for _ in range(2):
        with pytest.raises(MaxApiError) as unavailable:
            await bot.send_message(chat_id=max_api.dialog_chat_id(OTHER), text="3")
        assert unavailable.value.code == 503
    await bot.send_message(user_id=OTHER, text="4")
    assert [(m.status, m.error) for m in max_api.sent] == [
        (429, "too.many.requests"),
        (200, None),
        (503, "service.unavailable"),
        (503, "service.unavailable"),
        (200, None),
    ]


async def test_blocked_and_missing_users(bot: Bot, max_api: MaxApiServer) -> None:
    max_api.block(USER)
    with pytest.raises(MaxApiError) as blocked:
        await bot.send_message(user_id=USER, text="x")
    assert blocked.value.code == 403
    assert blocked.value.raw == {"code": "chat.denied", "message": "error.dialog.suspended"}
    max_api.bot_started(USER)  # opening the bot again lifts it
    await bot.send_message(user_id=USER, text="снова")

    stopped = max_api.bot_stopped(OTHER)
    assert stopped["update_type"] == "bot_stopped"
    with pytest.raises(MaxApiError) as suspended:
        await bot.send_message(chat_id=max_api.dialog_chat_id(OTHER), text="x")
    assert suspended.value.code == 403

    max_api.missing(user_id=70_003)
    with pytest.raises(MaxApiError) as missing:
        await bot.send_message(user_id=70_003, text="x")
    chat = max_api.dialog_chat_id(70_003)
    assert missing.value.code == 404
    assert missing.value.raw == {"code": "chat.not.found", "message": f"Chat {chat} not found"}
    assert [m.status for m in max_api.sent] == [403, 200, 403, 404]


async def test_flood_limits(bot: Bot, max_api: MaxApiServer) -> None:
    max_api.set_flood_limits(per_chat_per_second=2)
    await bot.send_message(user_id=USER, text="1")
    await bot.send_message(chat_id=max_api.dialog_chat_id(USER), text="2")
    with pytest.raises(MaxApiError) as third:
        await bot.send_message(user_id=USER, text="3")
    assert third.value.code == 429
    assert third.value.raw == {"code": "too.many.requests", "message": "Too many requests"}
    await bot.send_message(user_id=OTHER, text="другому можно")
    assert max_api.max_per_second() == 3

    max_api.set_flood_limits(per_second=3)
    for _ in range(3):
        await bot.get_me()
    with pytest.raises(MaxApiError) as fourth:
        await bot.send_message(user_id=OTHER, text="x")
    assert fourth.value.code == 429
    assert max_api.rejected[-1].error == "too.many.requests"
    max_api.clear()
    await bot.send_message(user_id=USER, text="после clear")
    assert len(max_api.sent) == 1


def test_stop_ends_a_pending_long_poll_promptly() -> None:
    server = MaxApiServer()
    server.start()

    async def poll() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            return await call(session, server, "GET", "/updates", query={"timeout": 60})

    async def scenario() -> tuple[int, Any]:
        task = asyncio.create_task(poll())
        await server.wait_for_poll(timeout=5)
        begun = time.monotonic()
        await asyncio.to_thread(server.stop)
        assert time.monotonic() - begun < 5
        return await asyncio.wait_for(task, 5)

    status, body = asyncio.run(scenario())
    assert status == 200 and body["updates"] == []


async def test_https_with_a_test_ca() -> None:
    ca = trustme.CA()
    server = MaxApiServer()
    server.ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server.ssl_context)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with server:
        assert server.base.startswith("https://127.0.0.1:")
        # No keep-alive: the connection ends before the server does.
        connector = aiohttp.TCPConnector(ssl=client, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            status, body = await call(http, server, "GET", "/me")
        assert (status, body["username"]) == (200, server.username)
