"""smsc.ru's HTTP API (provider `smsc`).

Send: `POST <base>/sys/send.php` with apikey, phones, mes, sender (when set), fmt=3 (JSON
answers), charset=utf-8, cost=3 (the answer carries the price and the balance with the send).
smsc.ru answers `{"id": 12, "cnt": 2, "cost": "7.00", "balance": "1012.50"}`, or
`{"error": "...", "error_code": N}` with HTTP 200. The number goes with its "+": that tells
smsc.ru not to "correct" it (our numbers are E.164 already).

Status: `POST <base>/sys/status.php` with apikey, phone, id, fmt=3 →
`{"status": 1, "last_date": "...", "last_timestamp": ..., "err": 0}`.

`<base>` is NOTIFIER_SMS_URL, https://smsc.ru when unset. The key travels in the body, never
in a URL that a proxy might log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from notifier.channels.sms_callbacks import smsc_receipt
from notifier.channels.sms_http import Endpoint, parse_cost
from notifier.channels.sms_provider import Receipt, Submitted
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

SMSC_URL = "https://smsc.ru"
SEND_PATH = "/sys/send.php"
STATUS_PATH = "/sys/status.php"


class Fault(StrEnum):
    """What an smsc.ru error code means for the message."""

    later = "later"  # try again later
    ours = "ours"  # our account or our request: permanent for this message, the number is fine
    number = "number"  # the number itself: permanent, and the number unusable


# send.php's error codes (https://smsc.ru/api/http/, sending: "ответ сервера и коды ошибок").
SEND_ERRORS = {
    1: Fault.ours,  # error in the parameters
    2: Fault.ours,  # wrong login, password or API key, or an address not on the allowed list
    3: Fault.ours,  # not enough money on the account
    4: Fault.later,  # our IP address is blocked for a while after frequent errors
    5: Fault.ours,  # wrong date format (we send no date)
    6: Fault.ours,  # message forbidden, by its text or by the sender name
    7: Fault.number,  # wrong phone number format
    8: Fault.number,  # the message cannot be delivered to this number
    9: Fault.later,  # the same request twice within a minute (flood)
}
# status.php's error codes (https://smsc.ru/api/http/status_messages/status_answer/).
STATUS_ERRORS = {
    1: Fault.ours,  # error in the parameters
    2: Fault.ours,  # wrong login, password or API key
    4: Fault.later,  # our IP address is blocked for a while
    9: Fault.later,  # more than five status requests for one message within a minute
}
# smsc.ru counts a repeat within a minute as flood: the next try waits that long.
FLOOD_SECONDS = 60.0


class SmscGateway:
    name = "smsc"

    def __init__(self, settings: Settings) -> None:
        if not settings.sms_api_key:
            raise ValueError("SmscGateway needs sms_api_key (config checks it)")
        self.base = (settings.sms_url or SMSC_URL).rstrip("/")
        self._key = settings.sms_api_key
        self._sender = settings.sms_sender
        self._endpoint = Endpoint(self.base, name="smsc.ru", timeout=settings.sms_timeout)

    async def submit(self, phone: str, text: str, *, segments: int, ref: str) -> Submitted:
        params = {
            "apikey": self._key.get_secret_value(),
            "phones": phone,
            "mes": text,
            "fmt": "3",
            "charset": "utf-8",
            "cost": "3",
        }
        if self._sender:
            params["sender"] = self._sender
        body = await self._call(SEND_PATH, params)
        if "error_code" in body or "error" in body:
            raise _failure(body, SEND_ERRORS)
        provider_id = body.get("id")
        count = body.get("cnt")
        return Submitted(
            provider_id=str(provider_id) if provider_id is not None else None,
            # smsc.ru's count is what it bills; ours stands when the answer has none.
            segments=count if isinstance(count, int) and count > 0 else segments,
            cost=parse_cost(body.get("cost")),
        )

    async def status(self, provider_id: str, phone: str) -> Receipt:
        """The message's state now, for the receipt poll. Raises TransientDelivery when smsc.ru
        cannot say now, PermanentDelivery when it never will (wrong key or request)."""
        params = {
            "apikey": self._key.get_secret_value(),
            "phone": phone,
            "id": provider_id,
            "fmt": "3",
            "charset": "utf-8",
        }
        body = await self._call(STATUS_PATH, params)
        if "error_code" in body or "error" in body:
            raise _failure(body, STATUS_ERRORS)
        status, err = body.get("status"), body.get("err")
        if not isinstance(status, int) or isinstance(status, bool):
            raise TransientDelivery("smsc.ru status: the answer has no status code")
        return smsc_receipt(provider_id, status, err if isinstance(err, int) else None)

    async def _call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        answer = await self._endpoint.post_form(params, path)
        # smsc.ru puts its own errors in a 200; these come from the way there.
        if answer.status >= 500 or answer.status == 429:
            raise TransientDelivery(f"smsc.ru HTTP {answer.status}")
        if answer.status >= 400:
            raise PermanentDelivery(
                f"smsc.ru HTTP {answer.status}: check NOTIFIER_SMS_URL", unusable=False
            )
        if answer.body is None:
            raise TransientDelivery("smsc.ru answered something that is not its JSON")
        return answer.body

    async def close(self) -> None:
        await self._endpoint.close()


def _failure(
    body: dict[str, Any], table: dict[int, Fault]
) -> TransientDelivery | PermanentDelivery:
    raw = body.get("error_code")
    code = int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else 0
    reason = f"smsc.ru {code} {str(body.get('error') or '')[:200]}".strip()
    fault = table.get(code, Fault.ours)
    if fault is Fault.later:
        return TransientDelivery(reason, retry_after=FLOOD_SECONDS if code == 9 else None)
    return PermanentDelivery(reason, unusable=fault is Fault.number)
