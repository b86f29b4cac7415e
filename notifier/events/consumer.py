"""The stream consumer: reads `notifier:events` in batches, stores, plans, acknowledges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

from notifier import event_loop
from notifier.errors import InvalidInput
from notifier.events.schema import JournalEventIn, parse_stream_entry
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM, dead_letter, ensure_group
from notifier.events.types import event_type_label
from notifier.metrics import EVENTS_IN

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Database trouble is the database's, not the entry's: such a batch is retried, never parked.
TRANSIENT = (
    OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    asyncio.TimeoutError,
)
# Redis away (a restart, a failover, an outage): what redis-py raises when it cannot connect
# or its connection was lost; a refused connect comes wrapped in its ConnectionError (a bare
# OSError may be the database's).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# While Redis is away the consumer asks again at most this far apart (seconds).
REDIS_WAIT = 5.0
# SQLSTATE classes of the server's state, not of the statement: connection (08), transaction
# rollback (40: deadlock, serialization), resources (53), operator intervention (57: shutting
# down, starting up), system error (58).
SERVER_STATES = {"08", "40", "53", "57", "58"}


def transient(exc: BaseException) -> bool:
    """Whether storing failed for a reason of the database's (or Redis's), not the events'.

    While PostgreSQL starts or stops, connecting fails with 57P03 "cannot connect now", which
    asyncpg's dialect gives as a plain DBAPIError with connection_invalidated False: the
    server's state, by its SQLSTATE class, so the batch is tried again whole. Stored one event
    at a time instead, every event would fail the same way and be parked as a dead letter."""
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, DBAPIError):
        code = str(getattr(exc.orig, "sqlstate", None) or "")
        return exc.connection_invalidated or code[:2] in SERVER_STATES
    return False


@dataclass(frozen=True)
class Refused:
    """An event its poster may not send (a school's token naming another school's pupil)."""

    event: JournalEventIn
    reason: str


@dataclass(frozen=True)
class StoreResult:
    """What the batch handler did with a batch: new events, duplicates, outbox rows planned,
    and the events it refused (the consumer parks those as dead letters)."""

    new: int
    duplicates: int
    notifications: int
    refused: tuple[Refused, ...] = ()


# Stores and plans one batch; the consumer knows nothing of how (arq's ctx style: it is handed
# the handler, so the stream does not depend on planning).
BatchHandler = Callable[[list[JournalEventIn]], Awaitable[StoreResult]]


class StreamConsumer:
    """One member of the consumer group; several may run in several processes."""

    def __init__(
        self,
        *,
        redis: Redis,
        handle: BatchHandler,
        name: str,
        batch_size: int,
        max_event_bytes: int = 64 * 1024,
        claim_idle_ms: int = 60_000,
        on_planned: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.redis = redis
        self.handle = handle
        self.name = name
        self.batch_size = batch_size
        self.max_event_bytes = max_event_bytes
        self.claim_idle_ms = claim_idle_ms
        self.on_planned = on_planned
        self._group_ready = False
        # A batch read and not yet stored: read from another thread (ConsumerThread.storing).
        self.storing = False

    async def run_once(self, block_ms: int | None = None) -> int:
        """Process one batch (reclaimed stale entries first, then new ones); returns its size."""
        if not self._group_ready:
            await ensure_group(self.redis)
            self._group_ready = True
        entries = await self._reclaim()
        if not entries:
            reply = await self.redis.xreadgroup(
                GROUP, self.name, {STREAM: ">"}, count=self.batch_size, block=block_ms
            )
            entries = reply[0][1] if reply else []
        if entries:
            self.storing = True
            try:
                await self._process(entries)
            finally:
                self.storing = False
        return len(entries)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; failures back off and retry. Redis away (however long)
        is logged once when it goes and once when it is back, and asked again at most
        `REDIS_WAIT` apart: nothing was acknowledged that was not stored, so the group hands
        this consumer what it had not finished (after `claim_idle_ms`) and what came since."""
        delay = 0.5
        redis_down_since: float | None = None
        while not stop.is_set():
            try:
                await self.run_once(block_ms=1000)
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as exc:
                # Redis may come back without its data (no append-only file): make the group
                # again then, or every read would fail on NOGROUP.
                self._group_ready = False
                if redis_down_since is None:
                    redis_down_since = time.monotonic()
                    log.warning("consumer.redis_unavailable", extra={"error": type(exc).__name__})
                await self._pause(stop, delay)
                delay = min(delay * 2, REDIS_WAIT)
            except Exception as exc:
                log.warning(
                    "consumer.retry",
                    extra={"error": type(exc).__name__, "delay": delay},
                    exc_info=not transient(exc),
                )
                await self._pause(stop, delay)
                delay = min(delay * 2, 30)
            else:
                if redis_down_since is not None:
                    seconds = round(time.monotonic() - redis_down_since, 1)
                    log.info("consumer.redis_back", extra={"seconds": seconds})
                    redis_down_since = None
                delay = 0.5

    @staticmethod
    async def _pause(stop: asyncio.Event, seconds: float) -> None:
        """Sleep before the next try, woken by `stop`: a shutdown does not wait out a backoff."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    async def _reclaim(self) -> list[Any]:
        # Entries a crashed consumer read but never acknowledged come back after claim_idle_ms.
        reply = await self.redis.xautoclaim(
            STREAM,
            GROUP,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch_size,
        )
        return list(reply[1]) if reply else []

    async def _process(self, entries: list[Any]) -> None:
        valid: list[tuple[str, JournalEventIn]] = []
        done: list[str] = []
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            if fields is None:  # deleted from the stream while pending
                done.append(entry_id)
                continue
            try:
                event = parse_stream_entry(fields, max_bytes=self.max_event_bytes)
                valid.append((entry_id, event))
                EVENTS_IN.labels("stream", event_type_label(event.type), "accepted").inc()
            except InvalidInput as exc:
                EVENTS_IN.labels("stream", "other", "rejected").inc()
                school = fields.get(b"school")
                await dead_letter(
                    self.redis,
                    entry_id=entry_id,
                    reason=exc.reason,
                    payload=fields.get(b"event"),
                    school=school.decode("utf-8", "replace") if school is not None else None,
                )
                log.warning("event.dead_letter", extra={"entry_id": entry_id, "reason": exc.reason})
                done.append(entry_id)
        if valid:
            await self._store(valid, done)
        if done:
            await self.redis.xack(STREAM, GROUP, *done)

    async def _store(self, valid: list[tuple[str, JournalEventIn]], done: list[str]) -> None:
        try:
            refused = await self._store_batch([ev for _, ev in valid])
            await self._refuse(valid, refused)
            done.extend(entry_id for entry_id, _ in valid)
        except Exception as exc:
            if transient(exc):
                raise
            # One bad event must not hold back the others: store them one by one.
            log.warning("consumer.batch_failed", extra={"error": type(exc).__name__})
            for entry_id, ev in valid:
                try:
                    await self._refuse([(entry_id, ev)], await self._store_batch([ev]))
                except Exception as one_exc:
                    if transient(one_exc):
                        raise
                    reason = f"could not be stored: {type(one_exc).__name__}"
                    await dead_letter(
                        self.redis,
                        entry_id=entry_id,
                        reason=reason,
                        payload=ev.to_json().encode(),
                        school=ev.tenant,
                    )
                    log.error("event.dead_letter", extra={"entry_id": entry_id, "reason": reason})
                done.append(entry_id)

    async def _refuse(
        self, valid: list[tuple[str, JournalEventIn]], refused: tuple[Refused, ...]
    ) -> None:
        """Park what a school's token may not post, for that school's admins to see."""
        entry_of = {id(ev): entry_id for entry_id, ev in valid}
        for item in refused:
            entry_id = entry_of[id(item.event)]
            await dead_letter(
                self.redis,
                entry_id=entry_id,
                reason=item.reason,
                payload=item.event.to_json().encode(),
                school=item.event.tenant,
            )
            log.warning("event.refused", extra={"entry_id": entry_id})

    async def _store_batch(self, events: list[JournalEventIn]) -> tuple[Refused, ...]:
        result = await self.handle(events)
        log.info(
            "events.stored",
            extra={
                "new": result.new,
                "duplicates": result.duplicates,
                "notifications": result.notifications,
            },
        )
        if result.notifications and self.on_planned is not None:
            await self.on_planned()
        return result.refused


__all__ = ["DEAD_STREAM", "STREAM", "BatchHandler", "StoreResult", "StreamConsumer"]


class ConsumerHost(Protocol):
    """What the thread needs of a runtime (notifier.intake_runtime.Intake): a consumer, and a
    close."""

    def consumer(
        self, *, name: str | None = None, on_planned: Callable[[], Awaitable[Any]] | None = None
    ) -> StreamConsumer: ...

    async def close(self) -> None: ...


class ConsumerThread:
    """A stream consumer on a thread and event loop of its own, inside a worker process.

    Storing and planning cost little per event, sending costs much per message. On the
    worker's loop the consumer was one task among a busy delivery's hundreds and got that
    share of the process: the region benchmark ingested 139 events/s while delivering. On a
    thread it takes turns with the whole delivery loop under the GIL, so events are stored
    (and visible, and safe) at once even when a large backlog is being sent. It has its own
    database engine and Redis client, since those belong to one event loop.
    """

    def __init__(
        self,
        *,
        build: Callable[[], ConsumerHost],
        on_planned: Callable[[], None] | None = None,
    ) -> None:
        # `build()` makes the consumer's runtime anew on the thread's loop.
        self._build = build
        self._on_planned = on_planned
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._consumer: StreamConsumer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-consumer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=30)

    def storing(self) -> bool:
        """Whether the consumer has events in hand, read and not yet stored (asked from the
        worker's loop)."""
        return self._consumer is not None and self._consumer.storing

    def stop(self, timeout: float = 10) -> None:
        """Finish the batch in hand, then end (blocking: call it from a thread of its own)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            event_loop.run(self._main())
        except Exception:
            log.exception("consumer.thread_failed")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runtime = self._build()
        on_planned = self._on_planned

        async def planned() -> None:
            if on_planned is not None:
                on_planned()

        try:
            self._ready.set()
            self._consumer = runtime.consumer(on_planned=planned)
            await self._consumer.run_forever(self._stop)
        finally:
            await runtime.close()
