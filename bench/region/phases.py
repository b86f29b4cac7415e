"""One run on an emptied outbox: the throughput phase (XADD as fast as possible), the API
phase (POST /v1/events), the latency phase (XADD at a rate), the marks phase (marks alone, as
fast as possible), the Telegram phase (marks whose every message goes by Telegram, as fast as
possible), and their figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import delete, func, select

from bench.region.ceilings import bare_rate
from bench.region.database import plan_this_week
from bench.region.generate import (
    DayEvent,
    Region,
    as_cloudevents,
    more_marks,
    telegram_pupils,
)
from bench.region.processes import CpuMeter, Sink
from bench.region.reconcile import MARKER, expected_deliveries, received, reconcile
from bench.region.report import percentile
from notifier.db.models import DeliveryAttempt, JournalEvent, Notification
from notifier.events.stream import publish

CLASS_WIDE = ("journal.homework.assigned", "journal.schedule.changed")
MARK = "journal.mark.created"
Records = dict[str, list[tuple[str, str, float]]]  # channel server → (recipient, text, at)


@dataclass
class Phase:
    name: str
    source: str
    events: list[DayEvent]
    published: dict[int, float] = field(default_factory=dict)  # marker → last XADD (monotonic)
    published_wall: dict[int, float] = field(default_factory=dict)  # the same, time.time()
    started: float = 0.0  # monotonic
    started_wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    accepted_at: float = 0.0  # monotonic, when the last event was accepted (POST) or XADDed


def take(
    day: list[DayEvent], start: int, wanted: Callable[[DayEvent], bool], count: int
) -> tuple[list[DayEvent], int]:
    """Up to `count` events of `day[start:]` that `wanted` accepts, in order, and the index just
    after the last one taken (`start` if none): where the next phase's part of the day begins,
    so that no two phases replay one event."""
    taken: list[DayEvent] = []
    end = start
    for i in range(start, len(day)):
        if len(taken) >= count:
            break
        if wanted(day[i]):
            taken.append(day[i])
            end = i + 1
    return taken, end


def stored_per_s(phase: Phase, last_stored: datetime) -> float:
    """Events stored and planned per second: from the phase's start to its last event stored."""
    seconds = (last_stored.replace(tzinfo=UTC) - phase.started_wall).total_seconds()
    return len(phase.events) / seconds


def received_per_s(phase: Phase, ats: list[float]) -> float:
    """Messages per second: from the phase's start to the last message a server received."""
    return len(ats) / (max(ats) - phase.started) if ats else 0.0


def after_stored(phase: Phase, last_stored: datetime, ats: list[float]) -> dict[str, float]:
    """The Telegram-alone phase in two parts: until its last event was stored and planned,
    while planning shared the workers' cores with delivery, and after, delivery alone. (The
    sinks stamp `ats` with the monotonic clock, the worker stamps `last_stored` with the wall
    clock: both are offsets from the phase's start here.)"""
    stored_s = (last_stored.replace(tzinfo=UTC) - phase.started_wall).total_seconds()
    end_s = max(ats) - phase.started
    after = sum(1 for at in ats if at - phase.started > stored_s)
    return {
        "telegram_only_stored_ms": 1000 * stored_s,
        "telegram_only_sent_while_storing": len(ats) - after,
        "telegram_only_after_stored_per_s": after / (end_s - stored_s) if end_s > stored_s else 0.0,
    }


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
        phase.published_wall[day_event.marker] = time.time()
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


