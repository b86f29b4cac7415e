"""One run on an emptied outbox: the throughput phase (XADD as fast as possible), the API
phase (POST /v1/events), the latency phase (XADD at a rate), and their figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import delete, func, select

from bench.region.generate import DayEvent, as_cloudevents
from bench.region.processes import CpuMeter, Sink
from bench.region.reconcile import expected_deliveries, received, reconcile
from bench.region.report import percentile
from notifier.db.models import DeliveryAttempt, JournalEvent, Notification
from notifier.events.stream import publish

CLASS_WIDE = ("journal.homework.assigned", "journal.schedule.changed")


@dataclass
class Phase:
    name: str
    source: str
    events: list[DayEvent]
    published: dict[int, float] = field(default_factory=dict)  # marker → last XADD (monotonic)
    started: float = 0.0  # monotonic
    started_wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    accepted_at: float = 0.0  # monotonic, when the last event was accepted (POST) or XADDed


async def wait_done(
    sessions: Any,
    phase: Phase,
    timeout: float,  # noqa: ASYNC109
) -> datetime:
    """Until every event of the phase is stored and no row of it is pending; returns the time
    the last event was stored."""
    n = len(phase.events)
    deadline = time.monotonic() + timeout
    while True:
        async with sessions() as s:
            stored, last = (
                await s.execute(
                    select(func.count(), func.max(JournalEvent.received_at)).where(
                        JournalEvent.source == phase.source
                    )
                )
            ).one()
            # Phases run one after another on an emptied outbox: any pending row is this
            # phase's. (A join on the source here made PostgreSQL, planning on stale
            # statistics, spend a core on the bench's own polling.)
            pending = await s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.status == "pending")
            )
        if stored >= n and not pending:
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{phase.name}: {stored}/{n} events stored, {pending} rows pending")
        await asyncio.sleep(0.25)


async def xadd_all(redis: Redis, phase: Phase) -> None:
    events = as_cloudevents(phase.events, phase.source)
    phase.started = time.monotonic()
    phase.started_wall = datetime.now(UTC)
    for start in range(0, len(events), 1000):
        await publish(redis, events[start : start + 1000])
        now = time.monotonic()
        for e in phase.events[start : start + 1000]:
            phase.published[e.marker] = now
    phase.accepted_at = time.monotonic()


async def xadd_at_rate(redis: Redis, phase: Phase, rate: float) -> None:
    events = as_cloudevents(phase.events, phase.source)
    phase.started = time.monotonic()
    phase.started_wall = datetime.now(UTC)
    for i, (event, day_event) in enumerate(zip(events, phase.events, strict=True)):
        delay = phase.started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await publish(redis, [event])
        phase.published[day_event.marker] = time.monotonic()
    phase.accepted_at = time.monotonic()


async def post_all(api: str, token: str, phase: Phase) -> None:
    events = [json.loads(e.to_json()) for e in as_cloudevents(phase.events, phase.source)]
    for e in events:
        e["specversion"] = "1.0"
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    phase.started = time.monotonic()
    phase.started_wall = datetime.now(UTC)
    todo = iter(range(len(batches)))
    async with aiohttp.ClientSession() as http:

        async def client() -> None:
            for b in todo:
                async with http.post(
                    f"{api}/v1/events", data=json.dumps(batches[b]), headers=headers
                ) as r:
                    body = await r.text()
                    if r.status != 202:
                        raise RuntimeError(f"POST /v1/events answered {r.status}: {body[:300]}")
                now = time.monotonic()
                for e in phase.events[b * 100 : b * 100 + 100]:
                    phase.published[e.marker] = now

        await asyncio.gather(*(client() for _ in range(4)))
    phase.accepted_at = time.monotonic()


async def one_run(
    args: argparse.Namespace,
    run: int,
    day: list[DayEvent],
    redis: Redis,
    sessions: Any,
    sinks: dict[str, Sink],
    api: str,
    token: str,
    folder: Path,
    cpu: CpuMeter,
) -> dict[str, float]:
    async with sessions() as s:  # an empty outbox, so each run meets the same database
        for model in (DeliveryAttempt, Notification, JournalEvent):
            await s.execute(delete(model))
        await s.commit()
    for sink in sinks.values():
        sink.ask("clear")
    figures: dict[str, float] = {}
    n = min(args.events, len(day))
    post_n = min(args.post_events, len(day) - n)
    # The latency phase replays the day's events about one pupil (marks, corrections,
    # absences): a class's homework goes to ~37 guardians, and at 200 of those a second the
    # offered load would be ~7,000 messages/s, beyond any sender here; the figure would only
    # say how long the queue grew.
    per_pupil = [e for e in day[n + post_n :] if e.type not in CLASS_WIDE]
    lat_n = min(int(args.rate * args.latency_seconds), len(per_pupil))
    throughput = Phase("throughput", f"/bench/run{run}/stream", day[:n])
    posted = Phase("api", f"/bench/run{run}/api", day[n : n + post_n])
    latency = Phase("latency", f"/bench/run{run}/rate", per_pupil[:lat_n])

    cpu.start()
    await xadd_all(redis, throughput)
    last_stored = await wait_done(sessions, throughput, timeout=args.timeout)
    t_done = time.monotonic()
    for part, cores in cpu.shares().items():
        figures[f"cores_{part}"] = cores
    records = {kind: sink.records(folder) for kind, sink in sinks.items()}
    ingest_s = (last_stored.replace(tzinfo=UTC) - throughput.started_wall).total_seconds()
    figures["events"] = n
    figures["ingest_events_per_s"] = n / ingest_s
    all_at = [at for rows in records.values() for _, _, at in rows]
    messages = len(all_at)
    figures["messages"] = messages
    figures["messages_per_s"] = messages / (max(all_at) - throughput.started) if all_at else 0.0
    for kind, rows in records.items():
        ats = [at for _, _, at in rows]
        span = max(ats) - min(ats) if len(ats) > 1 else float("nan")
        figures[f"{kind}_messages"] = len(rows)
        figures[f"{kind}_per_s"] = len(rows) / span if span else float("nan")
    figures["throughput_wall_s"] = t_done - throughput.started
    tally = reconcile(await expected_deliveries(sessions, throughput), records)

    for sink in sinks.values():
        sink.ask("clear")
    if posted.events:
        await post_all(api, token, posted)
        figures["api_accept_events_per_s"] = len(posted.events) / (
            posted.accepted_at - posted.started
        )
        last_stored = await wait_done(sessions, posted, timeout=args.timeout)
        figures["api_ingest_events_per_s"] = (
            len(posted.events)
            / (last_stored.replace(tzinfo=UTC) - posted.started_wall).total_seconds()
        )
        records = {kind: sink.records(folder) for kind, sink in sinks.items()}
        tally += reconcile(await expected_deliveries(sessions, posted), records)

    for sink in sinks.values():
        sink.ask("clear")
    if latency.events:
        await xadd_at_rate(redis, latency, args.rate)
        await wait_done(sessions, latency, timeout=args.timeout)
        records = {kind: sink.records(folder) for kind, sink in sinks.items()}
        got = received(records)
        delays = [
            at - latency.published[marker]
            for (_, _, marker), ats in got.items()
            for at in ats
            if marker in latency.published
        ]
        figures["latency_messages"] = len(delays)
        figures["latency_offered_messages_per_s"] = len(delays) / (
            latency.accepted_at - latency.started
        )
        figures["latency_p50_ms"] = 1000 * percentile(delays, 0.50)
        figures["latency_p95_ms"] = 1000 * percentile(delays, 0.95)
        figures["latency_p99_ms"] = 1000 * percentile(delays, 0.99)
        figures["latency_rate_events_per_s"] = len(latency.events) / (
            latency.accepted_at - latency.started
        )
        tally += reconcile(await expected_deliveries(sessions, latency), records)
    # Added Counters drop zeros: the totals are figures even when 0, and the per-channel
    # counts (received_max, lost_max, …) when they are not.
    totals = ("lost", "duplicated", "unattributed", "rows_sent")
    for key in (*totals, *sorted(set(tally) - set(totals))):
        figures[key] = tally[key]
    return figures
