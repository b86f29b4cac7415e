"""The whole benchmark: the region generated and loaded, the ceilings measured, the service
started, the runs, the report."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text

from bench.region import quiet
from bench.region.ceilings import raw_ceilings
from bench.region.database import load_region, messages_per_guardian, top_statements
from bench.region.generate import DayEvent, Region, as_cloudevents, make_region, school_day
from bench.region.phases import one_run
from bench.region.processes import CpuMeter, PssSampler, Service, Sink
from bench.region.report import percentile, report, summary
from notifier.auth import Role, create_token
from notifier.db.engine import create_engine, session_factory
from notifier.db.migrate import upgrade
from notifier.embedded import free_port


async def bench(args: argparse.Namespace, folder: Path, database_url: str, redis_url: str) -> None:
    rng = random.Random(args.seed)
    region = make_region(args, rng)
    day = school_day(region, rng)
    kinds = Counter(e.type.rsplit(".", 2)[-2] for e in day)
    print(
        f"region: {len(region.schools)} schools, {len(region.classes)} classes, "
        f"{len(region.pupils)} pupils, {len(region.guardians)} guardians "
        f"({', '.join(f'{k} {v}' for k, v in region.channels.most_common())}; "
        f"{len(region.consented)} with consent)"
    )
    print(
        f"school day: {len(day)} journal events "
        f"({', '.join(f'{k} {v}' for k, v in kinds.most_common())})"
    )
    await asyncio.to_thread(upgrade, database_url)
    if database_url.startswith("postgresql"):
        engine0 = create_engine(database_url)
        try:
            async with engine0.begin() as conn:
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        except Exception:
            pass
        await engine0.dispose()
    t = time.perf_counter()
    await load_region(database_url, region)
    print(f"roster loaded in {time.perf_counter() - t:.1f} s")
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with sessions() as s:
        token, _ = await create_token(session=s, role=Role.integration, label="bench")

    if not args.no_day_figures:
        await day_figures(sessions, region, day)
    sinks = {kind: Sink(kind) for kind in ("telegram", "max", "smtp", "sms")}
    redis = Redis.from_url(redis_url)
    service = None
    try:
        payload = as_cloudevents(day[:1], "/bench/raw")[0].to_json().encode()
        ceilings = await raw_ceilings(redis, sinks, payload, args.ceiling_size)
        print(
            "raw ceilings (bare clients, same machine): "
            + ", ".join(f"{k}={v:,.0f}" for k, v in ceilings.items())
        )
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
        limits = (
            {}
            if args.rate_limits
            else {
                "TELEGRAM_RATE_PER_SECOND": "0",
                "TELEGRAM_CHAT_INTERVAL_SECONDS": "0",
                "MAX_RATE_PER_SECOND": "0",
                "MAX_CHAT_INTERVAL_SECONDS": "0",
                "SMTP_RATE_PER_SECOND": "0",
                "SMS_RATE_PER_SECOND": "0",
            }
        )
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HTTP_PORT": str(port),
            "DATA_DIR": str(folder / "var"),
            "COALESCE_SECONDS": "0",
            "EMAIL_FROM": "school@region.example.org",
            "SMTP_HOST": sinks["smtp"].address["host"],
            "SMTP_PORT": str(sinks["smtp"].address["port"]),
            "TELEGRAM_TOKEN": sinks["telegram"].address["token"],
            "TELEGRAM_API_BASE": sinks["telegram"].address["api_base"],
            "MAX_TOKEN": sinks["max"].address["token"],
            "MAX_API_BASE": sinks["max"].address["api_base"],
            "SMS_PROVIDER": "http",
            "SMS_URL": sinks["sms"].address["url"],
            "SMS_API_KEY": sinks["sms"].address["api_key"],
            "LOG_FORMAT": "json",
            "CONSUMER": args.consumer,
            **limits,
        }
        env.update({f"NOTIFIER_{k}": v for k, v in settings.items()})
        service = Service(env, args.workers, folder)
        await service.ready()
        redis_pid = int((await redis.info("server"))["process_id"])
        parts = service.pids() | {
            "sinks": [sink.proc.pid for sink in sinks.values()],
            "redis": [redis_pid],
            "bench": [os.getpid()],
        }
        cpu = CpuMeter(parts, postgres=args.database == "postgres")
        pss = PssSampler([w.pid for w in service.workers])
        pss.start()
        results = []
        for run in range(args.runs):
            figures = await one_run(
                args,
                run,
                day,
                redis,
                sessions,
                sinks,
                f"http://127.0.0.1:{port}",
                token,
                folder,
                cpu,
                region,
            )
            service.check()
            results.append(figures)
            print(
                f"run {run + 1}: " + ", ".join(f"{k}={v:,.1f}" for k, v in figures.items()),
                flush=True,
            )
        memory = service.memory()
        memory["worker_pss_mb"] = await pss.stop()
        memory["metrics_sent"] = await service.sent_by_metrics()
        report(args, results, ceilings, memory)
        if args.database == "postgres":
            await top_statements(sessions)
        print(summary(results, ceilings, memory), flush=True)
    finally:
        if service is not None:
            service.stop()
        for sink in sinks.values():
            sink.stop()
        await redis.aclose()
        await engine.dispose()


async def day_figures(sessions: Any, region: Region, day: list[DayEvent]) -> None:
    """What the day asks of the service: messages per guardian with every category at once,
    and one school's day at the default settings (quiet.py)."""
    t = time.perf_counter()
    per_guardian = await messages_per_guardian(sessions, day)
    print(
        "messages per reachable guardian for the whole day (every category at once, "
        f"coalescing off, planned in "
        f"{time.perf_counter() - t:.0f} s): median {statistics.median(per_guardian):.0f}, "
        f"90th percentile {percentile(per_guardian, 0.9):.0f}, max {max(per_guardian)}; "
        f"{sum(per_guardian):,} in all",
        flush=True,
    )
    t = time.perf_counter()
    sample = region.schools[0]
    for line in quiet.lines(sample, await quiet.at_defaults(region, day, sample)):
        print(line)
    print(f"  (simulated in {time.perf_counter() - t:.0f} s)", flush=True)
