"""What the stream consumer runs on, and only that: the settings, a database engine, a Redis
client and the clock. A worker's consumer (on its thread, or in its child process) builds this,
not a whole Runtime: no channels, no templates; and a consumer process imports none of them."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.config import Settings
from notifier.db.engine import SessionFactory, create_engine, session_factory
from notifier.delivery.intake import store_and_plan
from notifier.events.consumer import StoreResult, StreamConsumer
from notifier.events.schema import JournalEventIn

Clock = Callable[[], datetime]

# Prepared statements the consumer's SQLite connections keep: none. Its reads ask for a batch's
# pupils, guardians and groups by IN lists as long as the batch, each length a statement of its
# own; kept, the last 16 of them (a few hundred kilobytes each at 1,000 events a batch) took a
# bench.region worker's peak RSS from 185 to 207-222 MB. Its writes are executemany, prepared
# once a call either way.
INTAKE_CACHED_STATEMENTS = 0


def system_clock() -> datetime:
    return datetime.now(UTC)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Intake:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    redis: Redis
    clock: Clock

    def consumer(
        self, *, name: str | None = None, on_planned: Callable[[], Awaitable[Any]] | None = None
    ) -> StreamConsumer:
        s = self.settings
        return StreamConsumer(
            redis=self.redis,
            handle=self.store_and_plan,
            name=name or consumer_name(),
            batch_size=s.stream_batch_size,
            max_event_bytes=s.max_event_bytes,
            claim_idle_ms=int(s.stream_claim_idle_seconds * 1000),
            on_planned=on_planned,
        )

    async def store_and_plan(self, events: list[JournalEventIn]) -> StoreResult:
        """The consumer's batch handler: store the events and plan their messages."""
        async with self.sessions() as session:
            return await store_and_plan(
                session=session,
                events=events,
                now=self.clock(),
                coalesce=timedelta(seconds=self.settings.coalesce_seconds),
            )

    async def close(self) -> None:
        """For an Intake of its own (build_intake); a Runtime's shares the Runtime's clients."""
        await self.redis.aclose()
        await self.engine.dispose()


def build_intake(settings: Settings, *, clock: Clock = system_clock) -> Intake:
    if not settings.redis_url:
        raise RuntimeError("NOTIFIER_REDIS_URL is not set (notifier up starts an embedded Redis)")
    engine = create_engine(settings.database_url, cached_statements=INTAKE_CACHED_STATEMENTS)
    return Intake(
        settings, engine, session_factory(engine), Redis.from_url(settings.redis_url), clock
    )