async def latency_split(
    sessions: Any, phase: Phase, got: dict[tuple[str, str, int], list[float]]
) -> dict[str, float]:
    """Where an event's time went, by the timestamps the service wrote: XADD → stored (the
    consumer's pickup; `received_at` is taken as its store begins), stored → claimed (planning,
    the kick, the claim's wait; `sent_at` is the claim's time), claimed → the channel server
    (the batch's load, rendering, sending). Per event, to its last message."""
    offset = time.time() - time.monotonic()  # sinks time with monotonic, the service with UTC
    last_at: dict[int, float] = {}
    for (_, _, marker), ats in got.items():
        last_at[marker] = max(max(ats) + offset, last_at.get(marker, 0.0))
    async with sessions() as s:
        rows = (
            await s.execute(
                select(JournalEvent.data, JournalEvent.received_at, func.max(Notification.sent_at))
                .join(Notification, Notification.event_pk == JournalEvent.pk)
                .where(JournalEvent.source == phase.source, Notification.status == "sent")
                .group_by(JournalEvent.pk)
            )
        ).all()
    stages: dict[str, list[float]] = {"stored": [], "claimed": [], "server": []}
    for data, received_at, sent_at in rows:
        markers = {int(m) for m in MARKER.findall(json.dumps(data, ensure_ascii=False))}
        for marker in markers & phase.published_wall.keys() & last_at.keys():
            stored = received_at.replace(tzinfo=UTC).timestamp()
            claimed = sent_at.replace(tzinfo=UTC).timestamp()
            stages["stored"].append(stored - phase.published_wall[marker])
            stages["claimed"].append(claimed - stored)
            stages["server"].append(last_at[marker] - claimed)
    figures = {}
    for stage, values in stages.items():
        if values:
            for q in (50, 99):
                figures[f"latency_to_{stage}_p{q}_ms"] = 1000 * percentile(values, q / 100)
    return figures


