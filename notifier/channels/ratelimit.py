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
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from notifier.errors import TransientDelivery

log = logging.getLogger(__name__)
# Redis away (a restart, a failover). Found by tests/faults/: these went up through the
# channel's send() and the dispatcher failed every message in flight for good ("internal error
# (ConnectionError)"), or marked one that had gone as failed when only the release was lost.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

# KEYS[1] log (zset: member -> start+hold while in flight, completion time after);
# KEYS[2] pause key. ARGV: limit, window µs, hold µs, member.
# Returns 0 when the slot is taken, else how long to wait (µs).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or 0)
if paused > now then
  return paused - now
end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[3]) + window) / 1000))
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
if oldest > now then
  -- every slot is in flight: its end is unknown, look again shortly
  return 20000
end
local wait = oldest + window - now
if wait < 1000 then wait = 1000 end
return wait
"""

# KEYS[1] log; ARGV[1] member: the send completed now.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
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


class RateLimiter:
    """`async with limiter.slot(bucket, limit, window):` runs the body as one counted send."""

    def __init__(self, redis: Redis, *, prefix: str = "notifier:rl:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._pause = redis.register_script(_PAUSE)

    @asynccontextmanager
    async def slot(self, bucket: str, limit: int, window: float = 1.0) -> AsyncIterator[None]:
        if limit <= 0 or window <= 0:
            yield
            return
        key = self.prefix + bucket
        member = uuid.uuid4().hex
        args: list[int | str] = [
            limit,
            int(window * 1_000_000),
            int(HOLD_SECONDS * 1_000_000),
            member,
        ]
        try:
            while True:
                wait_us = int(await self._acquire(keys=[key, key + ":pause"], args=args))
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
                await self._release(keys=[key], args=[member])
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
