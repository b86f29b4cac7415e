"""Redis crashed and restarted (AOF): every accepted event delivered, the API and the worker
ride it out."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from notifier.events.stream import DEAD_STREAM, STREAM
from tests.conftest import ADMIN_TOKEN
from tests.faults.harness import (
    Proc,
    arq_worker,
    notifier_serve,
    report,
    tails,
    wait_until,
    worker_env,
)
from tests.faults.journal import Journal, accepted_delivered, load_roster, readyz
from tests.faults.outbox import Outbox, tally
from tests.processes import wait_http
from tests.servers.redis_server import RestartableRedis
from tests.servers.smtp_server import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


REDIS_PUPILS = 100
REDIS_BATCHES = 10  # batches of 20 before the crash, then a batch of REDIS_LAST_BATCH
REDIS_LAST_BATCH = 400
REDIS_DOWN_SECONDS = 2.0


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_redis_crash_keeps_every_accepted_event(
    database_url: str,
    aof_redis: RestartableRedis,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
    tmp_path: Path,
) -> None:
    redis_server = aof_redis
    redis_url = redis_server.url
    outbox = Outbox(database_url)
    probe = Redis.from_url(redis_url, socket_timeout=2)
    try:
        serve, base = notifier_serve(procs, tmp_path, database_url, redis_url)
        serve.start()
        # The production shape: sends are rate-limited through Redis (100/s to this relay).
        env = worker_env(database_url, redis_url, smtp, smtp_rate_per_second="100")
        worker = arq_worker(procs, env)
        worker.start()
        assert serve.proc is not None
        wait_http(f"{base}/healthz", serve.proc, serve.log)
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as api:
            journal = Journal(api, await load_roster(api, REDIS_PUPILS), seed=2)
            for _ in range(REDIS_BATCHES):
                assert await journal.post(20), serve.tail()
                await asyncio.sleep(0.05)
            # The worker is up and at work when Redis goes.
            await wait_until(
                lambda: accepted_delivered(outbox, journal), timeout=60, every=0.2,
                what="delivered before the crash", context=worker.tail,
            )  # fmt: skip
            # A big batch: Redis goes while its messages are being sent (through the shared
            # rate limiter, which lives in Redis) and a last batch is not even read yet.
            assert await journal.post(REDIS_LAST_BATCH), serve.tail()
            sending = len(smtp.messages)
            await wait_until(
                lambda: len(smtp.messages) >= sending + 20, timeout=30, every=0.02,
                what="sending the big batch", context=worker.tail,
            )  # fmt: skip
            assert await journal.post(100), serve.tail()
            accepted_before = len(journal.accepted)
            stream_len = await probe.xlen(STREAM)
            undelivered_at_crash = len(journal.accepted) - len(
                await outbox.event_ids() & set(journal.accepted)
            )
            redis_server.crash()
            crashed = time.monotonic()
            while time.monotonic() - crashed < REDIS_DOWN_SECONDS:
                assert not await journal.post(5), "accepted while Redis was down"
                ready = await readyz(api)
                assert ready.status_code == 503 and ready.json()["redis"] != "ok", ready.text
                await asyncio.sleep(0.2)
            refused = journal.refused
            redis_server.start()  # the same port and directory: it loads its AOF
            restarted = time.monotonic()
            await probe.aclose()
            probe = Redis.from_url(redis_url, socket_timeout=2)
            stream_len_after = await probe.xlen(STREAM)
            parked = await probe.xlen(DEAD_STREAM)
            # The API takes events again without anyone restarting it.
            await wait_until(
                lambda: journal.post(20), timeout=30, every=0.2,
                what="the API accepts events again", context=serve.tail,
            )  # fmt: skip
            accepted_again_s = time.monotonic() - restarted
            for _ in range(5):
                assert await journal.post(20), serve.tail()
        await wait_until(
            lambda: accepted_delivered(outbox, journal),
            timeout=90,
            every=0.5,
            what="every accepted event delivered",
            context=tails(serve, worker),
        )
        worker_survived = worker.alive and worker.starts == 1
        serve_survived = serve.alive and serve.starts == 1
        assert worker.stop() == 0, worker.tail()
        rows = await outbox.rows()
    finally:
        await probe.aclose()
        await outbox.close()
    t = tally(rows, list(smtp.messages))
    report(
        "redis crashed",
        accepted_before_crash=accepted_before,
        not_yet_stored_at_crash=undelivered_at_crash,
        stream_len_before=stream_len,
        stream_len_after=stream_len_after,
        refused_while_down=refused,
        dead_letters=parked,
        accepted_again_after_s=round(accepted_again_s, 1),
        accepted_total=len(journal.accepted),
        rows=t.rows,
        received=t.messages,
        lost=t.lost,
        undelivered_accepted=journal.undelivered(rows),
        duplicates=t.duplicates,
        worker_survived=worker_survived,
        api_survived=serve_survived,
    )
    assert stream_len_after == stream_len, "the append-only file lost stream entries"
    assert parked == 0, "events were parked in the dead-letter stream"
    assert journal.undelivered(rows) == 0, t
    assert t.lost == 0 and t.not_sent == Counter(), t
    assert t.duplicates == 0, t
    assert serve_survived, "the API process did not ride out the Redis restart"
    assert worker_survived, "the worker process did not ride out the Redis restart"
