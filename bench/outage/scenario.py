"""The Redis outage scenario, shared by the fault test (tests/faults/test_redis_outage.py, short
settings) and `python -m bench.outage` (default settings, a 5-minute outage).

A journal posts marks to `notifier serve`; `notifier worker` consumes and delivers them to an
SMTP server. Redis (append-only file, fsync always) goes while a large batch is being sent and
a last one is not read yet, stays away `down` seconds while the journal keeps trying, then
comes back on the same port from the same files; the journal posts more. The worker must
never exit, and every accepted event must be delivered once."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from notifier.events.stream import STREAM
from notifier.worker.resilience import MAX_WAIT, PROBE_TIMEOUT
from tests.faults.harness import Proc, log_count, tails, wait_until
from tests.faults.journal import Journal, accepted_delivered, load_roster, readyz, readyz_answers
from tests.faults.outbox import Outbox, Tally, dead_letters, tally
from tests.servers.redis_server import RestartableRedis
from tests.servers.smtp_server import SmtpServer

PUPILS = 100  # one guardian each, two for every fourth pupil (125 addresses)
WARM_BATCHES = 10  # batches of 20 marks delivered before the outage
BIG_BATCH = 400  # being sent when Redis goes (through the rate limiter, which lives in Redis)
UNREAD_BATCH = 100  # posted just before: in the stream, likely not read yet
AFTER_BATCHES = 5  # batches of 20 once Redis is back
# While Redis is away the journal tries a batch of this many marks this often (seconds).
TRY_BATCH, TRY_EVERY = 5, 1.0


@dataclass(frozen=True)
class Stack:
    """What the scenario drives: the API (a client of `notifier serve`), the worker process,
    and the servers they use. The worker and the API are started by the caller."""

    api: httpx.AsyncClient
    serve: Proc
    worker: Proc
    redis: RestartableRedis
    smtp: SmtpServer
    outbox: Outbox


@dataclass(frozen=True)
class Outage:
    """What one outage did."""

    down_seconds: float  # Redis away, measured (stopped → answering again)
    worker_alive: bool  # the worker never exited (one start, still running at the end)
    worker_exit: int | None  # its status after SIGTERM at the end
    accepted: int  # events answered 202
    planned: int  # messages those events make (one per guardian of the pupil)
    delivered: int  # messages recorded sent and received by the SMTP server
    lost: int
    duplicated: int
    back_to_last_delivery_s: float  # Redis answering again → the last message received
    accepted_again_after_s: float  # Redis answering again → the API took events again
    accepted_while_down: int  # must be 0: an event is durable only once it is in the stream
    refused_while_down: int
    readyz_while_down: frozenset[int]  # the statuses /readyz answered while Redis was away
    stream_len_before: int
    stream_len_after: int
    dead_letters: int
    # log lines: the worker's loop and its stream consumer, each once per outage
    worker_unavailable: int
    worker_back: int
    consumer_unavailable: int
    consumer_back: int
    tally: Tally


async def redis_outage(
    stack: Stack,
    *,
    down: float,
    drain_timeout: float,
    seed: int = 20,
    progress: bool = False,
) -> Outage:
    """Run the scenario with Redis away for `down` seconds; wait at most `drain_timeout` for
    the delivery of every accepted event afterwards."""
    api, worker, outbox, smtp = stack.api, stack.worker, stack.outbox, stack.smtp
    context = tails(stack.serve, worker)

    def say(line: str) -> None:
        if progress:
            print(f"  {line}", flush=True)

    journal = Journal(api, await load_roster(api, PUPILS), seed=seed)
    for _ in range(WARM_BATCHES):
        assert await journal.post(20), stack.serve.tail()
    await wait_until(
        lambda: accepted_delivered(outbox, journal), timeout=120, every=0.2,
        what="delivered before the outage", context=context,
    )  # fmt: skip
    assert await journal.post(BIG_BATCH), stack.serve.tail()
    sending = len(smtp.messages)
    await wait_until(
        lambda: len(smtp.messages) >= sending + 20, timeout=60, every=0.02,
        what="sending the big batch", context=context,
    )  # fmt: skip
    assert await journal.post(UNREAD_BATCH), stack.serve.tail()
    stream_len_before = await _stream_len(stack.redis.url)
    say(f"{len(journal.accepted)} events accepted; Redis goes away for {down:.0f} s")

    stack.redis.crash()
    went = time.monotonic()
    alive = True
    accepted, refused = len(journal.accepted), journal.refused
    statuses: set[int] = set()
    while time.monotonic() - went < down:
        alive = alive and worker.alive
        await journal.post(TRY_BATCH)
        statuses.add((await readyz(api)).status_code)
        await asyncio.sleep(max(0.0, min(TRY_EVERY, down - (time.monotonic() - went))))
    accepted_while_down = len(journal.accepted) - accepted
    refused_while_down = journal.refused - refused

    stack.redis.start()  # the same port and directory: it loads its append-only file
    back = time.monotonic()
    say(f"Redis is back after {back - went:.0f} s")
    stream_len_after = await _stream_len(stack.redis.url)
    await wait_until(
        lambda: journal.post(20), timeout=60, every=0.2,
        what="the API accepts events again", context=context,
    )  # fmt: skip
    accepted_again = time.monotonic() - back
    for _ in range(AFTER_BATCHES - 1):
        assert await journal.post(20), stack.serve.tail()
    await readyz_answers(api, 200, timeout=30, context=context)
    await wait_until(
        lambda: accepted_delivered(outbox, journal), timeout=drain_timeout, every=0.5,
        what="every accepted event delivered", context=context,
    )  # fmt: skip
    # The consumer's kicks deliver while the worker's loop still waits between its probes of
    # Redis (at most MAX_WAIT apart): stopped before its next probe, it never logs that it is back.
    await wait_until(
        lambda: log_count(worker, "worker.redis_back")
        >= log_count(worker, "worker.redis_unavailable"),
        timeout=MAX_WAIT + PROBE_TIMEOUT + 10, what="the worker's loop found Redis back",
        context=context,
    )  # fmt: skip
    alive = alive and worker.alive and worker.starts == 1
    last = max(mail.at for mail in smtp.messages)
    say(f"delivered; the last message {last - back:.1f} s after Redis was back")
    worker_exit = worker.stop()
    rows = await outbox.rows()
    t = tally(rows, list(smtp.messages))
    # Accepted events' messages not sent (or never planned), and sent but never received.
    lost = journal.undelivered(rows) + t.lost - t.not_sent.total()
    return Outage(
        down_seconds=round(back - went, 1),
        worker_alive=alive,
        worker_exit=worker_exit,
        accepted=len(journal.accepted),
        planned=journal.planned(),
        delivered=journal.planned() - lost,
        lost=lost,
        duplicated=t.duplicates,
        back_to_last_delivery_s=round(last - back, 1),
        accepted_again_after_s=round(accepted_again, 1),
        accepted_while_down=accepted_while_down,
        refused_while_down=refused_while_down,
        readyz_while_down=frozenset(statuses),
        stream_len_before=stream_len_before,
        stream_len_after=stream_len_after,
        dead_letters=await dead_letters(stack.redis.url),
        worker_unavailable=log_count(worker, "worker.redis_unavailable"),
        worker_back=log_count(worker, "worker.redis_back"),
        consumer_unavailable=log_count(worker, "consumer.redis_unavailable"),
        consumer_back=log_count(worker, "consumer.redis_back"),
        tally=t,
    )


async def _stream_len(url: str) -> int:
    client = Redis.from_url(url, socket_timeout=5)
    try:
        return int(await client.xlen(STREAM))
    finally:
        await client.aclose()
