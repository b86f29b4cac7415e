"""Setup step 2, the school's own Telegram bot: a token from @BotFather, checked with getMe (the
page shows the bot's name), webhook or polling chosen, and saved through the same service as
PUT /v1/schools/{id} (which refuses a bot that already serves another school or the service).
The token is never shown again: the page shows the bot's username and that a token is set."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, TypeVar

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramUnauthorizedError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from notifier import audit
from notifier.channels.telegram import WEBHOOK_PATH, bot_id, make_bot
from notifier.config import Settings
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep
from notifier.console.i18n import translator
from notifier.console.pages.setup import (
    problems,
    progress,
    redirect,
    rolled_back,
    setup_school,
    step_of,
)
from notifier.console.web import render
from notifier.db.models import School
from notifier.errors import Conflict, NotifierError
from notifier.roster import service
from notifier.runtime import Runtime
from notifier.signin import SignedIn

log = logging.getLogger(__name__)
router = APIRouter()

# A page waits this long for Telegram at most (aiogram's own default is a minute).
TIMEOUT = 10
T = TypeVar("T")


class Mode(StrEnum):
    """How the bot hears from Telegram."""

    webhook = "webhook"  # Telegram posts updates to the API (needs a public https address)
    polling = "polling"  # `notifier bot` asks Telegram for them


@dataclass(frozen=True)
class BotInfo:
    """The school's bot as Telegram describes it (or why Telegram did not)."""

    bot_id: str
    username: str | None = None
    name: str | None = None
    mode: Mode | None = None
    problem: str | None = None


class BotRefused(NotifierError):
    """Telegram refused a call or did not answer; `reason` is a sentence for the admin."""


async def _call(settings: Settings, token: str, call: Callable[[Bot], Awaitable[T]]) -> T:
    bot = make_bot(token, settings.telegram_api_base)
    try:
        return await call(bot)
    except TelegramUnauthorizedError:
        raise BotRefused(
            "Telegram said 401 Unauthorized: the token is wrong or was revoked; copy the whole "
            "token from @BotFather (/mybots → the bot → API Token)"
        ) from None
    except TelegramAPIError as exc:
        raise BotRefused(f"Telegram said: {exc.message}") from None
    except (ClientDecodeError, TimeoutError, OSError) as exc:
        log.warning("console.bot_unreachable", extra={"error": type(exc).__name__})
        raise BotRefused("Telegram did not answer; try again in a minute") from None
    finally:
        await bot.session.close()


async def describe(settings: Settings, token: str) -> BotInfo:
    """The bot's username and name, and whether Telegram posts its updates to a webhook."""
    try:
        me = await _call(settings, token, lambda bot: bot.get_me(request_timeout=TIMEOUT))
        hook = await _call(
            settings, token, lambda bot: bot.get_webhook_info(request_timeout=TIMEOUT)
        )
    except BotRefused as exc:
        return BotInfo(bot_id(token), problem=exc.reason)
    mode = Mode.webhook if hook.url else Mode.polling
    return BotInfo(bot_id(token), me.username, me.first_name, mode)


async def set_mode(settings: Settings, token: str, mode: Mode) -> None:
    """Point Telegram at our webhook (with the secret it must send back), or take the webhook
    away so that `notifier bot` can poll."""
    if mode is Mode.polling:
        await _call(
            settings,
            token,
            lambda bot: bot.delete_webhook(drop_pending_updates=False, request_timeout=TIMEOUT),
        )
        return
    secret = settings.telegram_webhook_secret
    if secret is None:
        raise BotRefused(
            "webhook mode needs NOTIFIER_TELEGRAM_WEBHOOK_SECRET; ask the operator to set it, "
            "or choose polling"
        )
    # The school's bot has a URL of its own, so its updates are answered by it, not the service's.
    url = f"{settings.public_url.rstrip('/')}{WEBHOOK_PATH}/{bot_id(token)}"
    await _call(
        settings,
        token,
        lambda bot: bot.set_webhook(
            url,
            secret_token=secret.get_secret_value(),
            drop_pending_updates=False,
            request_timeout=TIMEOUT,
        ),
    )


