"""Riding out Redis restarts, failovers and outages of any length (tests/faults/ restarts and
stops Redis under a working worker).

Two levels. Each command of arq's connection retries with backoff for a short time
(`redis_settings`, NOTIFIER_REDIS_RETRY_SECONDS): enough for a restart, and short because a job
waiting on it is held up. An outage longer than that is waited out by the worker's loop
(`ResilientWorker`): it stops taking jobs, logs `worker.redis_unavailable` once, asks Redis
again with backoff (at most `MAX_WAIT` apart), logs `worker.redis_back` with the seconds it
was away, and goes on. Nothing is lost meanwhile: the outbox is in the database (a job that
was sending when Redis went goes on sending; rows whose send could not pass the rate limiter
are retried later, and rows a stopped job held come back when their lease runs out), and
arq's queue is in Redis (a job whose start or end could not be recorded there is run again
once Redis is back). The stream consumer rides it out on its own thread (events/consumer.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from arq.connections import RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.worker import Worker
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("notifier.worker")
T = TypeVar("T")
# Redis is away (a restart, a failover). WatchError: redis-py's word for a connection lost
# between WATCH and EXEC. OSError: a socket error that redis-py did not wrap in its own.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, WatchError, OSError)
# What a command retries on (never WatchError: a transaction is not repeated behind arq's back).
RETRIED = (RedisConnectionError, RedisTimeoutError, OSError)
# While Redis is away the loop asks again 0.5 s after, then doubling to this (seconds).
FIRST_WAIT = 0.5
MAX_WAIT = 5.0
# One question to Redis while it is away: a connect and a PING, no retries.
PROBE_TIMEOUT = 3.0
# arq's close deletes its health-check key; with Redis just gone, wait no longer than this.
CLOSE_TIMEOUT = 2.0

# When the retries of the command in progress end (monotonic): set by the outermost retry, so
# that the reconnects redis-py retries inside a command's retry share its time, not add to it.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "redis_retry_deadline", default=None
)


class RetryFor(Retry):
    """redis-py's Retry bounded by time instead of by count. redis-py retries the connect
    inside each try of a command, with the same Retry, so counted retries multiply: a command
    on a connection Redis had dropped took up to (retries + 1) times the time of the retries
    (measured: 3 retries capped at 2 s, 1.4 s of backoff, took 5.6 s). Here a command, its
    reconnects included, gives up once its next wait would end past `seconds` after it began."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        super().__init__(ExponentialBackoff(cap=2.0, base=0.1), retries=-1)
        self.update_supported_errors(list(RETRIED))
        self.seconds = seconds

    async def call_with_retry(
        self, do: Callable[[], Awaitable[T]], fail: Callable[[RedisError], Any]
    ) -> T:
        outer = _deadline.get()
        deadline = outer if outer is not None else time.monotonic() + self.seconds
        token = _deadline.set(deadline)
        try:
            failures = 0
            while True:
                try:
                    return await do()
                except self._supported_errors as error:
                    failures += 1
                    await fail(error)
                    wait = self._backoff.compute(failures)
                    if time.monotonic() + wait > deadline:
                        raise
                    await asyncio.sleep(wait)
        finally:
            _deadline.reset(token)


def redis_settings(url: str, retry_seconds: float) -> RedisSettings:
    """arq's connection, made to ride out a Redis restart or failover: each command retries
    with backoff (0.2 s doubling to 2 s) for at most `retry_seconds`. A longer outage is the
    worker loop's to wait out (`ResilientWorker`), so that no job waits on Redis longer."""
    return dataclasses.replace(
        RedisSettings.from_dsn(url),
        retry=RetryFor(retry_seconds),
        retry_on_error=list(RETRIED),
    )


