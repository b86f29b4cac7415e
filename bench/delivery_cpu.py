"""Micro-benchmark of delivery's own CPU per Telegram message, and of planning's per event,
without the other processes and phases of bench.region around them.

    .venv/bin/python -m bench.delivery_cpu [--classes 60] [--runs 5]

A school of `--classes` classes of 30 pupils, two consenting guardians a pupil (bench.pipeline's
school), each guardian linked to a Telegram chat. Each run the consumer plans a mark for every
pupil (a 2: it goes at once), then a dispatcher delivers the messages, one a guardian, to the
server the tests use (`bench.sinks telegram`, a process of its own; rate limits off). Each run
does that twice: with the Telegram channel's send, and with a send that answers at once
(`Answered`), which leaves the rest of delivery: its claims, loads, composing, rendering and
records. Prints this process's CPU (time.process_time, every thread) per event planned and
per message delivered, each run's and the medians. SQLite, a file. The uvloop event loop and
the collector's settings, as a worker runs (its heap settled after startup: worker/lifecycle.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update

from bench import pipeline
from bench.region.processes import Sink
from notifier.channels.base import Recipient, SendResult
from notifier.channels.ratelimit import RateLimiter
from notifier.channels.telegram import TelegramChannel
from notifier.config import Settings
from notifier.db.migrate import upgrade
from notifier.db.models import DeliveryAttempt, Guardian, JournalEvent, Notification
from notifier.delivery.dispatch import Dispatcher
from notifier.embedded import EmbeddedRedis
from notifier.event_loop import new_event_loop
from notifier.runtime import Runtime, build_runtime
from notifier.worker.lifecycle import settle_heap

SENDS = ("sent", "answered at once")


class Answered(TelegramChannel):
    """Telegram's channel whose send answers at once, as if the Bot API had."""

    async def send(
        self, recipient: Recipient, content: str, *, ref: str, now: datetime
    ) -> SendResult:
        return SendResult(provider_id="1")


async def link_chats(runtime: Runtime) -> None:
    """Every guardian linked to a chat of its own, as the bot's /start would."""
    async with runtime.sessions() as session:
        ids = sorted(await session.scalars(select(Guardian.id)))
        for n, guardian_id in enumerate(ids):
            await session.execute(
                update(Guardian)
                .where(Guardian.id == guardian_id)
                .values(telegram_chat_id=str(600_000_000 + n))
            )
        await session.commit()


async def plan(runtime: Runtime, pupils: list[str], tag: str) -> float:
    """A mark for every pupil into an emptied outbox; the CPU per event of planning them."""
    async with runtime.sessions() as session:
        for model in (DeliveryAttempt, Notification, JournalEvent):
            await session.execute(delete(model))
        await session.commit()
    await pipeline.publish_all(
        runtime, [pipeline.mark_event(tag, i, p, "2") for i, p in enumerate(pupils)]
    )
    consumer = runtime.consumer(name="bench")
    started = time.process_time()
    while await consumer.run_once(block_ms=None):
        pass
    return (time.process_time() - started) / len(pupils)


async def deliver(runtime: Runtime, answered: bool) -> tuple[float, int]:
    """Everything due delivered; the CPU per message, and the messages sent."""
    channels = dict(runtime.channels)
    if answered:
        channels["telegram"] = Answered(runtime.settings, RateLimiter(runtime.redis))
    dispatcher = Dispatcher(
        sessions=runtime.sessions,
        channels=channels,
        renderer=runtime.renderer,
        settings=runtime.settings,
        clock=runtime.clock,
    )
    started = time.process_time()
    try:
        sent = await pipeline.deliver_all(dispatcher)
    finally:
        if answered:
            await channels["telegram"].close()
    return (time.process_time() - started) / max(sent, 1), sent


async def bench(args: argparse.Namespace, sink: Sink) -> None:
    folder = Path(tempfile.mkdtemp(prefix="notifier-delivery-cpu-"))
    database_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(upgrade, database_url)
    pipeline.CLASSES = args.classes
    with EmbeddedRedis(folder) as redis:
        settings = Settings(
            database_url=database_url,
            redis_url=redis.url,
            data_dir=folder,
            coalesce_seconds=0,
            telegram_token=sink.address["token"],
            telegram_api_base=sink.address["api_base"],
            telegram_rate_per_second=0,
            telegram_chat_interval_seconds=0,
        )
        pupils = await pipeline.load_school(settings)
        runtime = build_runtime(settings)
        settle_heap()
        figures: dict[str, list[float]] = {"planned": [], **{how: [] for how in SENDS}}
        try:
            await link_chats(runtime)
            for run in range(args.runs):
                line = []
                for how in SENDS:
                    sink.ask("clear")  # a server holding every message it got slows down
                    figures["planned"].append(await plan(runtime, pupils, f"r{run}-{how[0]}"))
                    cpu, sent = await deliver(runtime, answered=how != "sent")
                    if sent != 2 * len(pupils):
                        raise SystemExit(f"{sent} messages sent of {2 * len(pupils)} planned")
                    figures[how].append(cpu)
                    line.append(f"{how} {1e6 * cpu:,.0f} µs")
                print(f"run {run + 1}: per message {'; '.join(line)}")
        finally:
            await runtime.close()
    med = {key: 1e6 * statistics.median(values) for key, values in figures.items()}
    print(
        f"median of {args.runs} runs, {len(pupils):,} marks and {2 * len(pupils):,} messages "
        "each, SQLite:"
    )
    print(f"  planning, CPU per event                 {med['planned']:>6,.0f} µs")
    print(f"  delivery, CPU per message               {med['sent']:>6,.0f} µs")
    print(f"  delivery besides the send, per message  {med['answered at once']:>6,.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery_cpu")
    parser.add_argument("--classes", type=int, default=60, help="classes of 30 pupils")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sink = Sink("telegram")
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(bench(args, sink))
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
