"""arq worker settings: `arq worker.WorkerSettings` runs the delivery jobs, the stream
consumer and the cron that picks up retries. Settings are read when arq asks for them,
not at import."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker
from prometheus_client import start_http_server

from notifier.announcements import send_summaries
from notifier.config import Settings, load_settings
from notifier.events.consumer import ConsumerThread
from notifier.logs import setup_logging
from notifier.retention import purge_expired
from notifier.runtime import Runtime, build_runtime
from notifier.summaries import plan_weekly

log = logging.getLogger("notifier.worker")
DELIVER_JOB = "deliver_due"
KICK_JOB_ID = "deliver_due:kick"


async def deliver_due(ctx: dict[str, Any]) -> dict[str, int]:
    """Send every message that is due now (in batches, for at most one time slice)."""
    stats = await ctx["dispatcher"].run()
    return dict(vars(stats))


async def deliver_due_tick(ctx: dict[str, Any]) -> None:
    """Every second: pick up retries and deferred messages whose time has come."""
    await ctx["dispatcher"].run()


async def announcement_summaries(ctx: dict[str, Any]) -> None:
    """Every few seconds: delivery summaries for teachers who announced from Telegram."""
    runtime: Runtime = ctx["runtime"]
    await send_summaries(sessions=runtime.sessions, telegram=runtime.telegram, now=runtime.clock())


async def weekly_summaries(ctx: dict[str, Any]) -> None:
    """Every minute: plan the weekly summaries of the schools whose Saturday digest time has
    come (once per school and week)."""
    runtime: Runtime = ctx["runtime"]
    async with runtime.sessions() as session:
        await plan_weekly(session=session, now=runtime.clock())


async def retention(ctx: dict[str, Any]) -> None:
    """Every night: remove journal data and delivery records past their retention period."""
    runtime: Runtime = ctx["runtime"]
    settings: Settings = ctx["settings"]
    async with runtime.sessions() as session:
        await purge_expired(
            session=session,
            now=runtime.clock(),
            years=settings.retention_years,
            final_mark_years=settings.final_marks_retention_years,
        )


async def kick_delivery(ctx: dict[str, Any]) -> None:
    """Ask for a delivery run now (after new messages were planned)."""
    await ctx["redis"].enqueue_job(DELIVER_JOB, _job_id=KICK_JOB_ID)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings()
    ctx["settings"] = settings
    if not ctx.get("logging_ready"):
        setup_logging(settings)
    runtime: Runtime = ctx.get("runtime") or build_runtime(settings)
    ctx["runtime"] = runtime
    ctx["dispatcher"] = runtime.dispatcher()
    if ctx.get("run_consumer", True):
        loop = asyncio.get_running_loop()
        kicks: set[asyncio.Task[None]] = set()

        def kick() -> None:  # called on the consumer's thread
            def on_loop() -> None:
                task = loop.create_task(kick_delivery(ctx))
                kicks.add(task)
                task.add_done_callback(kicks.discard)

            loop.call_soon_threadsafe(on_loop)

        consumer = ConsumerThread(
            build=lambda: build_runtime(settings, clock=runtime.clock), on_planned=kick
        )
        await asyncio.to_thread(consumer.start)
        ctx["consumer"] = consumer
    if settings.worker_metrics_port and not ctx.get("metrics_served"):
        # The API's /metrics counts what the API did and reads the shared gauges; what this
        # process consumed and sent is counted here.
        start_http_server(settings.worker_metrics_port, addr=settings.http_host)
        ctx["metrics_served"] = True
    log.info("worker.started", extra={"consumer": bool(ctx.get("run_consumer", True))})


async def shutdown(ctx: dict[str, Any]) -> None:
    if consumer := ctx.get("consumer"):
        await asyncio.to_thread(consumer.stop, 10)
    if ctx.get("owns_runtime", True) and (runtime := ctx.get("runtime")):
        await runtime.close()


FUNCTIONS = [func(deliver_due, name=DELIVER_JOB, keep_result=0, max_tries=3)]
CRON_JOBS = [
    cron(deliver_due_tick, second=set(range(60)), keep_result=0, run_at_startup=True),
    cron(announcement_summaries, second=set(range(0, 60, 5)), keep_result=0),
    cron(weekly_summaries, second={30}, keep_result=0, unique=True),
    # Once a day at 00:40 UTC (03:40 in Moscow); the deletes are indexed and brief.
    cron(retention, hour={0}, minute={40}, keep_result=0, unique=True),
]


def worker_options(settings: Settings) -> dict[str, Any]:
    """arq Worker keyword arguments for these settings (also used by `notifier up`)."""
    assert settings.redis_url, "the Redis URL is known before the worker starts"
    return {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": 10,
        # How often arq looks for a queued job. The delivery kick after planning waits for it:
        # at 20 events/s the median latency was 276 ms with arq's 0.5 s and 118 ms with this.
        "poll_delay": 0.05,
        "job_timeout": 300,
        "keep_result": 0,
    }


def in_process_worker(
    settings: Settings, runtime: Runtime, *, run_consumer: bool = True, **overrides: Any
) -> Worker:
    """An arq Worker sharing a runtime the caller owns (`notifier up`, tests)."""
    options = {**worker_options(settings), "handle_signals": False, **overrides}
    ctx = {
        "settings": settings,
        "runtime": runtime,
        "owns_runtime": False,
        "logging_ready": True,
        "run_consumer": run_consumer,
    }
    return Worker(**options, ctx=ctx)


def __getattr__(name: str) -> Any:
    # `arq worker.WorkerSettings` resolves this lazily, so importing the module reads nothing.
    if name != "WorkerSettings":
        raise AttributeError(name)
    settings = load_settings()
    if not settings.redis_url:
        raise SystemExit("NOTIFIER_REDIS_URL must be set for `arq worker.WorkerSettings`")
    options = worker_options(settings)
    options["ctx"] = {"settings": settings}
    return type("WorkerSettings", (), options)
