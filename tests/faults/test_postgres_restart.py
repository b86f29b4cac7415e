"""PostgreSQL restarted, or refusing connections while it shuts down: recovered without a hand,
nothing parked in the dead-letter stream."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from notifier.config import Settings
from notifier.db.migrate import upgrade
from notifier.events.stream import STREAM
from notifier.runtime import build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import mark
from tests.faults.harness import (
    Proc,
    arq_worker,
    log_count,
    notifier_serve,
    report,
    tails,
    wait_until,
    worker_env,
)
from tests.faults.journal import Journal, accepted_delivered, load_roster, readyz, readyz_answers
from tests.faults.outbox import Outbox, dead_letters, tally
from tests.processes import steady_port, wait_http
from tests.servers.postgres_server import ENV_URL, PostgresServer
from tests.servers.smtp_server import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


PG_PUPILS = 100
PG_DOWN_SECONDS = 7.5  # longer than the six record tries (about 6 s) the worker had before


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, which it may stop and start."""
    if os.environ.get(ENV_URL):
        pytest.skip(f"{ENV_URL} names a server this test cannot restart")
    pg = PostgresServer(port=steady_port())
    upgrade(pg.start())
    try:
        yield pg
    finally:
        pg.stop()


async def test_postgres_restart_recovers_without_a_hand(
    private_postgres: PostgresServer,
    redis_clean: str,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
    tmp_path: Path,
) -> None:
    pg = private_postgres
    url = pg.url
    assert url is not None
    outbox = Outbox(url)
    try:
        serve, base = notifier_serve(procs, tmp_path, url, redis_clean)
        serve.start()
        # The batch in flight when the database goes retries its record for half the lease
        # (15 s), longer than the outage: it is recorded when the database is back, not sent
        # again by the next claim.
        env = worker_env(url, redis_clean, smtp, lease_seconds="30", smtp_timeout="30")
        worker = arq_worker(procs, env)
        worker.start()
        assert serve.proc is not None
        wait_http(f"{base}/healthz", serve.proc, serve.log)
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as api:
            journal = Journal(api, await load_roster(api, PG_PUPILS), seed=4)
            stop = asyncio.Event()

            async def keep_posting() -> None:
                while not stop.is_set():
                    await journal.post(10)
                    await asyncio.sleep(0.1)

            posting = asyncio.create_task(keep_posting())
            try:
                await wait_until(
                    lambda: len(smtp.messages) >= 30, timeout=30,
                    what="messages before the restart", context=worker.tail,
                )  # fmt: skip
                # A batch in flight when the database goes: its messages wait at the SMTP
                # server until PostgreSQL is down, so its record must wait for the restart.
                smtp.hold()
                await wait_until(
                    lambda: smtp.held > 0, timeout=30, what="a send in flight",
                    context=worker.tail,
                )  # fmt: skip
                accepted_before = len(journal.accepted)
                pg.halt()
                went_down = time.monotonic()
                smtp.release()
                down = await readyz_answers(api, 503, timeout=10, context=serve.tail)
                assert down["ready"] is False and down["database"] != "ok"
                assert down["redis"] == "ok", down
                while time.monotonic() - went_down < PG_DOWN_SECONDS:
                    assert (await readyz(api)).status_code == 503
                    await asyncio.sleep(0.2)
                accepted_while_down = len(journal.accepted) - accepted_before
                pg.resume()  # same port, same data directory
                came_back = time.monotonic()
                up = await readyz_answers(api, 200, timeout=30, context=serve.tail)
                ready_again_s = time.monotonic() - came_back
                assert up == {"ready": True, "database": "ok", "redis": "ok"}
                accepted_at_resume = len(journal.accepted)
                await wait_until(
                    lambda: len(journal.accepted) >= accepted_at_resume + 100, timeout=30,
                    what="events after the restart", context=serve.tail,
                )  # fmt: skip
            finally:
                stop.set()
                await posting
        await wait_until(
            lambda: accepted_delivered(outbox, journal),
            timeout=60,
            every=0.5,
            what="every accepted event delivered",
            context=tails(serve, worker),
        )
        worker_survived = worker.alive and worker.starts == 1
        assert worker.stop() == 0, worker.tail()
        rows = await outbox.rows()
    finally:
        smtp.release()
        await outbox.close()
    t = tally(rows, list(smtp.messages))
    parked = await dead_letters(redis_clean)
    record_retries = log_count(worker, "delivery.record_retry")
    report(
        "postgres restarted",
        held_sends=smtp.held,
        record_retries=record_retries,
        dead_letters=parked,
        accepted_before=accepted_before,
        accepted_while_down=accepted_while_down,
        accepted_total=len(journal.accepted),
        refused=journal.refused,
        down_s=round(came_back - went_down, 1),
        ready_again_after_s=round(ready_again_s, 1),
        rows=t.rows,
        received=t.messages,
        lost=t.lost,
        undelivered_accepted=journal.undelivered(rows),
        duplicates=t.duplicates,
        worker_survived=worker_survived,
    )
    assert journal.undelivered(rows) == 0, t
    assert t.lost == 0 and t.not_sent == Counter(), t
    assert t.duplicates == 0 and t.recipients_off == 0, t
    assert record_retries > 0, "no batch was in flight when the database went"
    assert parked == 0, "events were parked in the dead-letter stream"
    assert worker_survived, "the worker process did not ride out the database restart"


