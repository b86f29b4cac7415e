"""Riding out a Redis restart or failover (found by the fault suite, tests/faults/).

Most of it is arq's documented connection settings: every command retries with backoff
(`redis_settings`). What retrying cannot cover is a connection lost inside one of arq's
WATCH ... EXEC transactions: redis-py then raises WatchError, which arq's job start and cron
enqueue do not expect, and a job cancelled by the shutdown, which arq's `close()` lets out.
`ResilientWorker` handles those three, for the workers this package builds itself."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal

from arq.connections import RedisSettings
from arq.worker import Worker
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

log = logging.getLogger("notifier.worker")
# Redis is away (a restart, a failover). WatchError: redis-py's word for a connection lost
# between WATCH and EXEC. OSError: a refused connect is raised as it is, before redis-py wraps it.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, WatchError, OSError)


def redis_settings(url: str) -> RedisSettings:
    """arq's connection, made to ride out a Redis restart or failover: each command retries with
    backoff (0.1 s doubling to 2 s) for about a minute; a longer outage ends the process, for
    its supervisor to start again."""
    return dataclasses.replace(
        RedisSettings.from_dsn(url),
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=40),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
    )


class ResilientWorker(Worker):
    """arq's Worker with three of its own steps made to survive what `redis_settings` cannot
    retry. A subclass because arq's hooks (on_startup, on_job_start, on_job_end, ...) run around
    jobs, never around the worker's own Redis calls nor its close. Only public methods are
    overridden (close reads `_handle_signals`, as arq's own close does).

    arq's command line cannot be told to use it: it always builds `arq.worker.Worker`. So
    `arq worker.WorkerSettings` runs plain arq, which the fault suite saw end on the first
    WatchError in half its Redis crashes (a busy worker re-checks its running jobs in a WATCH
    transaction at every poll); `notifier worker` and `notifier up` run this one."""

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except REDIS_DOWN as exc:
            # Only the WATCH transaction can end here (plain commands retry), and arq had
            # counted the job it was starting (its counter and semaphore): give the slot back,
            # or the worker would run one job fewer for good. The job stays queued; the next
            # poll starts it. Left to arq, the error ends its poll loop and the process.
            self.job_counter -= 1
            self.sem.release()
            log.warning(
                "worker.redis_unavailable", extra={"step": "start_job", "error": type(exc).__name__}
            )

    async def heart_beat(self) -> None:
        try:
            await super().heart_beat()
        except REDIS_DOWN as exc:
            # A cron enqueue (a WATCH transaction too) lost its connection: that run of the cron
            # is skipped, the next one comes (each cron here is idempotent and frequent, or
            # catches up: the weekly summaries and retention look at what is due, not when).
            log.warning(
                "worker.redis_unavailable", extra={"step": "cron", "error": type(exc).__name__}
            )

    async def close(self) -> None:
        """arq's close, once the jobs the shutdown cancelled have ended whichever way. arq's own
        close gathers them without return_exceptions, so a job cancelled outside its guarded part
        (starting, or recording its result) let its CancelledError out of close(): on_shutdown
        was skipped and the process ended with status 1 (seen in the fault suite). A stopped job
        loses nothing: its rows' lease runs out and another run takes them."""
        if not self._handle_signals:
            # arq's close does this first when no signal handler has cancelled the jobs.
            self.handle_sig(signal.SIGUSR1)
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()  # all ended: nothing left for arq's gather to re-raise
        await super().close()
