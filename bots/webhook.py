"""Webhook mode: POST /telegram/webhook (the service's bot) and /telegram/webhook/{bot id} (a
school's own bot: Telegram calls each bot's URL, and the answer must come from that bot), both
checked against NOTIFIER_TELEGRAM_WEBHOOK_SECRET."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from notifier.channels.telegram import WEBHOOK_PATH
from notifier.request_deps import refuse_secret
from notifier.roster.service import school_bot_tokens
from notifier.runtime import Runtime

log = logging.getLogger(__name__)
PATH = WEBHOOK_PATH
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def mount(app: FastAPI, *, dispatcher: Dispatcher, bot: Bot, runtime: Runtime, secret: str) -> None:
    """Serve the bot's webhook on the API app."""

    @app.post(PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> JSONResponse:
        return await _serve(request, bot)

    @app.post(PATH + "/{bot_id}", include_in_schema=False)
    async def school_bot_webhook(bot_id: str, request: Request) -> JSONResponse:
        return await _serve(request, await _school_bot(runtime, bot_id))

    async def _serve(request: Request, answering: Bot | None) -> JSONResponse:
        refused = await refuse_secret(
            runtime,
            request,
            given=request.headers.get(SECRET_HEADER, ""),
            expected=secret,
            status=401,
            what="secret token",
        )
        if refused is not None:
            return refused
        if answering is None:
            return JSONResponse({"error": "no school has this bot"}, status_code=404)
        try:
            update: Any = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(update, dict) or "update_id" not in update:
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        try:
            await dispatcher.feed_webhook_update(answering, update, runtime=runtime)
        except Exception as exc:
            # Not log.exception: an error's text may quote the update (pydantic quotes its
            # input: names, chat ids, message text); the class and the place find the fault.
            log.error("bot.update_failed", extra={"error": type(exc).__name__, "at": _at(exc)})
        return JSONResponse({})


async def _school_bot(runtime: Runtime, bot_id: str) -> Bot | None:
    """The school bot with this id, added to the channel when a school registered it since."""
    telegram = runtime.telegram
    if telegram is None:
        return None
    if bot_id not in telegram.bots:
        async with runtime.sessions() as session:
            telegram.use_bots(await school_bot_tokens(session=session))
    return telegram.bots.get(bot_id)


def _at(exc: BaseException) -> str:
    """file:line where `exc` was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


async def register(bot: Bot, *, public_url: str, secret: str) -> None:
    """Tell Telegram where the webhook is (it must be https on port 443, 80, 88 or 8443)."""
    url = public_url.rstrip("/") + PATH
    try:
        await bot.set_webhook(url, secret_token=secret, drop_pending_updates=False)
    except TelegramAPIError as exc:
        # The API still serves the webhook; an operator may register it by other means.
        log.error(
            "bot.webhook_not_registered",
            extra={
                "reason": getattr(exc, "message", str(exc))[:200],
                "hint": "NOTIFIER_PUBLIC_URL must be a public https URL",
            },
        )