async def _page(
    request: Request,
    user: SignedIn,
    session: SessionDep,
    runtime: Runtime,
    school: School,
    *,
    done: str = "",
    problem: str | None = None,
    mode: str = "",
    status: int = 200,
) -> HTMLResponse:
    settings = runtime.settings
    bot = await describe(settings, school.telegram_token) if school.telegram_token else None
    webhook_ok = settings.telegram_webhook_secret is not None
    return render(
        request,
        "setup_bot.html.j2",
        {
            "school": school,
            "step": step_of(await progress(session, school, user.locale), "bot"),
            "bot": bot,
            "done": done,
            "problem": problem,
            "webhook_ok": webhook_ok,
            "mode": mode or (bot.mode if bot and bot.mode else None) or _default(webhook_ok),
        },
        status=status,
        title=translator(user.locale)("setup.step.bot"),
    )


def _default(webhook_ok: bool) -> Mode:
    return Mode.webhook if webhook_ok else Mode.polling


@router.get("/setup/bot", response_class=HTMLResponse)
async def bot_page(
    request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep, done: str = ""
) -> HTMLResponse:
    school = await setup_school(session, user)
    return await _page(request, user, session, runtime, school, done=done)


ModeField = Annotated[Mode, Form()]


@router.post("/setup/bot", dependencies=[FormChecked])
async def save_bot(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    token: Annotated[str, Form(max_length=200)] = "",
    mode: ModeField = Mode.polling,
) -> Response:
    """Check the token with Telegram, save it, then set the mode (a refusal shows the form
    again with Telegram's reason; the token typed is not shown back)."""
    school = await setup_school(session, user)
    settings = runtime.settings
    try:
        body = service.school_in(school, telegram_token=token.strip())
        assert body.telegram_token is not None
        await _call(settings, body.telegram_token, lambda bot: bot.get_me(request_timeout=TIMEOUT))
        own = settings.telegram_token
        await service.save_school(
            session=session,
            actor=user.principal,
            school_id=school.id,
            body=body,
            service_token=own.get_secret_value() if own else None,
        )
    except (ValidationError, BotRefused, Conflict) as exc:
        await rolled_back(session, school)
        reason = problems(exc) if isinstance(exc, ValidationError) else exc.reason
        status = 409 if isinstance(exc, Conflict) else 422
        return await _page(
            request, user, session, runtime, school, problem=reason, mode=mode, status=status
        )
    log.info("console.bot_saved", extra={"school_id": school.id, "bot_id": bot_id(token.strip())})
    return await _switch(request, user, session, runtime, school, mode, done="saved")


@router.post("/setup/bot/mode", dependencies=[FormChecked])
async def switch_mode(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    mode: ModeField,
) -> Response:
    school = await setup_school(session, user)
    if not school.telegram_token:
        return await _page(
            request,
            user,
            session,
            runtime,
            school,
            problem=translator(user.locale)("setup.bot.no_token"),
            status=422,
        )
    return await _switch(request, user, session, runtime, school, mode, done="mode")


async def _switch(
    request: Request,
    user: SignedIn,
    session: SessionDep,
    runtime: Runtime,
    school: School,
    mode: Mode,
    *,
    done: str,
) -> Response:
    assert school.telegram_token is not None
    try:
        await set_mode(runtime.settings, school.telegram_token, mode)
    except BotRefused as exc:
        # The token stays saved; only the mode did not change.
        return await _page(
            request, user, session, runtime, school, done=done, problem=exc.reason, mode=mode
        )
    audit.record(
        session,
        user.principal,
        f"bot.{mode.value}",
        "school",
        school.id,
        {"bot_id": bot_id(school.telegram_token)},
    )
    await session.commit()
    return redirect(request, f"/setup/bot?done={done}")
