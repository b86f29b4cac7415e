"""The generic JSON SMS gateway of SPEC §2 (provider `http`), and the HTTP plumbing every HTTP
SMS gateway shares: one lazily opened aiohttp session and a tolerant JSON reader.

Wire format (unchanged from before the gateways were split out of SmsChannel):
`POST NOTIFIER_SMS_URL` with `Authorization: Bearer NOTIFIER_SMS_API_KEY` and JSON
`{"to": "+79161234567", "text": "...", "sender": "School17" | null}`; the gateway answers
`200 {"id": "...", "status": "..."}`. 5xx and timeouts are retried; 401/403/429 are our
account's (permanent for this message, the number stays usable); any other 4xx is the
message's or the number's (permanent, and the number is marked unusable).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

from notifier.channels.sms_provider import Submitted
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

# What a gateway calls for its session: one shared by the channel's gateways, or the gateway's
# own SharedSession.
SessionSource = Callable[[], aiohttp.ClientSession]

# Exceptions that mean "the gateway did not answer": worth another try later.
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)


class SharedSession:
    """One aiohttp session, opened on first use (aiohttp wants a running loop, which a
    constructor called at start-up may not have) and opened again if something closed it."""

    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def __call__(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class OwnedSession:
    """The session a gateway uses: the caller's (`http` given; the caller closes it) or one of
    its own (closed with the gateway)."""

    def __init__(self, settings: Settings, http: SessionSource | None) -> None:
        self._own: SharedSession | None = None
        if http is None:
            http = self._own = SharedSession(settings.sms_timeout)
        self.get: SessionSource = http

    async def close(self) -> None:
        if self._own is not None:
            await self._own.close()


async def read_json(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (a proxy's HTML error page)."""
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return None
    return body if isinstance(body, dict) else None


def parse_cost(value: object) -> Decimal | None:
    """A provider's price ("3.50", 0.5) as roubles; None for anything that is not one."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


class HttpGateway:
    """SPEC §2's generic JSON gateway."""

    name = "http"

    def __init__(self, settings: Settings, http: SessionSource | None = None) -> None:
        if not settings.sms_url or not settings.sms_api_key:
            raise ValueError("HttpGateway needs sms_url and sms_api_key (config checks both)")
        self._url = settings.sms_url
        self._key = settings.sms_api_key
        self._sender = settings.sms_sender
        self._session = OwnedSession(settings, http)

    async def submit(self, phone: str, text: str, *, segments: int, ref: str) -> Submitted:
        try:
            async with self._session.get().post(
                self._url,
                json={"to": phone, "text": text, "sender": self._sender},
                headers={"Authorization": f"Bearer {self._key.get_secret_value()}"},
            ) as response:
                body = await read_json(response) or {}
                status = response.status
        except TRANSPORT_ERRORS as exc:
            raise TransientDelivery(f"sms gateway: {type(exc).__name__}") from None
        if status >= 500:
            raise TransientDelivery(f"sms gateway {status}")
        if status >= 400:
            error = str(body.get("error") or body.get("message") or "")[:200]
            # 401/403 is our key, 429 our pace: not the parent's number; any other 4xx is.
            raise PermanentDelivery(
                f"sms gateway {status} {error}".strip(), unusable=status not in (401, 403, 429)
            )
        provider_id = body.get("id")
        return Submitted(
            provider_id=str(provider_id) if provider_id is not None else None, segments=segments
        )

    async def close(self) -> None:
        await self._session.close()
