"""Rate limits shared by every worker process, kept in Redis.

A bucket allows `limit` sends per `window` seconds. It is a sliding log of sends, and a send
counts from the moment it starts until `window` after it *completes*: whatever the network
does to our requests, the server can never see more than `limit` of them in one window
(each one it handles in a window was either still in flight or completed inside the window
when the last of them started). All times come from Redis, so workers on several machines agree.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import NamedTuple

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from notifier.errors import TransientDelivery

log = logging.getLogger(__name__)
# Redis away (a restart, a failover). Caught here, not let up through the channel's send(): the
# dispatcher would fail every message in flight for good ("internal error (ConnectionError)"),
# or mark one that went as failed when only the slot's release was lost.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

# Several buckets taken at once, all or none, in one round trip (a Telegram send takes its
# chat's and its bot's). KEYS: each bucket's log (zset: member -> start+hold while in flight,
# completion time after) and pause key, in pairs. ARGV: hold µs, member, then each bucket's
# limit and window µs. Returns 0 when every slot is taken, else how long to wait (µs).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hold = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  local paused = tonumber(redis.call('GET', KEYS[i + 1]) or 0)
  if paused > now then
    return paused - now
  end
  local limit = tonumber(ARGV[i + 2])
  local window = tonumber(ARGV[i + 3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
    if oldest > now then
      -- every slot is in flight: its end is unknown, look again shortly
      return 20000
    end
    local wait = oldest + window - now
    if wait < 1000 then wait = 1000 end
    return wait
  end
end
for i = 1, #KEYS, 2 do
  redis.call('ZADD', KEYS[i], now + hold, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], math.ceil((hold + tonumber(ARGV[i + 3])) / 1000))
end
return 0
"""

# KEYS: the buckets' logs; ARGV[1] member: the send completed now.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1])
end
return 0
"""

# KEYS[1] pause key; ARGV[1] µs: nobody may use the bucket before then.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or 0) then
  redis.call('SET', KEYS[1], until_, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
"""

# A worker that dies mid-send frees its slot after this long.
HOLD_SECONDS = 60.0


class Limit(NamedTuple):
    """A bucket's rate: `limit` sends per `window` seconds; 0 for either is no limit."""

    bucket: str
    limit: int
    window: float = 1.0


class RateLimiter:
    """`async with limiter.slot(bucket, limit, window):` runs the body as one counted send."""

    def __init__(self, redis: Redis, *, prefix: str = "notifier:rl:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._pause = redis.register_script(_PAUSE)

    def slot(
        self, bucket: str, limit: int, window: float = 1.0
    ) -> AbstractAsyncContextManager[None]:
        """One bucket's slot: `limit` sends per `window` seconds (0 for either: no limit)."""
        return self.slots(Limit(bucket, limit, window))

    @asynccontextmanager
    async def slots(self, *limits: Limit) -> AsyncIterator[None]:
        """A slot in each bucket for one send, taken together (waiting for all of them)."""
        limits = tuple(lim for lim in limits if lim.limit > 0 and lim.window > 0)
        if not limits:
            yield
            return
        keys: list[str] = []
        member = uuid.uuid4().hex
        args: list[int | str] = [int(HOLD_SECONDS * 1_000_000), member]
        for lim in limits:
            keys += [self.prefix + lim.bucket, self.prefix + lim.bucket + ":pause"]
            args += [lim.limit, int(lim.window * 1_000_000)]
        try:
            while True:
                wait_us = int(await self._acquire(keys=keys, args=args))
                if wait_us <= 0:
                    break
                await asyncio.sleep(wait_us / 1_000_000)
        except REDIS_DOWN as exc:
            # Nothing was sent: the message waits for its next try.
            raise TransientDelivery(f"rate limiter unavailable ({type(exc).__name__})") from None
        try:
            yield
        finally:
            try:
                await self._release(keys=keys[::2], args=[member])
            except REDIS_DOWN as exc:
                # The send is over, whatever its outcome; the slot frees itself after
                # HOLD_SECONDS. Raising here would record a message that went as failed.
                log.warning("ratelimit.release_failed", extra={"error": type(exc).__name__})

    async def pause(self, bucket: str, seconds: float) -> None:
        """Hold the whole bucket (e.g. a bot told by Telegram to retry after N seconds)."""
        key = self.prefix + bucket + ":pause"
        try:
            await self._pause(keys=[key], args=[int(seconds * 1_000_000)])
        except REDIS_DOWN as exc:  # the message itself is retried after `seconds` anyway
            log.warning("ratelimit.pause_failed", extra={"error": type(exc).__name__})


def per_second(rate: float) -> tuple[int, float]:
    """A rate as (limit, window): 25/s → 25 per 1 s; 0.5/s → 1 per 2 s; 0 → no limit."""
    if rate <= 0:
        return 0, 1.0
    if rate >= 1:
        return int(rate), 1.0
    return 1, 1 / rate
