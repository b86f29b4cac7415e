"""SMS: through a provider's gateway (`http`, `smsru`, `smsc`; see SmsGateway), or `file`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from notifier.channels.base import Recipient, SendResult
from notifier.channels.outbox import OutboxFolder, file_name, write_atomic
from notifier.channels.ratelimit import RateLimiter, per_second
from notifier.channels.sms_http import HttpGateway
from notifier.channels.sms_provider import SmsGateway
from notifier.channels.sms_text import SmsParts, fitted
from notifier.channels.smsc import SmscGateway
from notifier.channels.smsru import SmsRuGateway
from notifier.config import ConfigError, Settings, SmsProvider
from notifier.errors import PermanentDelivery


def gateway_for(settings: Settings) -> SmsGateway | None:
    """The gateway of `settings.sms_provider`; None for `file`, which the channel writes itself."""
    match settings.sms_provider:
        case SmsProvider.file:
            return None
        case SmsProvider.http:
            return HttpGateway(settings)
        case SmsProvider.smsru:
            return SmsRuGateway(settings)
        case SmsProvider.smsc:
            return SmscGateway(settings)
        case _:
            raise ConfigError(
                f"sms_provider: {settings.sms_provider} has no HTTP gateway: pass its gateway "
                "to SmsChannel"
            )


class SmsChannel:
    name = "sms"

    def __init__(
        self, settings: Settings, limiter: RateLimiter, gateway: SmsGateway | None = None
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.provider = settings.sms_provider
        self.gateway = gateway if gateway is not None else gateway_for(settings)

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.phone)

    async def send(
        self, recipient: Recipient, content: str | SmsParts, *, ref: str, now: datetime
    ) -> SendResult:
        if not recipient.phone:
            raise PermanentDelivery("guardian has no phone number")
        limit = self.settings.sms_max_segments
        if isinstance(content, SmsParts):
            text, limit = content.text, content.limit(limit)
        else:
            text = content
        sms = fitted(text, limit)
        text, segments = sms.text, sms.size.segments
        if self.gateway is None:
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
        async with self.limiter.slot(
            f"sms:{self.provider.value}", *per_second(self.settings.sms_rate_per_second)
        ):
            submitted = await self.gateway.submit(recipient.phone, text, segments=segments, ref=ref)
        return SendResult(
            provider_id=submitted.provider_id, segments=submitted.segments, cost=submitted.cost
        )

    async def close(self) -> None:
        if self.gateway is not None:
            await self.gateway.close()
