"""The rate limiter's buckets in a real Redis: several taken at once, all or none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from notifier.channels.ratelimit import Limit, RateLimiter


@pytest.fixture
async def limiter(redis_clean: str) -> AsyncIterator[RateLimiter]:
    redis = Redis.from_url(redis_clean)
    try:
        yield RateLimiter(redis)
    finally:
        await redis.aclose()


async def test_a_send_waiting_for_its_chat_holds_no_slot_of_the_bot(limiter: RateLimiter) -> None:
    bot = Limit("bot", 1, 0.5)
    chat_a, chat_b = Limit("chat:a", 1, 2.0), Limit("chat:b", 1, 2.0)
    async with limiter.slots(chat_a, bot):
        pass
    started = time.monotonic()
    went: list[tuple[str, float]] = []

    async def send(chat: Limit) -> None:
        async with limiter.slots(chat, bot):
            went.append((chat.bucket, time.monotonic() - started))

    # chat a waits 2 s for its own second send; chat b waits only for the bot's 0.5 s.
    await asyncio.gather(send(chat_a), send(chat_b))
    assert [bucket for bucket, _ in went] == ["chat:b", "chat:a"], went
    assert went[0][1] < 1.5 and went[1][1] >= 1.9, went


async def test_the_bot_rate_holds_across_chats(limiter: RateLimiter) -> None:
    bot = Limit("bot", 5, 1.0)
    ends: list[float] = []

    async def send(n: int) -> None:
        async with limiter.slots(Limit(f"chat:{n}", 1, 1.0), bot):
            ends.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(send(n) for n in range(10)))
    # five go at once, the next five once the window has passed after the first ones ended
    assert sorted(ends)[4] - started < 0.5
    assert sorted(ends)[5] - started >= 1.0


async def test_no_limit_takes_no_slot(limiter: RateLimiter) -> None:
    async with limiter.slots(Limit("chat:a", 1, 0), Limit("bot", 0, 1.0)):
        pass
    assert await limiter.redis.keys("notifier:rl:*") == []