class ResilientWorker(Worker):
    """arq's Worker that outlives Redis: its poll loop waits an outage out instead of ending.

    arq ends its loop, and so the process, on the first Redis error its poll meets: a command
    whose retries ran out, a connection lost inside one of its WATCH transactions (redis-py
    raises WatchError, which arq's job start and cron enqueue do not expect), or a job whose
    start or end could not be recorded (the poll re-raises the job task's error). Here each
    poll first takes the job tasks that ended on a Redis error (their jobs stay queued; once
    Redis answers they are released to run again), and a poll that fails on Redis waits until
    Redis answers. arq's hooks (on_startup, on_job_start, ...) run around jobs, never around
    the worker's own Redis calls nor its close, hence a subclass: it overrides arq's poll step
    `_poll_iteration` (arq 0.28's name; its main loop calls nothing else) and the public
    `start_jobs` and `close`.

    arq's command line cannot be told to use it: it always builds `arq.worker.Worker`. So
    `arq worker.WorkerSettings` runs plain arq, which the fault suite saw end on the first
    WatchError in half its Redis crashes (a busy worker re-checks its running jobs in a WATCH
    transaction at every poll); `notifier worker` and `notifier up` run this one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # monotonic time the loop found Redis away; None while it answers
        self.redis_down_since: float | None = None
        # jobs whose start or end Redis did not record: their in-progress keys are ours to drop
        self._unrecorded: set[str] = set()

    async def _poll_iteration(self) -> None:
        self._take_unrecorded()
        try:
            await super()._poll_iteration()
            if self._unrecorded:
                await self._release_unrecorded()
        except REDIS_DOWN as exc:
            # What this poll did not get to (starting jobs, enqueueing crons) the next one does.
            await self._wait_for_redis(exc)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except REDIS_DOWN:
            # Only Redis ends arq's start of a job here, and arq had counted the job it was
            # starting (its counter and semaphore): give the slot back, or the worker would run
            # one job fewer for good. The job stays queued; a later poll starts it.
            self.job_counter -= 1
            self.sem.release()
            raise

    def _take_unrecorded(self) -> None:
        """Take the job tasks that ended on a Redis error before arq's poll re-raises it."""
        for job_id, task in list(self.tasks.items()):
            if task.done() and not task.cancelled() and isinstance(task.exception(), REDIS_DOWN):
                del self.tasks[job_id]
                self._unrecorded.add(job_id)
                log.warning(
                    "worker.job_unrecorded",
                    extra={"job_id": job_id, "error": type(task.exception()).__name__},
                )

    async def _release_unrecorded(self) -> None:
        """Drop the in-progress keys of the jobs that ended unrecorded. Still queued, such a job
        runs again at the next poll instead of after arq's in-progress timeout (job_timeout +
        10 s): a delivery kick (one fixed job id) would be refused meanwhile. Each job here is
        one that may run twice: it delivers what is due, or plans what is due."""
        ids = sorted(self._unrecorded)
        await self.pool.delete(*(in_progress_key_prefix + job_id for job_id in ids))
        self._unrecorded.difference_update(ids)

    async def _wait_for_redis(self, exc: BaseException) -> None:
        """Wait until Redis answers, asking with backoff; log the outage once, and its end."""
        if await self._redis_answers():
            # A connection lost and found again between two commands: nothing to wait for.
            log.warning("worker.redis_error", extra={"error": type(exc).__name__})
            return
        self.redis_down_since = time.monotonic()
        log.warning("worker.redis_unavailable", extra={"error": type(exc).__name__})
        wait = FIRST_WAIT
        while True:
            await asyncio.sleep(wait)
            if await self._redis_answers():
                break
            wait = min(wait * 2, MAX_WAIT)
        seconds = time.monotonic() - self.redis_down_since
        self.redis_down_since = None
        self._resume_crons()
        log.info("worker.redis_back", extra={"seconds": round(seconds, 1)})

    async def _redis_answers(self) -> bool:
        """One connect and PING on a connection of its own (the pool's would retry)."""
        settings = self.redis_settings
        try:
            if settings is None:  # a pool given by the caller: it is all there is to ask
                await asyncio.wait_for(self.pool.ping(), PROBE_TIMEOUT)
                return True
            once = dataclasses.replace(settings, conn_retries=0, retry=None, retry_on_error=None)
            probe = await asyncio.wait_for(create_pool(once), PROBE_TIMEOUT)
        except (TimeoutError, *REDIS_DOWN):
            return False
        await probe.aclose(close_connection_pool=True)
        return True

    def _resume_crons(self) -> None:
        """A cron whose time passed during the outage runs once now, then on its schedule: arq
        would enqueue every slot it missed, one per poll (after 5 minutes, 300 runs of the
        every-second delivery tick). Each cron here looks at what is due, not at when it runs."""
        now = datetime.now(tz=self.timezone)
        for cron_job in self.cron_jobs:
            if cron_job.next_run is not None and cron_job.next_run < now:
                cron_job.next_run = now

    async def close(self) -> None:
        """arq's close (the same steps), made to end whichever way the jobs the shutdown
        cancelled ended, and whether or not Redis is there.

        arq's own close gathers the jobs without return_exceptions, so a job cancelled outside
        its guarded part (starting, or recording its result) lets its CancelledError out of
        close(): on_shutdown is skipped and the process ends with status 1. And it deletes its
        health-check key, which in an outage fails after the command retries, again before
        on_shutdown. A stopped job loses nothing: its rows' lease runs out and another run
        takes them."""
        if not self._handle_signals:
            # arq's close does this first when no signal handler has cancelled the jobs.
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        if self.redis_down_since is None:
            try:
                await asyncio.wait_for(self.pool.delete(self.health_check_key), CLOSE_TIMEOUT)
            except (TimeoutError, *REDIS_DOWN) as exc:
                # The key expires by itself (arq's health-check interval).
                log.warning("worker.close_redis_unavailable", extra={"error": type(exc).__name__})
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.aclose(close_connection_pool=True)
        self._pool = None
