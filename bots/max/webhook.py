"""Webhook mode: MAX POSTs each update to /max/webhook with the subscription's secret in
X-Max-Bot-Api-Secret (checked in constant time; wrong ones are throttled per client address
like API tokens). A body that is not an update is refused with 400 and the reason; an update
the bot does not act on, or one whose answer failed, is taken (200): MAX would retry it for
hours and it would fail the same way."""

from __future__ import annotations

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
from notifier.channels.max import WEBHOOK_PATH
from notifier.request_deps import refuse_secret
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
        refused = await refuse_secret(
            runtime,
            request,
            given=request.headers.get(SECRET_HEADER, ""),
            expected=secret,
            status=401,
            what=f"secret in {SECRET_HEADER}",
        )
        if refused is not None:
            return refused
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
