"""Names and helpers of the Redis streams (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis

from notifier.events.schema import JournalEventIn

STREAM = "notifier:events"
DEAD_STREAM = "notifier:events:dead"
GROUP = "notifier"
# An approximate cap so a stream left unread for weeks cannot eat the server's memory.
STREAM_MAXLEN = 5_000_000
MAX_DEAD_PAYLOAD = 64 * 1024


async def publish(redis: Redis, events: list[JournalEventIn]) -> list[str]:
    """XADD the events in one round trip; returns their stream ids."""
    async with redis.pipeline(transaction=False) as pipe:
        for ev in events:
            fields = {"event": ev.to_json()}
            if ev.tenant is not None:
                fields["school"] = ev.tenant
            pipe.xadd(STREAM, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        ids = await pipe.execute()
    return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]


async def dead_letter(
    redis: Redis,
    *,
    entry_id: str,
    reason: str,
    payload: bytes | None,
    school: str | None = None,
    stream: str = STREAM,
) -> None:
    """Park an entry we cannot process, with the reason a person can act on; `school` (the
    posting token's) decides which school's admins see it."""
    fields: dict[str, str | bytes] = {
        "entry_id": entry_id,
        "stream": stream,
        "reason": reason[:1000],
        "at": datetime.now(UTC).isoformat(),
    }
    if school is not None:
        fields["school"] = school
    if payload is not None:
        fields["payload"] = payload[:MAX_DEAD_PAYLOAD]
    await redis.xadd(DEAD_STREAM, fields)  # type: ignore[arg-type]


async def ensure_group(redis: Redis) -> None:
    """Create the consumer group (and the stream) if they are not there yet."""
    try:
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except Exception as exc:  # redis raises ResponseError BUSYGROUP when it exists
        if "BUSYGROUP" not in str(exc):
            raise
