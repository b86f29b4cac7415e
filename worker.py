"""arq worker settings: `arq worker.WorkerSettings` runs the delivery jobs, the stream
consumer and the cron that picks up retries. Settings are read when arq asks for them,
not at import."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from typing import Any

import arq.worker
from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker
from prometheus_client import start_http_server
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from notifier.announcements import send_summaries
from notifier.config import Settings, load_settings
from notifier.events.consumer import ConsumerThread
from notifier.logs import setup_logging
from notifier.retention import apply_retention
from notifier.runtime import Runtime, build_runtime
from notifier.summaries import plan_weekly

log = logging.getLogger("notifier.worker")
# Redis is away (a restart, a failover). WatchError: redis-py's word for a connection lost
# between WATCH and EXEC, which arq's job start and enqueue do not expect.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, WatchError, OSError)
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
    """Every night: remove journal data, delivery records, audit entries, link codes, outbox
    files and stream entries past their retention periods."""
    runtime: Runtime = ctx["runtime"]
    settings: Settings = ctx["settings"]
    async with runtime.sessions() as session:
        await apply_retention(
            session=session, redis=runtime.redis, settings=settings, now=runtime.clock()
        )


async def kick_delivery(ctx: dict[str, Any]) -> None:
    """Ask for a delivery run now (after new messages were planned)."""
    try:
        await ctx["redis"].enqueue_job(DELIVER_JOB, _job_id=KICK_JOB_ID)
    except REDIS_DOWN as exc:
        # Redis is away: the every-second tick delivers them once it is back.
        log.warning("worker.kick_failed", extra={"error": type(exc).__name__})


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


class ResilientWorker(Worker):
    """arq's Worker, riding out a Redis restart or failover. Found by tests/test_faults.py:
    arq's poll loop handles no error, so the first Redis command that failed after Redis went
    away ended the worker process. Commands retry with backoff (`redis_settings`); what cannot
    be retried (a connection lost in the middle of a job start's WATCH ... EXEC) skips one poll.
    """

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except REDIS_DOWN:
            # arq had counted the job it was starting (its counter and semaphore) when the
            # connection went; give the slot back, or the worker would run one job fewer.
            self.job_counter -= 1
            self.sem.release()
            raise

    async def close(self) -> None:
        """arq's close, waiting for its job tasks with return_exceptions: arq's own gather let
        the CancelledError of a job stopped by the shutdown out of close(), which skipped
        on_shutdown and ended the process with status 1 (seen in the fault suite). A stopped
        job loses nothing: its rows' lease runs out and another run takes them."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_DOWN as exc:
            log.warning("worker.redis_unavailable", extra={"error": type(exc).__name__})
            await asyncio.sleep(1)


def redis_settings(url: str) -> RedisSettings:
    """arq's connection, made to ride out a Redis restart or failover (tests/test_faults.py):
    each command retries with backoff (0.1 s doubling to 2 s) for about a minute; a longer
    outage still ends the process, for its supervisor to start again."""
    return dataclasses.replace(
        RedisSettings.from_dsn(url),
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=40),
        # OSError: a refused connect is raised as it is, before redis-py wraps it.
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
    )


def worker_options(settings: Settings) -> dict[str, Any]:
    """arq Worker keyword arguments for these settings (also used by `notifier up`)."""
    assert settings.redis_url, "the Redis URL is known before the worker starts"
    return {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(settings.redis_url),
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
    return ResilientWorker(**options, ctx=ctx)


def __getattr__(name: str) -> Any:
    # `arq worker.WorkerSettings` resolves this lazily, so importing the module reads nothing.
    if name != "WorkerSettings":
        raise AttributeError(name)
    settings = load_settings()
    if not settings.redis_url:
        raise SystemExit("NOTIFIER_REDIS_URL must be set for `arq worker.WorkerSettings`")
    options = worker_options(settings)
    options["ctx"] = {"settings": settings}
    # arq's command line has no setting for the worker class; it builds `arq.worker.Worker`
    # (by that module's global name), so that name is made to mean ours in this process.
    arq.worker.Worker = ResilientWorker  # type: ignore[misc]
    return type("WorkerSettings", (), options)
