"""What the SMS provider POSTs back: delivery receipts (a sent SMS becomes delivered, or
undelivered and goes by the next channel) and parents' replies ("STOP"). The URL carries
NOTIFIER_SMS_CALLBACK_SECRET, checked in constant time (wrong ones are throttled per address
like wrong tokens); SMS.ru's and smsc.ru's own signatures are checked besides, when they sign.
The body is read as the configured provider sends it (notifier/channels/sms_callbacks.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from notifier.api.deps import RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.channels.sms_callbacks import (
    SMSRU_ANSWER,
    CallbackBatch,
    http_callback,
    smsc_callback,
    smsru_callback,
)
from notifier.config import Settings, SmsProvider
from notifier.delivery.receipts import apply_receipts
from notifier.errors import InvalidInput, NotFound
from notifier.request_deps import refuse_secret
from notifier.roster.sms_stop import answer_reply

log = logging.getLogger(__name__)
router = APIRouter(tags=["sms"], route_class=DocumentedRoute)
PATH = "/sms/callback/{secret}"
MAX_BODY = 1_000_000  # a thousand receipts of SMS.ru's longest form fit well within


@router.post(
    PATH,
    summary="Delivery receipts and replies from the SMS provider (the secret is in the URL)",
    response_class=Response,
    responses=errors_of(400, 403, 404, 429),
)
async def sms_callback(
    secret: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    settings = runtime.settings
    expected = settings.sms_callback_secret
    if expected is None:
        raise NotFound("SMS callbacks are off: set NOTIFIER_SMS_CALLBACK_SECRET")
    refused = await refuse_secret(
        runtime,
        request,
        given=secret,
        expected=expected.get_secret_value(),
        status=403,
        what="secret in the callback URL",
    )
    if refused is not None:
        return refused
    batch = await _read(request, settings)
    applied = await apply_receipts(session=session, receipts=batch.receipts, now=runtime.clock())
    stopped = 0
    for reply in batch.incoming:
        stopped += await answer_reply(
            session=session, sms=runtime.channels.get("sms"), reply=reply, now=runtime.clock()
        )
    if settings.sms_provider is SmsProvider.smsru:
        return PlainTextResponse(SMSRU_ANSWER)  # anything else and SMS.ru repeats the call
    return JSONResponse(
        {
            "delivered": applied.delivered,
            "undelivered": applied.undelivered,
            "pending": applied.pending,
            "repeated": applied.repeated,
            "unknown": len(applied.unknown),
            "stopped": stopped,
        }
    )


async def _read(request: Request, settings: Settings) -> CallbackBatch:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput(f"the body is over {MAX_BODY} bytes; send receipts in smaller lots")
    provider = settings.sms_provider
    if provider is SmsProvider.smsru:
        form = await request.form()
        key = settings.sms_api_key.get_secret_value() if settings.sms_api_key else None
        return smsru_callback(_fields(form), api_key=key, url_verified=True)
    if provider is SmsProvider.smsc:
        form = await request.form()
        signing = settings.sms_callback_secret
        return smsc_callback(
            _fields(form),
            secret=signing.get_secret_value() if signing else None,
            url_verified=True,
        )
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        raise InvalidInput('the body is not JSON: send {"id": …, "status": …}') from None
    return http_callback(parsed)


def _fields(form: Any) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        fields[key] = values[0] if len(values) == 1 else values
    return fields