async def test_consumer_parks_nothing_while_postgres_refuses_connections(
    private_postgres: PostgresServer, redis_clean: str, tmp_path: Path
) -> None:
    """While PostgreSQL shuts down (or starts up) it refuses new connections with 57P03. The
    stream consumer (the worker's; in-process here, to catch the moment) keeps such a batch in
    the stream and stores it once the database is back: no event goes to the dead-letter
    stream, whose entries a person must replay by hand."""
    pg = private_postgres
    assert pg.url is not None
    settings = Settings(
        database_url=pg.url,
        redis_url=redis_clean,
        data_dir=tmp_path / "var",
        coalesce_seconds=0,
        stream_claim_idle_seconds=0.1,
    )
    runtime = build_runtime(settings)
    consumer = runtime.consumer(name="fault-test")
    outbox = Outbox(pg.url)
    dsn = pg.url.replace("postgresql+asyncpg://", "postgresql://")
    session = await asyncpg.connect(dsn)  # an open session keeps the shutdown waiting
    events = [mark(f"st-{n}") for n in range(5)]
    try:
        async with runtime.redis.pipeline(transaction=False) as pipe:
            for ev in events:
                pipe.xadd(STREAM, {"event": json.dumps(ev, ensure_ascii=False)})
            await pipe.execute()
        pg.begin_smart_shutdown()

        async def refuses() -> bool:
            try:
                await (await asyncpg.connect(dsn)).close()
            except asyncpg.CannotConnectNowError:
                return True
            return False

        await wait_until(refuses, timeout=10, what="PostgreSQL refuses new connections")
        refused: DBAPIError | None = None
        try:
            await consumer.run_once()  # the batch must fail, and stay in the stream
        except DBAPIError as exc:
            refused = exc
        parked_while_refused = await dead_letters(redis_clean)
        assert parked_while_refused == 0, f"{parked_while_refused} events parked: 57P03"
        assert refused is not None and getattr(refused.orig, "sqlstate", None) == "57P03"
        await session.close()
        pg.halt()
        pg.resume()

        async def stored() -> bool:
            try:
                await consumer.run_once()
            except (DBAPIError, OSError):
                return False  # the pool's connections from before the restart
            return {ev["id"] for ev in events} <= await outbox.event_ids()

        await wait_until(stored, timeout=30, what="the events stored after the restart")
        parked = await dead_letters(redis_clean)
    finally:
        if not session.is_closed():
            await session.close()
        await outbox.close()
        await runtime.close()
    report(
        "postgres refusing connections",
        events=len(events),
        error=f"{type(refused).__name__} 57P03",
        dead_letters_while_refused=parked_while_refused,
        dead_letters=parked,
        stored_after_restart=len(events),
    )
    assert parked == 0, "events were parked in the dead-letter stream"
