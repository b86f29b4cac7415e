"""Redis away for longer than a command's retries: the worker waits it out in its loop (logged
once when Redis goes, once when it is back), never exits, and delivers every accepted event
once; SIGTERM during the outage still stops it at once. The scenario is bench/outage's, which
runs it with default settings and a 5-minute outage (`python -m bench.outage`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from arq.connections import create_pool
from redis.exceptions import ConnectionError as RedisConnectionError

from bench.outage.scenario import Stack, redis_outage
from notifier.worker.resilience import redis_settings
from tests.conftest import ADMIN_TOKEN
from tests.faults.harness import (
    Proc,
    arq_worker,
    log_count,
    notifier_serve,
    report,
    wait_until,
    worker_env,
)
from tests.faults.outbox import Outbox
from tests.processes import wait_http
from tests.servers.redis_server import RestartableRedis
from tests.servers.smtp_server import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


# NOTIFIER_REDIS_RETRY_SECONDS of the worker: short, so that the outage outlasts a command's
# retries within seconds and the worker's loop is what waits it out.
RETRY_SECONDS = 3
DOWN_SECONDS = 12.0
# SIGTERM during an outage: the process ends within this, as with Redis there (Docker's stop
# grace period). Its exit alone, interpreter teardown included, took 1.5-3 s on a busy 2-core
# machine whether Redis was there or not; waiting on Redis took far longer (arq's close retried
# its health-check key, the consumer slept out a backoff of up to 30 s).
STOP_SECONDS = 10.0


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_redis_away_longer_than_the_retries_loses_nothing(
    database_url: str,
    aof_redis: RestartableRedis,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
    tmp_path: Path,
) -> None:
    serve, base = notifier_serve(procs, tmp_path, database_url, aof_redis.url)
    serve.start()
    # The production shape: sends are rate-limited through Redis (100/s to this relay).
    env = worker_env(
        database_url,
        aof_redis.url,
        smtp,
        smtp_rate_per_second="100",
        redis_retry_seconds=str(RETRY_SECONDS),
    )
    worker = arq_worker(procs, env)
    worker.start()
    assert serve.proc is not None
    wait_http(f"{base}/healthz", serve.proc, serve.log, timeout=90)
    outbox = Outbox(database_url)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as api:
            stack = Stack(api, serve, worker, aof_redis, smtp, outbox)
            run = await redis_outage(stack, down=DOWN_SECONDS, drain_timeout=90)
    finally:
        await outbox.close()
    t = run.tally
    report(
        f"redis away {run.down_seconds:.0f}s",
        retry_seconds=RETRY_SECONDS,
        worker_alive=run.worker_alive,
        accepted=run.accepted,
        planned=run.planned,
        delivered=run.delivered,
        lost=run.lost,
        duplicated=run.duplicated,
        refused_while_down=run.refused_while_down,
        readyz_while_down=sorted(run.readyz_while_down),
        accepted_again_after_s=run.accepted_again_after_s,
        back_to_last_delivery_s=run.back_to_last_delivery_s,
        worker_unavailable=run.worker_unavailable,
        worker_back=run.worker_back,
        consumer_unavailable=run.consumer_unavailable,
        consumer_back=run.consumer_back,
    )
    assert run.worker_alive, "the worker process exited during the outage"
    assert run.worker_exit == 0, worker.tail()
    assert run.accepted_while_down == 0, "events were accepted while Redis was away"
    assert run.refused_while_down > 0
    assert run.readyz_while_down == {503}, "/readyz did not say Redis was away"
    assert run.stream_len_after == run.stream_len_before, "the append-only file lost entries"
    assert run.dead_letters == 0, "events were parked in the dead-letter stream"
    assert run.lost == 0 and t.not_sent == Counter(), t
    assert run.duplicated == 0, t
    assert run.delivered == run.planned, run
    # Waited out by the loop, not by a command's retries: once when Redis went, once back.
    assert (run.worker_unavailable, run.worker_back) == (1, 1), worker.tail()
    assert (run.consumer_unavailable, run.consumer_back) == (1, 1), worker.tail()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_sigterm_during_a_redis_outage_stops_the_worker_at_once(
    database_url: str,
    aof_redis: RestartableRedis,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
) -> None:
    env = worker_env(database_url, aof_redis.url, smtp, redis_retry_seconds=str(RETRY_SECONDS))
    worker = arq_worker(procs, env)
    worker.start()
    await wait_until(
        lambda: log_count(worker, "worker.started") == 1, timeout=60,
        what="the worker started", context=worker.tail,
    )  # fmt: skip
    assert "loop=uvloop" in worker.log.read_text(), "`notifier worker` made no uvloop"
    aof_redis.crash()
    await wait_until(
        lambda: log_count(worker, "worker.redis_unavailable") == 1, timeout=30,
        what="the worker found Redis away", context=worker.tail,
    )  # fmt: skip
    assert worker.alive, worker.tail()
    stopping = time.monotonic()
    status = worker.stop(timeout=30)
    took = time.monotonic() - stopping
    report("sigterm during a redis outage", exit_status=status, stopped_in_s=round(took, 1))
    assert status == 0, worker.tail()
    assert took < STOP_SECONDS, worker.tail()
    assert "Traceback" not in worker.log.read_text(errors="replace"), worker.tail()


async def test_a_command_gives_up_within_its_retry_seconds_reconnects_included(
    aof_redis: RestartableRedis,
) -> None:
    """redis-py retries the connect inside each retry of a command; counted retries multiplied
    (3 retries, 1.4 s of backoff, took 5.6 s): the budget is one for both."""
    budget = 1.0
    pool = await create_pool(redis_settings(aof_redis.url, budget))
    took: list[float] = []
    try:
        await pool.ping()
        aof_redis.crash()
        # The first command meets the connection Redis dropped, the second connects anew.
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(RedisConnectionError):
                await pool.zcard("arq:queue")
            took.append(time.monotonic() - started)
    finally:
        await pool.aclose()
    report("a command with redis away", budget_s=budget, took_s=[round(t, 2) for t in took])
    assert all(t <= budget + 0.5 for t in took), took
