"""The worker's arq jobs and crons. Each is a thin edge: it takes what `lifecycle.startup` put in
ctx, calls one service and returns; the services own their transactions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import cron, func
from arq.cron import CronJob
from arq.worker import Function

from notifier.announcements import send_summaries
from notifier.channels.smsc import SmscGateway
from notifier.config import Settings
from notifier.delivery.budget import alert_admins
from notifier.delivery.receipts import poll_receipts
from notifier.retention import apply_retention
from notifier.runtime import Runtime
from notifier.summaries import plan_weekly

log = logging.getLogger("notifier.worker")
DELIVER_JOB = "deliver_due"


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
    await send_summaries(
        sessions=runtime.sessions,
        telegram=runtime.telegram,
        max_channel=runtime.max,
        now=runtime.clock(),
    )


async def weekly_summaries(ctx: dict[str, Any]) -> None:
    """Every minute: plan the weekly summaries of the schools whose Saturday digest time has
    come (once per school and week)."""
    runtime: Runtime = ctx["runtime"]
    async with runtime.sessions() as session:
        await plan_weekly(
            session=session, now=runtime.clock(), public_url=runtime.settings.public_url
        )


async def sms_budget_alerts(ctx: dict[str, Any]) -> None:
    """Every ten minutes: tell the admins of a school that spent 80% of its month's SMS."""
    runtime: Runtime = ctx["runtime"]
    await alert_admins(sessions=runtime.sessions, channels=runtime.channels, now=runtime.clock())


async def sms_status_poll(ctx: dict[str, Any]) -> None:
    """Every five minutes, with smsc.ru: ask after SMS that have no receipt yet (status.php)."""
    runtime: Runtime = ctx["runtime"]
    gateway = getattr(runtime.channels.get("sms"), "gateway", None)
    if isinstance(gateway, SmscGateway):
        await poll_receipts(sessions=runtime.sessions, gateway=gateway, now=runtime.clock())


async def retention(ctx: dict[str, Any]) -> None:
    """Every night: remove journal data, delivery records, audit entries, link codes, outbox
    files and stream entries past their retention periods."""
    runtime: Runtime = ctx["runtime"]
    settings: Settings = ctx["settings"]
    async with runtime.sessions() as session:
        await apply_retention(
            session=session, redis=runtime.redis, settings=settings, now=runtime.clock()
        )


async def deliver_now(ctx: dict[str, Any]) -> None:
    """A delivery run on this process's loop, after its consumer planned messages. Not an arq
    job: that cost every kick a Redis round trip and up to the worker's poll delay, and the
    every-second tick is there for what this misses. A run already out is told to look again
    (Dispatcher.run)."""
    try:
        await ctx["dispatcher"].run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the tick's run takes the rows; the failure is its to report
        log.warning("worker.delivery_failed", extra={"error": type(exc).__name__})


FUNCTIONS: list[Function] = [func(deliver_due, name=DELIVER_JOB, keep_result=0, max_tries=3)]
CRON_JOBS: list[CronJob] = [
    cron(deliver_due_tick, second=set(range(60)), keep_result=0, run_at_startup=True),
    cron(announcement_summaries, second=set(range(0, 60, 5)), keep_result=0),
    cron(weekly_summaries, second={30}, keep_result=0, unique=True),
    cron(sms_status_poll, minute=set(range(2, 60, 5)), second={15}, keep_result=0, unique=True),
    cron(sms_budget_alerts, minute=set(range(0, 60, 10)), second={45}, keep_result=0, unique=True),
    # Once a day at 00:40 UTC (03:40 in Moscow); the deletes are indexed and brief.
    cron(retention, hour={0}, minute={40}, keep_result=0, unique=True),
]