async def replay(
    redis: Redis,
    sessions: Any,
    sinks: dict[str, Sink],
    folder: Path,
    phase: Phase,
    timeout: float,  # noqa: ASYNC109
) -> tuple[datetime, Records]:
    """A phase XADDed as fast as possible to emptied channel servers, until it is done: the
    time its last event was stored and what the servers received."""
    for sink in sinks.values():
        sink.ask("clear")
    await xadd_all(redis, phase)
    last_stored = await wait_done(sessions, phase, timeout=timeout)
    return last_stored, {kind: sink.records(folder) for kind, sink in sinks.items()}


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
    region: Region,
) -> dict[str, float]:
    async with sessions() as s:  # an empty outbox, so each run meets the same database
        for model in (DeliveryAttempt, Notification, JournalEvent):
            await s.execute(delete(model))
        await s.commit()
        await plan_this_week(s, datetime.now(UTC))
    for sink in sinks.values():
        sink.ask("clear")
    figures: dict[str, float] = {}
    n = min(args.events, len(day))
    post_n = min(args.post_events, len(day) - n)
    # The latency phase replays the day's events about one pupil (marks, corrections,
    # absences): a class's homework goes to ~37 guardians, and at 200 of those a second the
    # offered load would be ~7,000 messages/s, beyond any sender here; the figure would only
    # say how long the queue grew.
    per_pupil, rest = take(
        day, n + post_n, lambda e: e.type not in CLASS_WIDE, int(args.rate * args.latency_seconds)
    )
    marks_only, rest = take(day, rest, lambda e: e.type == MARK, args.marks_events)
    # Marks about pupils whose every message goes by Telegram, so that Telegram's rate is not
    # bounded by the other channels' share of the service; made up beyond the day if the
    # day's unused part has too few (the same every run: the seed's).
    by_telegram = telegram_pupils(region)
    of_telegram = set(by_telegram)
    telegram_marks, _ = take(
        day,
        rest,
        lambda e: e.type == MARK and e.data["student_id"] in of_telegram,
        args.telegram_events,
    )
    made_up = (
        more_marks(
            day, by_telegram, args.telegram_events - len(telegram_marks), random.Random(args.seed)
        )
        if by_telegram
        else []
    )
    throughput = Phase("throughput", f"/bench/run{run}/stream", day[:n])
    posted = Phase("api", f"/bench/run{run}/api", day[n : n + post_n])
    latency = Phase("latency", f"/bench/run{run}/rate", per_pupil)
    marks = Phase("marks", f"/bench/run{run}/marks", marks_only)
    telegram = Phase("telegram", f"/bench/run{run}/telegram", telegram_marks + made_up)

    cpu.start()
    await xadd_all(redis, throughput)
    last_stored = await wait_done(sessions, throughput, timeout=args.timeout)
    t_done = time.monotonic()
    for part, cores in cpu.shares().items():
        figures[f"cores_{part}"] = cores
    records = {kind: sink.records(folder) for kind, sink in sinks.items()}
    figures["events"] = n
    figures["ingest_events_per_s"] = stored_per_s(throughput, last_stored)
    all_at = [at for rows in records.values() for _, _, at in rows]
    figures["messages"] = len(all_at)
    figures["messages_per_s"] = received_per_s(throughput, all_at)
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
        figures["api_ingest_events_per_s"] = stored_per_s(posted, last_stored)
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
        figures.update(await latency_split(sessions, latency, got))
        tally += reconcile(await expected_deliveries(sessions, latency), records)

    if marks.events:
        last_stored, records = await replay(redis, sessions, sinks, folder, marks, args.timeout)
        figures["marks_events"] = len(marks.events)
        figures["marks_events_per_s"] = stored_per_s(marks, last_stored)
        all_at = [at for rows in records.values() for _, _, at in rows]
        figures["marks_messages"] = len(all_at)
        figures["marks_messages_per_s"] = received_per_s(marks, all_at)
        tally += reconcile(await expected_deliveries(sessions, marks), records)

    if telegram.events:
        # The bare client's ceiling again, just before the phase it is the ceiling of: the
        # machine's pace moves over a bench's minutes (this ceiling and the bench's first one
        # differed by up to 12% within one bench), and a ratio to the first would move with it.
        cpu.start()
        figures["telegram_only_bare_per_s"] = await bare_rate(sinks, "telegram", args.ceiling_size)
        # The idle service's workers meanwhile: a few hundredths of a core, or the ceiling is
        # lower than the bare client's own.
        for part, cores in cpu.shares().items():
            figures[f"telegram_only_bare_cores_{part}"] = cores
        cpu.start()
        last_stored, records = await replay(redis, sessions, sinks, folder, telegram, args.timeout)
        workers_cpu = cpu.used()["workers"]
        ats = [at for _, _, at in records["telegram"]]
        if ats:
            # Whether the phase was the workers' CPU or their waits: their cores from the
            # first XADD to the last message, and their CPU per message, planning included.
            figures["telegram_only_cores_workers"] = workers_cpu / (max(ats) - telegram.started)
            figures["telegram_only_worker_cpu_us_per_message"] = 1e6 * workers_cpu / len(ats)
            figures.update(after_stored(telegram, last_stored, ats))
            figures["telegram_only_after_stored_ratio"] = (
                figures["telegram_only_after_stored_per_s"] / figures["telegram_only_bare_per_s"]
            )
        figures["telegram_only_events"] = len(telegram.events)
        figures["telegram_only_made_up"] = len(made_up)
        figures["telegram_only_messages"] = len(ats)
        figures["telegram_only_per_s"] = received_per_s(telegram, ats)
        figures["telegram_only_ratio"] = (
            figures["telegram_only_per_s"] / figures["telegram_only_bare_per_s"]
        )
        # 0 unless the choice of pupils is wrong (then the figure above is not Telegram's alone).
        figures["telegram_only_other_messages"] = sum(
            len(rows) for kind, rows in records.items() if kind != "telegram"
        )
        tally += reconcile(await expected_deliveries(sessions, telegram), records)
    # Added Counters drop zeros: the totals are figures even when 0, and the per-channel
    # counts (received_max, lost_max, …) when they are not.
    totals = ("lost", "duplicated", "unattributed", "rows_sent")
    for key in (*totals, *sorted(set(tally) - set(totals))):
        figures[key] = tally[key]
    return figures
