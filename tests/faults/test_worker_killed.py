"""The worker killed with SIGKILL again and again during a replay: nothing lost, and a message
goes twice only if it was in flight at a kill."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis

from notifier.events.stream import DEAD_STREAM, STREAM
from tests.faults.harness import Proc, arq_worker, report, wait_until, worker_env
from tests.faults.journal import load_roster, marks
from tests.faults.outbox import Outbox, tally
from tests.servers.smtp_server import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


# Sizes of the CI run (all of tests/faults in about two minutes on two cores).
KILL_EVENTS = 5_000  # the acceptance figure: 5,000 events, the worker killed 5 times
KILLS = 5
KILL_PUPILS = 1_000  # every fourth pupil has a second guardian
KILL_REPLAY_BATCH = 100  # events per XADD pipeline ...
# ... and the pause between them: the replay takes about 17 s, so the first kills fall in it
# and the last ones in the backlog it left (a kill cycle, the worker's start included, takes
# 5-8 s on two busy cores).
KILL_REPLAY_PAUSE = 0.35
# NOTIFIER_DELIVERY_BATCH_SIZE of the killed worker. A message may go twice only if it was in
# flight when the worker died: claimed and sent, not yet recorded. The test counts the rows in
# flight at each kill (leased, still pending) and checks every duplicate against them.
KILL_BATCH_SIZE = 50


def by_kill(duplicated: set[int], leased_at: list[set[int]]) -> list[int]:
    """The messages sent twice, by the kill that left their row in flight (the first, if a
    row was in flight at two): what each kill cost, where the total says what all did."""
    counted: set[int] = set()
    per_kill = []
    for leased in leased_at:
        mine = (duplicated & leased) - counted
        counted |= mine
        per_kill.append(len(mine))
    return per_kill


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_worker_killed_five_times_during_a_replay_loses_nothing(
    api: httpx.AsyncClient,
    database_url: str,
    redis_clean: str,
    smtp: SmtpServer,
    procs: Callable[..., Proc],
) -> None:
    seed = int(os.environ.get("NOTIFIER_FAULT_SEED") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    report("kill test", seed=seed, hint=f"NOTIFIER_FAULT_SEED={seed} replays these choices")
    env = worker_env(database_url, redis_clean, smtp, delivery_batch_size=str(KILL_BATCH_SIZE))
    worker = arq_worker(procs, env)
    worker.start()  # it starts (about 3 s) while the roster loads
    spawned = time.monotonic()
    guardians = await load_roster(api, KILL_PUPILS)
    events = marks(rng, sorted(guardians), KILL_EVENTS)
    planned = sum(guardians[ev["data"]["student_id"]] for ev in events)

    outbox = Outbox(database_url)
    redis = Redis.from_url(redis_clean)
    xadded = 0

    async def replay() -> None:
        nonlocal xadded
        for start in range(0, len(events), KILL_REPLAY_BATCH):
            async with redis.pipeline(transaction=False) as pipe:
                for ev in events[start : start + KILL_REPLAY_BATCH]:
                    pipe.xadd(STREAM, {"event": json.dumps(ev, ensure_ascii=False)})
                await pipe.execute()
            xadded = start + KILL_REPLAY_BATCH
            await asyncio.sleep(KILL_REPLAY_PAUSE)

    started = time.monotonic()
    feeding = asyncio.create_task(replay())
    kills: list[str] = []
    in_flight: set[int] = set()  # rows a killed worker had claimed and not recorded
    leased_at: list[set[int]] = []  # the same, kill by kill
    in_flight_total = 0  # the same, summed over the kills (a row may be in flight twice)
    last_kill = started
    try:
        for k in range(KILLS):
            # A random moment while this worker is at work: once it has sent something (or
            # after a while, if it has nothing left), then a random delay.
            base, deadline = len(smtp.messages), time.monotonic() + 15
            while len(smtp.messages) == base and time.monotonic() < deadline:
                assert worker.alive, worker.tail()
                await asyncio.sleep(0.05)
            delay = rng.uniform(0.0, 1.2)
            await asyncio.sleep(delay)
            worker.kill()
            last_kill = time.monotonic()
            # Only one worker runs at a time, and it is dead: every lease is a dead one's.
            leased = await outbox.leased()
            in_flight |= leased
            leased_at.append(leased)
            in_flight_total += len(leased)
            statuses = await outbox.statuses()
            kills.append(
                f"#{k + 1} at {last_kill - started:.1f}s ({last_kill - spawned:.1f}s after its "
                f"start, {delay:.2f}s after its first message): xadded {xadded}, "
                f"planned {statuses.total()}, recorded sent {statuses['sent']}, "
                f"received {len(smtp.messages)}, in flight {len(leased)} rows"
            )
            worker.start()
            spawned = time.monotonic()
        await feeding
        await wait_until(
            lambda: outbox.settled(planned),
            timeout=120,
            every=0.5,
            what=f"{planned} rows planned and none pending",
            context=worker.tail,
        )
        drained = time.monotonic()
        assert worker.stop() == 0, worker.tail()
        rows = await outbox.rows()
        parked = await redis.xlen(DEAD_STREAM)
    finally:
        feeding.cancel()
        await redis.aclose()
        await outbox.close()
    t = tally(rows, list(smtp.messages))
    for line, dups in zip(kills, by_kill(t.duplicated_rows, leased_at), strict=True):
        print(f"[faults]   kill {line}, {dups} of them sent twice")
    report(
        "worker killed",
        seed=seed,
        events_replayed=len(events),
        kills_survived=len(kills),
        planned=planned,
        rows=t.rows,
        sent=t.sent,
        received=t.messages,
        recorded_messages=t.recorded,
        lost=t.lost,
        duplicates=t.duplicates,
        repeated_ids=t.repeats,
        unrecorded=t.unrecorded,
        in_flight_at_kills=in_flight_total,
        dead_letters=parked,
        duplicated_not_in_flight=len(t.duplicated_rows - in_flight),
        drain_after_last_kill_s=round(drained - last_kill, 1),
        time_s=round(drained - started, 1),
    )
    assert t.rows == planned, t
    assert t.not_sent == Counter(), t
    assert t.double_records == 0, t
    assert t.lost == 0, t
    assert parked == 0, "events were parked in the dead-letter stream"
    # A message goes twice only if it was in flight (claimed, not recorded) at a kill.
    assert t.duplicated_rows <= in_flight, sorted(t.duplicated_rows - in_flight)[:20]
    assert t.duplicates <= in_flight_total, t
    # Per recipient, the server got what the outbox recorded plus the counted duplicates.
    assert t.duplicates or t.recipients_off == 0, t
