"""Micro-benchmark of one MAX message's CPU in our process: MaxChannel.send, rate slots and
all, against the MAX Bot API server the tests use (`bench.sinks max`, a process of its own).

    .venv/bin/python -m bench.max_send [--messages 4000] [--runs 3] [--senders 20]

Each of `--messages` users gets one message (a mark's text, Cyrillic, as the worker sends it)
from `--senders` concurrent senders, as a worker's groups go; the rate limits are off, as in
bench.region, and the limiter's Redis is an embedded one. Prints this process's CPU per
message (time.process_time; the server's and Redis's not counted) and the messages/s, each
run's and their medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from bench.region.processes import Sink
from bench.senders import cpu_per_send
from notifier.channels.base import Recipient
from notifier.channels.max import MaxChannel
from notifier.channels.ratelimit import RateLimiter
from notifier.config import Settings
from notifier.embedded import EmbeddedRedis

TEXT = "<b>Алгебра №0: 5</b>\nИванов Пётр · 24 ноября · Ответ на уроке"
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def recipients(n: int) -> list[Recipient]:
    return [
        Recipient(guardian_id=f"g{i}", name="", max_user_id=str(90_000_000 + i)) for i in range(n)
    ]


async def one_run(
    settings: Settings, redis_url: str, people: list[Recipient], senders: int, run: int
) -> tuple[float, float]:
    redis = Redis.from_url(redis_url)
    channel = MaxChannel(settings, RateLimiter(redis, prefix=f"bench:max:{run}:"))
    try:
        await asyncio.gather(*(channel.send(p, TEXT, ref="warm", now=NOW) for p in people[:20]))
        return await cpu_per_send(
            people, lambda p: channel.send(p, TEXT, ref=p.guardian_id, now=NOW), senders
        )
    finally:
        await channel.close()
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.max_send")
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--senders", type=int, default=20)
    args = parser.parse_args()
    people = recipients(args.messages)
    sink = Sink("max")
    try:
        with EmbeddedRedis(Path(tempfile.mkdtemp(prefix="notifier-max-send-"))) as redis_server:
            settings = Settings(
                max_token=sink.address["token"],
                max_api_base=sink.address["api_base"],
                max_rate_per_second=0,
                max_chat_interval_seconds=0,
            )
            figures = []
            for run in range(args.runs):
                figures.append(
                    asyncio.run(one_run(settings, redis_server.url, people, args.senders, run))
                )
                cpu, rate = figures[-1]
                print(f"run {run + 1}: {cpu:,.0f} µs CPU/message, {rate:,.0f} messages/s")
    finally:
        sink.stop()
    print(f"median of {args.runs} runs, {args.messages} messages each:")
    print(
        f"  MaxChannel.send  {statistics.median(c for c, _ in figures):>8,.0f} µs/message of our "
        f"CPU, {statistics.median(r for _, r in figures):,.0f} messages/s"
    )


if __name__ == "__main__":
    main()
