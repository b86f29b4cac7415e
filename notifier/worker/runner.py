"""The worker's arq options, and the three ways it runs over the same jobs and ctx wiring:
arq's command line (`arq worker.WorkerSettings`, plain arq), a process of its own
(`notifier worker`) and inside another process (`notifier up`, tests)."""

from __future__ import annotations

import dataclasses
from typing import Any

from notifier.config import Settings
from notifier.rendering import installed_templates
from notifier.runtime import Runtime
from notifier.template_set import TemplatesError
from notifier.worker.jobs import CRON_JOBS, FUNCTIONS
from notifier.worker.lifecycle import shutdown, startup
from notifier.worker.resilience import ResilientWorker, RetryFor, redis_settings

# Seconds a command of plain arq's Worker (`arq worker.WorkerSettings`) retries Redis.
PLAIN_ARQ_RETRY_SECONDS = 75.0


def worker_options(settings: Settings) -> dict[str, Any]:
    """arq Worker keyword arguments for these settings, the same for every way it runs."""
    if not settings.redis_url:
        raise SystemExit(
            "NOTIFIER_REDIS_URL must be set for the worker (only `notifier up` starts a Redis)"
        )
    return {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(settings.redis_url, settings.redis_retry_seconds),
        "max_jobs": 10,
        # How often arq looks for a queued job. The delivery kick after planning waits for it:
        # at 20 events/s the median latency was 276 ms with arq's 0.5 s and 118 ms with this.
        "poll_delay": 0.05,
        "job_timeout": 300,
        "keep_result": 0,
    }


def arq_settings(settings: Settings) -> dict[str, Any]:
    """What arq's command line reads as `WorkerSettings` (it takes a dict as well as a class).
    A broken template stops it here with one line, as `notifier worker` does.

    arq's own Worker has no loop that waits an outage out (resilience.py): the retries of its
    commands are all it has, so they keep at least the minute or so they always had; a longer
    outage ends it, for its supervisor to start again."""
    try:
        installed_templates()
    except TemplatesError as exc:
        raise SystemExit(f"template error: {exc}") from None
    options = worker_options(settings)
    retry = RetryFor(max(settings.redis_retry_seconds, PLAIN_ARQ_RETRY_SECONDS))
    options["redis_settings"] = dataclasses.replace(options["redis_settings"], retry=retry)
    return {**options, "ctx": {"settings": settings}}


def process_worker(settings: Settings) -> ResilientWorker:
    """The worker of a process of its own (`notifier worker`): it owns its runtime and stops on
    SIGINT or SIGTERM. Logging is set up by the caller."""
    return ResilientWorker(
        **worker_options(settings), ctx={"settings": settings, "logging_ready": True}
    )


def in_process_worker(
    settings: Settings, runtime: Runtime, *, run_consumer: bool = True, **overrides: Any
) -> ResilientWorker:
    """A worker sharing a runtime the caller owns and closes (`notifier up`, tests); the caller
    also handles signals and calls `close()`."""
    options = {**worker_options(settings), "handle_signals": False, **overrides}
    ctx = {
        "settings": settings,
        "runtime": runtime,
        "owns_runtime": False,
        "logging_ready": True,
        "run_consumer": run_consumer,
    }
    return ResilientWorker(**options, ctx=ctx)
