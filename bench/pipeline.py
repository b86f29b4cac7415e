"""Benchmark of the spine: journal events through the stream into the outbox, then email out.

    .venv/bin/python -m bench.pipeline [--events 20000] [--runs 3] [--postgres URL]

A school of 900 pupils (30 classes) with 2 consenting guardians each; every run XADDs
`--events` mark events in one pipeline, then times (a) the consumer draining the stream into
events + outbox rows, (b) delivery of every planned email to a real SMTP server (aiosmtpd's
Sink, in its own process on loopback, so its CPU is not ours). Prints the median of the runs
and each run's figures. SQLite (a file, as `notifier up` uses) unless --postgres is given.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from notifier.auth import Principal, Role
from notifier.categories import EVENT_CATEGORIES, Mode
from notifier.config import Settings
from notifier.db.migrate import upgrade
from notifier.db.models import Notification
from notifier.delivery.dispatch import Dispatcher
from notifier.embedded import EmbeddedRedis, free_port
from notifier.events.schema import JournalEventIn
from notifier.events.stream import publish
from notifier.roster import choices, service
from notifier.roster.choices import SubscriptionsIn
from notifier.roster.schemas import ClassIn, GuardianIn, QuietHours, SchoolIn, StudentIn
from notifier.runtime import Runtime, build_runtime

CLASSES, PUPILS_PER_CLASS = 30, 30


async def load_school(settings: Settings) -> list[str]:
    runtime = build_runtime(settings)
    pupils = []
    try:
        async with runtime.sessions() as s:
            # No quiet hours, and every mark at once (not in the day's report, nor the
            # evening's message): this measures throughput on the real clock, at any hour.
            await service.put_school(
                session=s,
                school_id="b1",
                body=SchoolIn(name="Бенч", quiet_hours=QuietHours(start="00:00", end="00:00")),
            )
            await choices.set_school_subscriptions(
                session=s,
                school_id="b1",
                body=SubscriptionsIn(categories={c: Mode.instant for c in EVENT_CATEGORIES}),
                actor=Principal(Role.admin, token_id=None),
            )
            for c in range(CLASSES):
                await service.put_class(
                    session=s, class_id=f"c{c}", body=ClassIn(school_id="b1", name=f"{c % 11 + 1}А")
                )
                for p in range(PUPILS_PER_CLASS):
                    pid = f"p{c}-{p}"
                    pupils.append(pid)
                    await service.put_student(
                        session=s,
                        student_id=pid,
                        body=StudentIn(
                            school_id="b1", class_id=f"c{c}", full_name="Иванов Иван Иванович"
                        ),
                    )
                    for g in range(2):
                        gid = f"g{c}-{p}-{g}"
                        await service.put_guardian(
                            session=s,
                            guardian_id=gid,
                            body=GuardianIn(
                                full_name="Иванова Мария",
                                email=f"{gid}@bench.example.org",
                                student_ids=[pid],
                            ),
                        )
                        await service.grant_consent(
                            session=s, guardian_id=gid, document="д", by_token=None
                        )
    finally:
        await runtime.close()
    return pupils


def mark_event(tag: str, i: int, student_id: str, value: str) -> JournalEventIn:
    """Mark `i` of a run (`tag`) for a pupil, as a journal sends it."""
    return JournalEventIn(
        source="/bench",
        id=f"{tag}-e{i}",
        type="journal.mark.created",
        time=None,
        data={
            "mark_id": f"{tag}-m{i}",
            "student_id": student_id,
            "subject": "Алгебра",
            "value": value,
        },
    )


async def publish_all(runtime: Runtime, events: list[JournalEventIn]) -> None:
    """The events into the stream, a thousand a pipeline."""
    for start in range(0, len(events), 1000):
        await publish(runtime.redis, events[start : start + 1000])


async def deliver_all(dispatcher: Dispatcher) -> int:
    """Everything due delivered, the runs one after another; the messages sent."""
    sent = 0
    while True:
        stats = await dispatcher.run(time_budget=3600)
        sent += stats.sent
        if not stats.claimed:
            return sent


async def one_run(settings: Settings, pupils: list[str], n: int, run: int) -> dict[str, float]:
    rng = random.Random(run)
    events = [
        mark_event(f"r{run}", i, rng.choice(pupils), str(rng.randint(2, 5))) for i in range(n)
    ]
    runtime = build_runtime(settings)
    try:
        t0 = time.perf_counter()
        await publish_all(runtime, events)
        t1 = time.perf_counter()
        consumer = runtime.consumer(name="bench")
        while await consumer.run_once(block_ms=None):
            pass
        t2 = time.perf_counter()
        async with runtime.sessions() as s:
            planned = await s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.status == "pending")
            )
        sent = await deliver_all(runtime.dispatcher())
        t3 = time.perf_counter()
    finally:
        await runtime.close()
    return {
        "xadd_events_per_s": n / (t1 - t0),
        "consume_events_per_s": n / (t2 - t1),
        "planned": float(planned or 0),
        "emails_per_s": sent / (t3 - t2),
        "sent": float(sent),
    }


async def bench(args: argparse.Namespace, smtp_port: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
    db_url = args.postgres or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(upgrade, db_url)
    with EmbeddedRedis(tmp) as redis:
        settings = Settings(
            database_url=db_url,
            redis_url=redis.url,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            data_dir=tmp,
            email_from="bench@bench.example.org",
            coalesce_seconds=0,  # every event its own message: the heaviest case
            smtp_rate_per_second=0,  # the relay's limit off: a local server, as bench.region's
        )
        t = time.perf_counter()
        pupils = await load_school(settings)
        print(
            f"roster: {len(pupils)} pupils, {2 * len(pupils)} guardians "
            f"loaded in {time.perf_counter() - t:.1f} s via the roster services"
        )
        results = []
        for run in range(args.runs):
            r = await one_run(settings, pupils, args.events, run)
            assert r["sent"] == r["planned"] == 2 * args.events, r
            results.append(r)
            print(f"run {run + 1}: " + ", ".join(f"{k}={v:,.0f}" for k, v in r.items()))
    print(
        f"median of {args.runs} runs, {args.events} events each, database "
        f"{'postgresql' if args.postgres else 'sqlite'}:"
    )
    for key in ("xadd_events_per_s", "consume_events_per_s", "emails_per_s"):
        print(f"  {key:22s} {statistics.median(r[key] for r in results):>10,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL of an empty database")
    args = parser.parse_args()
    port = free_port()
    sink = [
        sys.executable,
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        f"127.0.0.1:{port}",
        "-c",
        "aiosmtpd.handlers.Sink",
    ]
    smtp = subprocess.Popen(sink)
    try:
        time.sleep(1.0)  # aiosmtpd binds its port
        asyncio.run(bench(args, port))
    finally:
        smtp.terminate()
        smtp.wait()


if __name__ == "__main__":
    main()
