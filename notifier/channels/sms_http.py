"""The generic JSON SMS gateway of SPEC §2 (provider `http`), and the HTTP plumbing every HTTP
SMS gateway shares: a gateway's address over kept-alive connections (channels/http1.py) and a
tolerant reading of its answers.

Wire format (unchanged from before the gateways were split out of SmsChannel):
`POST NOTIFIER_SMS_URL` with `Authorization: Bearer NOTIFIER_SMS_API_KEY` and JSON
`{"to": "+79161234567", "text": "...", "sender": "School17" | null}`; the gateway answers
`200 {"id": "...", "status": "..."}`. 5xx and timeouts are retried; 401/403/429 are our
account's (permanent for this message, the number stays usable); any other 4xx is the
message's or the number's (permanent, and the number is marked unusable).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from notifier.channels.http1 import FORM, JSON, JsonClient
from notifier.channels.sms_provider import Submitted
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

CONNECT_SECONDS = 10  # of a call's NOTIFIER_SMS_TIMEOUT, at most this long to connect

# Exceptions that mean "the gateway did not answer": worth another try later. JsonClient
# raises OSError when the connection fails (an untrusted certificate too), TimeoutError, and
# ValueError for an answer that is not HTTP.
TRANSPORT_ERRORS = (OSError, TimeoutError, ValueError)


@dataclass(frozen=True, slots=True)
class Answer:
    """A gateway's answer: its HTTP status, and its body when that is a JSON object (None for
    anything else: a proxy's HTML error page)."""

    status: int
    body: dict[str, Any] | None


class Endpoint:
    """A gateway's URL (NOTIFIER_SMS_URL, or the provider's own), POSTed to over kept-alive
    connections; `name` starts the reasons its failures give."""

    def __init__(
        self, url: str, *, name: str, timeout: float, headers: dict[str, str] | None = None
    ) -> None:
        parts = urlsplit(url)
        headers = dict(headers or {})
        if parts.username is not None and "Authorization" not in headers:
            # user:password in the URL, sent as Basic authentication (as aiohttp did).
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self.name = name
        self._path = parts.path  # as given: a gateway may tell /send from /send/
        self._query = f"?{parts.query}" if parts.query else ""
        self._client = JsonClient(
            f"{parts.scheme}://{parts.netloc}",
            timeout=timeout,
            connect_timeout=min(timeout, CONNECT_SECONDS),
            headers=headers,
        )

    async def post_json(self, body: dict[str, Any], path: str = "") -> Answer:
        return await self._post(path, json.dumps(body, ensure_ascii=False).encode(), JSON)

    async def post_form(self, fields: dict[str, str], path: str = "") -> Answer:
        return await self._post(path, urlencode(fields).encode(), FORM)

    async def _post(self, path: str, body: bytes, content_type: bytes) -> Answer:
        try:
            status, raw = await self._client.request(
                "POST", (self._path + path or "/") + self._query, body, content_type=content_type
            )
        except TRANSPORT_ERRORS as exc:
            raise TransientDelivery(f"{self.name}: {type(exc).__name__}") from None
        if 300 <= status < 400:
            # Not followed: a POST redirected by 301 or 302 arrives as a GET without its form
            # (307 and 308 would keep it), and a gateway that moved is a setting to change, not
            # a message to retry.
            raise PermanentDelivery(
                f"{self.name} HTTP {status}: the gateway's address redirects; set "
                "NOTIFIER_SMS_URL to the address it redirects to",
                unusable=False,
            )
        return Answer(status, _object(raw))

    async def close(self) -> None:
        await self._client.close()


def _object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
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

    def __init__(self, settings: Settings) -> None:
        if not settings.sms_url or not settings.sms_api_key:
            raise ValueError("HttpGateway needs sms_url and sms_api_key (config checks both)")
        self._sender = settings.sms_sender
        self._endpoint = Endpoint(
            settings.sms_url,
            name="sms gateway",
            timeout=settings.sms_timeout,
            headers={"Authorization": f"Bearer {settings.sms_api_key.get_secret_value()}"},
        )

    async def submit(self, phone: str, text: str, *, segments: int, ref: str) -> Submitted:
        answer = await self._endpoint.post_json({"to": phone, "text": text, "sender": self._sender})
        status, body = answer.status, answer.body or {}
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
        await self._endpoint.close()
