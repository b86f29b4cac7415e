"""Raw ceilings: what the machine does without us (XADD, XREADGROUP, bare clients against each
channel server: Telegram, MAX, SMTP, the SMS gateway)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import aiosmtplib
from redis.asyncio import Redis

from bench.region.processes import Sink

# A mark's message, Cyrillic, as the bare clients send it.
TEXT = "Алгебра №0: 5\nИванов Пётр · 24 ноября · Ответ на уроке"


async def raw_ceilings(
    redis: Redis, sinks: dict[str, Sink], payload: bytes, size: int
) -> dict[str, float]:
    """What the machine does without us: the same Redis and channel servers, bare clients."""
    n = 4 * size
    stream = "bench:raw"
    await redis.delete(stream)
    t = time.perf_counter()
    for start in range(0, n, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(min(1000, n - start)):
                pipe.xadd(stream, {"event": payload})
            await pipe.execute()
    xadd = n / (time.perf_counter() - t)
    await redis.xgroup_create(stream, "raw", id="0")
    t = time.perf_counter()
    read = 0
    while True:
        batch = await redis.xreadgroup("raw", "c", {stream: ">"}, count=500)
        if not batch or not batch[0][1]:
            break
        ids = [entry_id for entry_id, _ in batch[0][1]]
        read += len(ids)
        await redis.xack(stream, "raw", *ids)
    xread = read / (time.perf_counter() - t)
    await redis.delete(stream)
    ceilings = {"xadd_per_s": xadd, "xreadgroup_per_s": xread}

    for channel in ("telegram", "max", "sms"):
        ceilings[f"{channel}_per_s"] = await bare_rate(sinks, channel, size)

    smtp = sinks["smtp"].address
    clients = [aiosmtplib.SMTP(hostname=smtp["host"], port=smtp["port"]) for _ in range(4)]
    for c in clients:
        await c.connect()
    message = (
        "From: bench@region.example.org\r\nTo: a@region.example.org\r\nSubject: =?utf-8?b?"
        "0J3QvtCy0LDRjyDQvtGG0LXQvdC60LA=?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + TEXT + "\r\n" * 40
    ).encode()
    idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    for c in clients:
        idle.put_nowait(c)

    async def mail(i: int) -> None:
        client = await idle.get()
        try:
            await client.sendmail("bench@region.example.org", [f"r{i}@region.example.org"], message)
        finally:
            idle.put_nowait(client)

    ceilings["smtp_per_s"] = await _rate(mail, size // 2, 4)
    for c in clients:
        await c.quit()
    for sink in sinks.values():
        sink.ask("clear")
    return ceilings


async def bare_rate(sinks: dict[str, Sink], channel: str, size: int) -> float:
    """Requests a second of the bare client against a channel's server: `size` requests, 20 at
    a time. The server's records of them are cleared after."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as http:
        rate = await _rate(bare_request(http, channel, sinks[channel].address, TEXT), size, 20)
    sinks[channel].ask("clear")
    return rate


def bare_request(
    http: aiohttp.ClientSession, channel: str, address: dict[str, Any], text: str
) -> Callable[[int], Awaitable[None]]:
    """The bare client's request to a messenger's or the SMS gateway's server (`address`, its
    sink's), as the channel sends it and with nothing of ours around it: request `i` goes to
    chat, user or phone `i % 1000`. bench.bot_send times it beside our channel's send."""
    if channel == "telegram":
        url = f"{address['api_base']}/bot{address['token']}/sendMessage"

        async def telegram(i: int) -> None:
            form = {"chat_id": str(600_000_000 + i % 1000), "text": text, "parse_mode": "HTML"}
            async with http.post(url, data=form) as r:
                await r.read()

        return telegram
    if channel == "max":
        url = f"{address['api_base']}/messages"
        # As maxapi sends it: the user in the query, the token in the Authorization header.
        headers = {"Authorization": address["token"]}

        async def max_message(i: int) -> None:
            params = {"user_id": str(90_000_000 + i % 1000)}
            body = {"text": text, "format": "html"}
            async with http.post(url, params=params, json=body, headers=headers) as r:
                answer = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"the MAX sink answered {r.status}: {answer[:200]!r}")

        return max_message
    if channel != "sms":
        raise ValueError(f"no bare request for the channel {channel!r}")
    headers = {"Authorization": f"Bearer {address['api_key']}"}

    async def gateway(i: int) -> None:
        body = {"to": f"+7900{i % 1000:07d}", "text": text}
        async with http.post(address["url"], json=body, headers=headers) as r:
            await r.read()

    return gateway


async def _rate(call: Any, n: int, concurrency: int) -> float:
    queue = iter(range(n))

    async def lane() -> None:
        for i in queue:
            await call(i)

    t = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return n / (time.perf_counter() - t)
