"""Webhook mode: MAX POSTs each update to /max/webhook with the subscription's secret in
X-Max-Bot-Api-Secret (checked in constant time; wrong ones are throttled per client address
like API tokens). A body that is not an update is refused with 400 and the reason; an update
the bot does not act on, or one whose answer failed, is taken (200): MAX would retry it for
hours and it would fail the same way."""

from __future__ import annotations

import hmac
import json
import logging
import warnings
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from maxapi import Bot
from maxapi.enums.update import UpdateType
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection

from bots.max.feed import feed
from bots.max.updates import TYPES, Ignored
from notifier.auth import AuthThrottle
from notifier.channels.max import WEBHOOK_PATH
from notifier.runtime import Runtime

log = logging.getLogger(__name__)
PATH = WEBHOOK_PATH
SECRET_HEADER = "X-Max-Bot-Api-Secret"  # noqa: S105 - a header name
HTTPS_HINT = "NOTIFIER_PUBLIC_URL must be a public https URL: MAX delivers to no other"
REFUSED = {
    Ignored.not_an_update: "not a MAX update: a JSON object with update_type is expected",
    Ignored.malformed: "a MAX update whose fields do not parse",
}


def mount(app: FastAPI, *, runtime: Runtime, secret: str) -> None:
    """Serve the MAX bot's webhook on the API app."""

    @app.post(PATH, include_in_schema=False)
    async def max_webhook(request: Request) -> JSONResponse:
        throttle = AuthThrottle(runtime.redis, runtime.settings.auth_failures_per_minute)
        client = request.client.host if request.client else "unknown"
        if (wait := await throttle.retry_after(client)) is not None:
            return JSONResponse(
                {"error": f"too many wrong secrets; try again in {wait} s"},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            await throttle.failed(client)
            log.warning("bot.webhook_denied", extra={"path": PATH})
            return JSONResponse(
                {"error": f"wrong or missing secret in {SECRET_HEADER}"}, status_code=401
            )
        try:
            update: Any = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        outcome = await feed(runtime, update)
        if isinstance(outcome, Ignored) and outcome in REFUSED:
            return JSONResponse({"error": REFUSED[outcome]}, status_code=400)
        return JSONResponse({"ok": True})


async def register(bot: Bot, *, public_url: str, secret: str) -> None:
    """Subscribe the bot's updates to our webhook (POST /subscriptions; the same URL again
    replaces its subscription). MAX delivers to https URLs only."""
    url = public_url.rstrip("/") + PATH
    if not url.startswith("https://"):
        log.warning("max.webhook_not_https", extra={"hint": HTTPS_HINT})
    try:
        with warnings.catch_warnings():
            # maxapi warns of a plain-http URL in Russian, at every start: said above, once.
            warnings.simplefilter("ignore", UserWarning)
            await bot.subscribe_webhook(
                url=url, update_types=[UpdateType(t) for t in TYPES], secret=secret
            )
    except (MaxApiError, MaxConnection, InvalidToken, TimeoutError, ValueError) as exc:
        # The API still serves the webhook; an operator may subscribe it by other means.
        log.error(
            "max.webhook_not_registered",
            extra={
                "error": type(exc).__name__,
                "code": getattr(exc, "code", None),
                "hint": HTTPS_HINT,
            },
        )
