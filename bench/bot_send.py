"""Micro-benchmark of one messenger message's CPU in our process: the channel's send (Telegram's
or MAX's, rate slots and all) beside the bare client's request that bench.region's ceilings
time, against the server the tests use (`bench.sinks telegram|max`, a process of its own).

    .venv/bin/python -m bench.bot_send [--channel telegram|max] [--messages 4000] [--runs 3]
                                       [--senders 20]

Each of `--messages` chats or users gets one message (a mark's text, Cyrillic, as the worker
sends it) from `--senders` concurrent senders, as a worker's groups go; the rate limits are off,
as in bench.region, and the limiter's Redis is an embedded one. In each run the channel's send
and the bare request take turns, each to an emptied server. Prints this process's CPU per
message (time.process_time; the server's and Redis's not counted) and the messages/s, each
run's and their medians, and our CPU per message as a multiple of the bare client's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bench.region.ceilings import bare_request
from bench.region.processes import Sink
from bench.senders import cpu_per_send
from notifier.channels.base import Channel, Recipient
from notifier.channels.max import MaxChannel
from notifier.channels.ratelimit import RateLimiter
from notifier.channels.telegram import TelegramChannel
from notifier.config import Settings
from notifier.embedded import EmbeddedRedis

TEXT = "<b>Алгебра №0: 5</b>\nИванов Пётр · 24 ноября · Ответ на уроке"
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
WARM = 20  # messages sent before the timing: connections opened, code paths taken


def recipient(channel: str, i: int) -> Recipient:
    """The chat or user `i`, as bare_request addresses it."""
    if channel == "telegram":
        return Recipient(guardian_id=f"g{i}", name="", telegram_chat_id=str(600_000_000 + i))
    return Recipient(guardian_id=f"g{i}", name="", max_user_id=str(90_000_000 + i))


def settings_for(channel: str, address: dict[str, str]) -> Settings:
    if channel == "telegram":
        return Settings(
            telegram_token=address["token"],
            telegram_api_base=address["api_base"],
            telegram_rate_per_second=0,
            telegram_chat_interval_seconds=0,
        )
    return Settings(
        max_token=address["token"],
        max_api_base=address["api_base"],
        max_rate_per_second=0,
        max_chat_interval_seconds=0,
    )


async def ours(
    channel_name: str, settings: Settings, redis_url: str, n: int, senders: int, run: int
) -> tuple[float, float]:
    redis = Redis.from_url(redis_url)
    limiter = RateLimiter(redis, prefix=f"bench:{channel_name}:{run}:")
    channel: Channel = (
        TelegramChannel(settings, limiter)
        if channel_name == "telegram"
        else MaxChannel(settings, limiter)
    )
    people = [recipient(channel_name, i) for i in range(n)]
    try:
        await asyncio.gather(*(channel.send(p, TEXT, ref="warm", now=NOW) for p in people[:WARM]))
        return await cpu_per_send(
            people, lambda p: channel.send(p, TEXT, ref=p.guardian_id, now=NOW), senders
        )
    finally:
        await channel.close()
        await redis.aclose()


async def bare(
    channel_name: str, address: dict[str, str], n: int, senders: int
) -> tuple[float, float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=senders)) as http:
        send = bare_request(http, channel_name, address, TEXT)
        await asyncio.gather(*(send(i) for i in range(WARM)))
        return await cpu_per_send(range(n), send, senders)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bot_send")
    parser.add_argument("--channel", choices=["telegram", "max"], default="telegram")
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--senders", type=int, default=20)
    args = parser.parse_args()
    sink = Sink(args.channel)
    ours_figures: list[tuple[float, float]] = []
    bare_figures: list[tuple[float, float]] = []
    try:
        with EmbeddedRedis(Path(tempfile.mkdtemp(prefix="notifier-bot-send-"))) as redis_server:
            settings = settings_for(args.channel, sink.address)
            for run in range(args.runs):
                sink.ask("clear")  # a server holding every message it got slows down
                timed = ours(
                    args.channel, settings, redis_server.url, args.messages, args.senders, run
                )
                ours_figures.append(asyncio.run(timed))
                sink.ask("clear")
                bare_figures.append(
                    asyncio.run(bare(args.channel, sink.address, args.messages, args.senders))
                )
                (cpu, rate), (bare_cpu, bare_rate) = ours_figures[-1], bare_figures[-1]
                print(
                    f"run {run + 1}: ours {cpu:,.0f} µs CPU/message, {rate:,.0f} messages/s; "
                    f"bare client {bare_cpu:,.0f} µs, {bare_rate:,.0f}/s"
                )
    finally:
        sink.stop()
    cpu = statistics.median(c for c, _ in ours_figures)
    bare_cpu = statistics.median(c for c, _ in bare_figures)
    name = "TelegramChannel.send" if args.channel == "telegram" else "MaxChannel.send"
    print(f"median of {args.runs} runs, {args.messages} messages each:")
    print(
        f"  {name:<22}{cpu:>8,.0f} µs/message of our CPU, "
        f"{statistics.median(r for _, r in ours_figures):,.0f} messages/s"
    )
    print(
        f"  {'bare client':<22}{bare_cpu:>8,.0f} µs/message, "
        f"{statistics.median(r for _, r in bare_figures):,.0f} messages/s"
    )
    print(f"  ours = {cpu / bare_cpu:.2f} × the bare client's CPU per message")


if __name__ == "__main__":
    main()
