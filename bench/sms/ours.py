"""Our side: SmsChannel.send through the provider's gateway, as the delivery worker calls it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis

from bench.sms.measure import Countdown, Figure, in_lanes, timed
from bench.sms.workload import SENDER, Message, smpp_parts
from notifier.channels.ratelimit import RateLimiter
from notifier.channels.smpp import SmppGateway
from notifier.channels.sms import SmsChannel
from notifier.channels.sms_provider import Receipt
from notifier.config import Settings, SmsProvider


def channel_settings(
    provider: SmsProvider, address: dict[str, Any], *, rate: float, data_dir: Path
) -> Settings:
    """The settings a deployment on this provider has, pointed at the local server."""
    common: dict[str, Any] = {
        "sms_provider": provider,
        "sms_sender": SENDER,
        "sms_rate_per_second": rate,
        "data_dir": data_dir,
    }
    if provider is SmsProvider.smpp:
        return Settings(
            **common,
            smpp_host=address["host"],
            smpp_port=address["port"],
            smpp_system_id=address["system_id"],
            smpp_password=SecretStr(address["password"]),
            smpp_source_addr=SENDER,
        )
    return Settings(**common, sms_url=address["url"], sms_api_key=SecretStr(address["api_key"]))


async def ours(
    settings: Settings,
    redis: Redis,
    warmup: list[Message],
    batch: list[Message],
    *,
    run: str,
    server_pid: int,
) -> Figure:
    """`warmup` untimed (connections opened, the SMPP bind made), then `batch` timed."""
    # A bucket of its own per run: a rate limit (--rate) starts from an empty log.
    limiter = RateLimiter(redis, prefix=f"bench:sms:{run}:")
    receipts = Countdown()
    gateway = None
    if settings.sms_provider is SmsProvider.smpp:

        async def handed_on(receipt: Receipt) -> None:
            receipts.add()

        gateway = SmppGateway(settings, receipts=handed_on)
    channel = SmsChannel(settings, limiter, gateway=gateway)
    now = datetime.now(UTC)

    async def send(message: Message) -> None:
        await channel.send(message.recipient, message.text, ref=message.ref, now=now)

    async def phase(messages: list[Message], receipts_due: int) -> None:
        await in_lanes(messages, settings.delivery_concurrency, send)
        if gateway is not None:
            await receipts.wait(receipts_due)

    try:
        smpp = gateway is not None
        await phase(warmup, smpp_parts(warmup) if smpp else 0)
        # Counted before the clock starts.
        due = smpp_parts(warmup) + smpp_parts(batch) if smpp else 0
        return await timed(lambda: phase(batch, due), len(batch), server_pid)
    finally:
        await channel.close()
