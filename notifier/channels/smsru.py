"""SMS.ru's HTTP API (provider `smsru`): `POST <sms_url>/sms/send` with api_id, to, msg,
json=1 and from (the sender, when set).

SMS.ru answers HTTP 200 whatever happened; the outcome is in `status`/`status_code`, for the
request as a whole and again per number under `sms` (https://sms.ru/api/send).
"""

from __future__ import annotations

from typing import Any

from notifier.channels.sms_http import Endpoint, parse_cost
from notifier.channels.sms_provider import Submitted
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

# SMS.ru's status codes for a send. The number is dead for us (no route, may not be sent to,
# in our stop list): permanent and the number unusable.
SMSRU_BAD_NUMBER = frozenset({202, 207, 209})
# Try again later: service unavailable, per-number daily and per-minute limits, server error.
SMSRU_TRANSIENT = frozenset({220, 230, 231, 232, 500})
# Every other error code is our account's or our request's (no money 201, sender not agreed
# 204, daily limit 206, wrong api_id 200/301, ...): permanent for this message, number usable.


class SmsRuGateway:
    name = "smsru"

    def __init__(self, settings: Settings) -> None:
        if not settings.sms_url or not settings.sms_api_key:
            raise ValueError("SmsRuGateway needs sms_url and sms_api_key (config checks both)")
        self._key = settings.sms_api_key
        self._sender = settings.sms_sender
        self._endpoint = Endpoint(
            settings.sms_url.rstrip("/") + "/sms/send", name="sms.ru", timeout=settings.sms_timeout
        )

    async def submit(self, phone: str, text: str, *, segments: int, ref: str) -> Submitted:
        params = {
            "api_id": self._key.get_secret_value(),
            "to": phone.lstrip("+"),
            "msg": text,
            "json": "1",
        }
        if self._sender:
            params["from"] = self._sender
        answer = await self._endpoint.post_form(params)
        if answer.status >= 500:
            raise TransientDelivery(f"sms.ru HTTP {answer.status}")
        body = answer.body or {}
        if body.get("status") != "OK":
            raise _error(body)
        per_number: dict[str, Any] = next(iter((body.get("sms") or {}).values()), {})
        if not isinstance(per_number, dict) or per_number.get("status") != "OK":
            raise _error(per_number if isinstance(per_number, dict) else {})
        sms_id = per_number.get("sms_id")
        return Submitted(
            provider_id=str(sms_id) if sms_id else None,
            segments=segments,
            cost=parse_cost(per_number.get("cost")),
        )

    async def close(self) -> None:
        await self._endpoint.close()


def _error(body: dict[str, Any]) -> TransientDelivery | PermanentDelivery:
    try:
        code = int(body.get("status_code") or 0)
    except (TypeError, ValueError):
        code = 0
    reason = f"sms.ru {code} {str(body.get('status_text') or '')[:200]}".strip()
    if code in SMSRU_TRANSIENT:
        return TransientDelivery(reason)
    return PermanentDelivery(reason, unusable=code in SMSRU_BAD_NUMBER)
