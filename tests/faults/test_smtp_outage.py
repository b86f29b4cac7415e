"""The SMTP relay down for a while: the worker retries with backoff and delivers every email
once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from tests.faults.harness import Proc, arq_worker, report, wait_until, worker_env
from tests.faults.journal import Journal, accepted_delivered, load_roster
from tests.faults.outbox import Outbox, dead_letters, tally
from tests.processes import steady_port
from tests.servers.smtp_server import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


SMTP_PUPILS = 100
SMTP_DOWN_SECONDS = 20.0  # the CI variant; the `long` one is down for a minute
SMTP_DOWN_SECONDS_LONG = 60.0


async def smtp_outage(
    api: httpx.AsyncClient,
    database_url: str,
    redis_url: str,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
    down_seconds: float,
) -> None:
    retry_base, retry_max = 0.5, 2.0
    smtp.stop()  # back on a port the kernel will not give anyone else while the relay is down
    smtp.start(port=steady_port())
    env = worker_env(
        database_url,
        redis_url,
        smtp,
        retry_base_seconds=str(retry_base),
        retry_max_seconds=str(retry_max),
        lease_seconds="10",
    )
    worker = arq_worker(procs, env)
    outbox = Outbox(database_url)
    try:
        started = time.monotonic()
        worker.start()
        journal = Journal(api, await load_roster(api, SMTP_PUPILS), seed=3)
        assert await journal.post(100)
        await wait_until(
            lambda: accepted_delivered(outbox, journal),
            timeout=60, every=0.2, what="delivered before the outage", context=worker.tail,
        )  # fmt: skip
        before = len(smtp.messages)
        port = smtp.port
        smtp.stop()
        went_down = time.monotonic()
        # Marks keep coming while the relay is away; the worker retries them with backoff.
        while time.monotonic() - went_down < down_seconds:
            assert await journal.post(20)
            await asyncio.sleep(min(2.0, down_seconds / 10))
        waiting = await outbox.statuses()
        transient = await outbox.transient_attempts()
        smtp.start(port=port)
        came_back = time.monotonic()
        assert await journal.post(50)
        await wait_until(
            lambda: accepted_delivered(outbox, journal),
            timeout=60, every=0.2, what="delivered after the outage", context=worker.tail,
        )  # fmt: skip
        drained = time.monotonic()
        assert worker.stop() == 0, worker.tail()
        rows = await outbox.rows()
    finally:
        await outbox.close()
    t = tally(rows, list(smtp.messages))
    parked = await dead_letters(redis_url)
    report(
        f"smtp down {down_seconds:.0f}s",
        dead_letters=parked,
        events=len(journal.accepted),
        delivered_before=before,
        pending_at_recovery=waiting["pending"],
        transient_failures=transient,
        max_attempts=max(r.attempts for r in rows),
        rows=t.rows,
        received=t.messages,
        lost=t.lost,
        duplicates=t.duplicates,
        drain_after_recovery_s=round(drained - came_back, 1),
        time_s=round(drained - started, 1),
    )
    assert waiting["pending"] > 0 and transient > 0, "nothing was held up by the outage"
    assert parked == 0, "events were parked in the dead-letter stream"
    assert journal.undelivered(rows) == 0, t
    assert t.lost == 0 and t.not_sent == Counter(), t
    assert t.duplicates == 0 and t.recipients_off == 0, t
    # Backoff, not a busy loop: doubling from retry_base up to retry_max, with 20 % jitter.
    tries, waited = 0, 0.0
    while waited < down_seconds:
        waited += min(retry_max, retry_base * 2**tries) * 0.8
        tries += 1
    assert max(r.attempts for r in rows) <= tries + 2, t


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_smtp_down_then_up_delivers_every_email_once(
    api: httpx.AsyncClient,
    database_url: str,
    redis_clean: str,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
) -> None:
    await smtp_outage(api, database_url, redis_clean, smtp, procs, SMTP_DOWN_SECONDS)


@pytest.mark.long
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_smtp_down_for_a_minute_delivers_every_email_once(
    api: httpx.AsyncClient,
    database_url: str,
    redis_clean: str,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
) -> None:
    await smtp_outage(api, database_url, redis_clean, smtp, procs, SMTP_DOWN_SECONDS_LONG)
