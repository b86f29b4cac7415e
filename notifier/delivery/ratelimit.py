"""Rate limits shared by every worker process, kept in Redis (GCRA: one key per bucket)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

# Generic cell rate algorithm on Redis's own clock, so workers on several machines agree.
# KEYS[1] bucket; ARGV[1] interval in microseconds. Returns how long to wait (µs); 0 = go,
# and then the slot is taken.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat > now then
  return tat - now
end
redis.call('SET', KEYS[1], now + interval, 'PX', math.ceil(interval / 1000) + 1000)
return 0
"""

# KEYS[1] bucket; ARGV[1] pause in microseconds: nobody may use the bucket before then.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if until_ > tat then
  redis.call('SET', KEYS[1], until_, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
"""

# Keep a margin under the configured rate: what a server counts is arrival times, and the
# network may bunch up messages we spaced evenly.
SAFETY = 1.1


class RateLimiter:
    """`await acquire(bucket, per_second)` returns once this caller may send."""

    def __init__(self, redis: Redis, *, prefix: str = "notifier:rl:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._gcra = redis.register_script(_GCRA)
        self._pause = redis.register_script(_PAUSE)

    async def acquire(self, bucket: str, per_second: float) -> None:
        if per_second <= 0:
            return
        interval_us = int(1_000_000 / per_second * SAFETY)
        while True:
            wait_us = int(await self._gcra(keys=[self.prefix + bucket], args=[interval_us]))
            if wait_us <= 0:
                return
            await asyncio.sleep(wait_us / 1_000_000)

    async def pause(self, bucket: str, seconds: float) -> None:
        """Hold the whole bucket (e.g. a bot told by Telegram to retry after N seconds)."""
        await self._pause(keys=[self.prefix + bucket], args=[int(seconds * 1_000_000)])
