"""SMS: providers `http` (the generic JSON gateway of SPEC §2), `smsru` (SMS.ru) and `file`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import aiohttp

from notifier.channels.base import Recipient, SendResult
from notifier.channels.outbox import OutboxFolder, file_name, write_atomic
from notifier.channels.ratelimit import RateLimiter, per_second
from notifier.channels.sms_text import fitted
from notifier.config import Settings, SmsProvider
from notifier.errors import PermanentDelivery, TransientDelivery

# SMS.ru status codes: the number is dead for us / try again later; the rest are our account's.
SMSRU_BAD_NUMBER = {202, 207, 209}
SMSRU_TRANSIENT = {220, 230, 231, 232, 500}


class SmsChannel:
    name = "sms"

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        self.settings = settings
        self.limiter = limiter
        self.provider = settings.sms_provider
        self._session: aiohttp.ClientSession | None = None

        return None

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.phone)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.sms_timeout)
            )
        return self._session

    async def send(
        self, recipient: Recipient, content: str, *, ref: str, now: datetime
    ) -> SendResult:
        if not recipient.phone:
            raise PermanentDelivery("guardian has no phone number")
        sms = fitted(content, self.settings.sms_max_segments)
        text, segments = sms.text, sms.size.segments
        if self.provider is SmsProvider.file:
            record = {
                "to": recipient.phone,
                "text": text,
                "segments": segments,
                "sender": self.settings.sms_sender,
                "at": now.isoformat(),
            }
            path = await asyncio.to_thread(
                write_atomic,
                self.settings.outbox_dir / OutboxFolder.sms,
                file_name(OutboxFolder.sms, ref),
                json.dumps(record, ensure_ascii=False, indent=1).encode(),
            )
            return SendResult(provider_id=path.name, segments=segments)
        try:
            async with self.limiter.slot(
                f"sms:{self.provider.value}", *per_second(self.settings.sms_rate_per_second)
            ):
                if self.provider is SmsProvider.http:
                    provider_id = await self._send_http(recipient.phone, text)
                else:
                    provider_id = await self._send_smsru(recipient.phone, text)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientDelivery(f"sms gateway: {type(exc).__name__}") from None
        return SendResult(provider_id=provider_id, segments=segments)

    async def _send_http(self, phone: str, text: str) -> str | None:
        assert self.settings.sms_url and self.settings.sms_api_key
        key = self.settings.sms_api_key.get_secret_value()
        async with self._http().post(
            self.settings.sms_url,
            json={"to": phone, "text": text, "sender": self.settings.sms_sender},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            body = await _json(response)
            if response.status >= 500:
                raise TransientDelivery(f"sms gateway {response.status}")
            if response.status >= 400:
                error = str(body.get("error") or body.get("message") or "")[:200]
                # 401/403 is our key, not the parent's number; anything else is the message's.
                raise PermanentDelivery(
                    f"sms gateway {response.status} {error}".strip(),
                    unusable=response.status not in (401, 403, 429),
                )
            return str(body.get("id")) if body.get("id") is not None else None

    async def _send_smsru(self, phone: str, text: str) -> str | None:
        assert self.settings.sms_url and self.settings.sms_api_key
        params = {
            "api_id": self.settings.sms_api_key.get_secret_value(),
            "to": phone.lstrip("+"),
            "msg": text,
            "json": "1",
        }
        if self.settings.sms_sender:
            params["from"] = self.settings.sms_sender
        url = self.settings.sms_url.rstrip("/") + "/sms/send"
        async with self._http().post(url, data=params) as response:
            if response.status >= 500:
                raise TransientDelivery(f"sms.ru HTTP {response.status}")
            body = await _json(response)
        if body.get("status") != "OK":
            _smsru_error(body)
        per_number: dict[str, Any] = next(iter((body.get("sms") or {}).values()), {})
        if per_number.get("status") != "OK":
            _smsru_error(per_number)
        return str(per_number.get("sms_id")) if per_number.get("sms_id") else None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _smsru_error(body: dict[str, Any]) -> None:
    code = int(body.get("status_code") or 0)
    reason = f"sms.ru {code} {str(body.get('status_text') or '')[:200]}".strip()
    if code in SMSRU_TRANSIENT:
        raise TransientDelivery(reason)
    raise PermanentDelivery(reason, unusable=code in SMSRU_BAD_NUMBER)


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return body if isinstance(body, dict) else {}
