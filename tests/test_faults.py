"""Fault tests on the real processes and servers: the worker killed with SIGKILL again and again
during a replay, Redis crashed and restarted (AOF), the SMTP relay down for a while, PostgreSQL
restarted. Nothing is mocked: the worker is `arq worker.WorkerSettings` in a process of its
own, the API runs in-process (httpx ASGI) or as `notifier serve`, and the servers are real.

Each test prints its figures (run pytest with `-s` to see them) and logs them on the logger
`tests.faults`. `NOTIFIER_FAULT_SEED=<n>` replays the kill test's random choices.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from notifier.config import Settings
from notifier.db.engine import create_engine
from notifier.db.migrate import upgrade
from notifier.embedded import die_with_parent, free_port
from notifier.events.stream import DEAD_STREAM, STREAM
from notifier.runtime import build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import mark, put
from tests.processes import BIN, ROOT, env_with, spawn, steady_port, wait_http
from tests.servers.postgres_server import ENV_URL, PostgresServer
from tests.servers.redis_server import RestartableRedis
from tests.servers.smtp_server import ReceivedMail, SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

log = logging.getLogger("tests.faults")
log.setLevel(logging.INFO)

# Sizes of the CI runs (the whole file in about two minutes on two cores).
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

REDIS_PUPILS = 100
REDIS_BATCHES = 10  # batches of 20 before the crash, then a batch of REDIS_LAST_BATCH
REDIS_LAST_BATCH = 400
REDIS_DOWN_SECONDS = 2.0

SMTP_PUPILS = 100
SMTP_DOWN_SECONDS = 20.0  # the CI variant; the `long` one is down for a minute
SMTP_DOWN_SECONDS_LONG = 60.0

PG_PUPILS = 100
PG_DOWN_SECONDS = 7.5  # longer than the six record tries (about 6 s) the worker had before

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)
ROW_OF_MESSAGE = re.compile(r"<notifier-(\d+)@")
SUBJECTS = ("Алгебра", "Геометрия", "Физика", "Русский язык", "История", "Химия")
VALUES = ("5", "4", "3", "2", "зачёт")


# --- processes ---------------------------------------------------------------------------------


class Proc:
    """One of our commands in a child process: started, killed, started again; each start
    writes its own log."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], tmp: Path, cwd: Path):
        self.name, self.args, self.env, self.tmp, self.cwd = name, args, env, tmp, cwd
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{name}-0.log"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        self.log = self.tmp / f"{self.name}-{self.starts}.log"
        # Killed with the test process, should that die before its fixtures can clean up.
        self.proc = spawn(
            self.args,
            cwd=self.cwd,
            env=self.env,
            log=self.log,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no chance to finish or record anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM (a clean shutdown), SIGKILL if it does not end in `timeout`."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            return None

    def tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.log.name} ---\n" + self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return f"--- {self.log.name}: no log ---"


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Make child processes that are stopped at teardown whatever happened (request this
    fixture after the servers' fixtures, so the processes stop before the servers do)."""
    made: list[Proc] = []

    def make(name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> Proc:
        proc = Proc(name, args, env, tmp_path, cwd)
        made.append(proc)
        return proc

    yield make
    for proc in reversed(made):
        proc.stop()


def worker_env(database_url: str, redis_url: str, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    """The worker's environment: short leases and backoffs so that recovery is quick."""
    settings = {
        "database_url": database_url,
        "redis_url": redis_url,
        "smtp_host": smtp.host,
        "smtp_port": str(smtp.port),
        "email_from": "school@notifier.test",
        "coalesce_seconds": "0",
        "smtp_rate_per_second": "0",  # a local server: no rate limit
        "smtp_timeout": "5",
        "retry_base_seconds": "0.2",
        "retry_max_seconds": "1",
        "lease_seconds": "2",
        "stream_claim_idle_seconds": "1",
        # NOTIFIER_FAULT_LOG_LEVEL=DEBUG: every send in the workers' logs.
        "log_level": os.environ.get("NOTIFIER_FAULT_LOG_LEVEL", "INFO"),
    }
    settings.update(extra)
    return env_with(**settings)


def arq_worker(procs: Callable[..., Proc], env: dict[str, str]) -> Proc:
    return procs("worker", [str(BIN / "arq"), "worker.WorkerSettings"], env)


def notifier_serve(
    procs: Callable[..., Proc], tmp: Path, database_url: str, redis_url: str
) -> tuple[Proc, str]:
    port = free_port()
    env = env_with(
        database_url=database_url,
        redis_url=redis_url,
        admin_token=ADMIN_TOKEN,
        http_port=str(port),
        coalesce_seconds="0",
        data_dir=str(tmp / "var"),
    )
    serve = procs("serve", [str(BIN / "notifier"), "serve"], env, cwd=tmp)
    return serve, f"http://127.0.0.1:{port}"


# --- waiting and reporting ---------------------------------------------------------------------


async def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float,  # noqa: ASYNC109 - a deadline that names what did not happen
    what: str,
    every: float = 0.1,
    context: Callable[[], str] | None = None,
) -> None:
    """Poll `check` (sync or async) until it is true; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            extra = f"\n{context()}" if context else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s{extra}")
        await asyncio.sleep(every)


def report(title: str, **figures: Any) -> None:
    line = f"{title}: " + ", ".join(f"{name}={value}" for name, value in figures.items())
    print(f"\n[faults] {line}", flush=True)
    log.info(line)


# --- roster and events -------------------------------------------------------------------------


async def load_roster(api: httpx.AsyncClient, pupils: int, classes: int = 10) -> dict[str, int]:
    """A school without quiet hours (the workers run on the real clock), its classes, and
    `pupils` pupils with one guardian each (two for every fourth pupil), all with an email and
    consent, by the CSV import. Returns the number of guardians of each pupil."""
    await put(
        api,
        "/v1/schools/s17",
        {
            "name": "Школа № 17",
            "timezone": "Europe/Moscow",
            "quiet_hours": {"start": "00:00", "end": "00:00"},
        },
    )
    for c in range(classes):
        await put(api, f"/v1/classes/c{c}", {"school_id": "s17", "name": f"{c % 11 + 1}А"})
    lines = [
        "school_id,class_id,student_id,student_name,guardian_id,guardian_name,email,consent_date"
    ]
    guardians: dict[str, int] = {}
    for p in range(pupils):
        student = f"st-{p}"
        ids = [f"g-{p}"] + ([f"g-{p}b"] if p % 4 == 0 else [])
        guardians[student] = len(ids)
        for g in ids:
            lines.append(
                f"s17,c{p % classes},{student},Ученик {p},{g},Родитель {g},"
                f"{g}@parents.example.org,2026-09-01"
            )
    response = await api.post(
        "/v1/roster/import",
        content="\r\n".join(lines).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == [] and body["imported"] == len(lines) - 1, body
    return guardians


def marks(rng: random.Random, pupils: list[str], n: int) -> list[dict[str, Any]]:
    return [
        mark(rng.choice(pupils), value=rng.choice(VALUES), subject=rng.choice(SUBJECTS))
        for _ in range(n)
    ]


async def post_events(api: httpx.AsyncClient, events: list[dict[str, Any]]) -> httpx.Response:
    return await api.post(
        "/v1/events",
        content=json.dumps(events, ensure_ascii=False),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )


# --- what was planned, recorded and received ---------------------------------------------------


class Outbox:
    """Reads the database the processes write: outbox rows, their recorded sends, events."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    async def close(self) -> None:
        await self.engine.dispose()

    async def statuses(self) -> Counter[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT status, count(*) FROM notifications GROUP BY status")
            )
            return Counter({status: n for status, n in rows})

    async def settled(self, planned: int) -> bool:
        """Every planned row exists and none is waiting any more."""
        counts = await self.statuses()
        return counts.total() == planned and counts["pending"] == 0

    async def leased(self) -> set[int]:
        """Rows claimed by a worker that has not recorded them yet: in flight."""
        async with self.engine.connect() as conn:
            result = await conn.scalars(
                text(
                    "SELECT id FROM notifications"
                    " WHERE status = 'pending' AND lease_until IS NOT NULL"
                )
            )
            return set(result.all())

    async def event_ids(self) -> set[str]:
        async with self.engine.connect() as conn:
            return set((await conn.scalars(text("SELECT event_id FROM journal_events"))).all())

    async def rows(self) -> list[Row]:
        """Every outbox row with its recipient and the Message-ID its recorded send carried."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT n.id, n.status, g.email, a.provider_id, e.event_id, n.attempts,"
                    " n.reason"
                    " FROM notifications n"
                    " JOIN guardians g ON g.id = n.guardian_id"
                    " JOIN journal_events e ON e.pk = n.event_pk"
                    " LEFT JOIN delivery_attempts a"
                    "   ON a.notification_id = n.id AND a.outcome = 'sent'"
                )
            )
            return [Row(*r) for r in result]

    async def transient_attempts(self) -> int:
        async with self.engine.connect() as conn:
            n = await conn.scalar(
                text("SELECT count(*) FROM delivery_attempts WHERE outcome = 'transient'")
            )
            return int(n or 0)


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    email: str
    provider_id: str | None
    event_id: str
    attempts: int
    reason: str | None


@dataclass
class Tally:
    """The outbox against what the SMTP server received."""

    rows: int = 0
    sent: int = 0
    not_sent: Counter[str] = field(default_factory=Counter)
    messages: int = 0  # received by the SMTP server
    recorded: int = 0  # distinct (Message-ID, recipient) pairs the outbox says it sent
    lost: int = 0  # rows not sent, or sent by a message the server never received
    repeats: int = 0  # a recorded message received more than once
    unrecorded: int = 0  # received, but no row records it (sent by a worker killed before
    # it could record the send, whose rows then went again in a message with another id)
    recipients_off: int = 0  # recipients whose received count differs from the outbox's
    double_records: int = 0  # rows with two recorded sends (never expected)
    # The first outbox row of each duplicated message (its Message-ID is notifier-<row id>).
    duplicated_rows: set[int] = field(default_factory=set)

    @property
    def duplicates(self) -> int:
        return self.repeats + self.unrecorded


def message_id(mail: ReceivedMail) -> str:
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    found = MESSAGE_ID.search(head)
    assert found, head[:500]
    return found.group(1).decode()


def tally(rows: list[Row], messages: list[ReceivedMail]) -> Tally:
    t = Tally(rows=len({r.id for r in rows}), messages=len(messages))
    received: Counter[tuple[str, str]] = Counter()
    for mail in messages:
        mid = message_id(mail)
        for rcpt in mail.rcpt_tos:
            received[(mid, rcpt.lower())] += 1
    recorded: set[tuple[str, str]] = set()
    seen: set[int] = set()
    for row in rows:
        if row.id in seen:
            t.double_records += 1
            continue
        seen.add(row.id)
        if row.status != "sent" or row.provider_id is None:
            t.not_sent[f"{row.status}: {row.reason}"] += 1
            t.lost += 1
            continue
        t.sent += 1
        key = (row.provider_id, row.email.lower())
        recorded.add(key)
        if key not in received:
            t.lost += 1
    t.recorded = len(recorded)
    by_recipient_received: Counter[str] = Counter()
    by_recipient_recorded: Counter[str] = Counter()
    for (mid, rcpt), n in received.items():
        by_recipient_received[rcpt] += n
        if (mid, rcpt) in recorded:
            t.repeats += n - 1
        else:
            t.unrecorded += n
        if n > 1 or (mid, rcpt) not in recorded:
            found = ROW_OF_MESSAGE.match(mid)
            assert found, mid
            t.duplicated_rows.add(int(found.group(1)))
    for _, rcpt in recorded:
        by_recipient_recorded[rcpt] += 1
    t.recipients_off = sum(
        1
        for rcpt in set(by_recipient_received) | set(by_recipient_recorded)
        if by_recipient_received[rcpt] != by_recipient_recorded[rcpt]
    )
    return t


# --- 1. the worker killed again and again --------------------------------------------------------


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
            await asyncio.sleep(rng.uniform(0.0, 1.2))
            worker.kill()
            last_kill = time.monotonic()
            # Only one worker runs at a time, and it is dead: every lease is a dead one's.
            leased = await outbox.leased()
            in_flight |= leased
            in_flight_total += len(leased)
            statuses = await outbox.statuses()
            kills.append(
                f"#{k + 1} at {last_kill - started:.1f}s: xadded {xadded}, "
                f"planned {statuses.total()}, recorded sent {statuses['sent']}, "
                f"received {len(smtp.messages)}, in flight {len(leased)} rows"
            )
            worker.start()
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
    for line in kills:
        print(f"[faults]   kill {line}")
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


# --- the API as a client sees it ---------------------------------------------------------------


class Journal:
    """A journal system posting batches of marks; remembers what was accepted (202)."""

    def __init__(self, api: httpx.AsyncClient, guardians: dict[str, int], seed: int) -> None:
        self.api = api
        self.guardians = guardians
        self.pupils = sorted(guardians)
        self.rng = random.Random(seed)
        self.accepted: dict[str, str] = {}  # event id -> pupil
        self.refused = 0  # requests answered with an error or not at all

    async def post(self, n: int) -> bool:
        batch = marks(self.rng, self.pupils, n)
        try:
            r = await post_events(self.api, batch)
        except httpx.HTTPError:
            self.refused += 1
            return False
        if r.status_code != 202:
            assert r.status_code >= 500, r.text  # never a client error for good events
            self.refused += 1
            return False
        pupil = {ev["id"]: ev["data"]["student_id"] for ev in batch}
        ids = r.json()["accepted"]
        assert sorted(ids) == sorted(pupil), r.text
        self.accepted.update((i, pupil[i]) for i in ids)
        return True

    def planned(self) -> int:
        """Outbox rows the accepted events must make: one per guardian of the pupil."""
        return sum(self.guardians[p] for p in self.accepted.values())

    def undelivered(self, rows: list[Row]) -> int:
        """Accepted events' rows that are missing or not sent."""
        sent = Counter(r.event_id for r in rows if r.status == "sent")
        return sum(max(0, self.guardians[p] - sent[e]) for e, p in self.accepted.items())


async def readyz(api: httpx.AsyncClient) -> httpx.Response:
    """GET /readyz; once more on a dropped connection (after an unhandled error the server
    closes the keep-alive connection the client may be about to reuse)."""
    try:
        return await api.get("/readyz")
    except httpx.TransportError:
        return await api.get("/readyz")


async def readyz_answers(
    api: httpx.AsyncClient,
    status: int,
    *,
    timeout: float,  # noqa: ASYNC109 - passed on to wait_until's deadline
    context: Callable[[], str],
) -> dict[str, Any]:
    """Wait until /readyz answers `status`; its body then."""
    seen: list[dict[str, Any]] = []

    async def answers() -> bool:
        r = await readyz(api)
        if r.status_code == status:
            seen.append(r.json())
        return r.status_code == status

    await wait_until(answers, timeout=timeout, what=f"/readyz says {status}", context=context)
    return seen[-1]


async def accepted_delivered(outbox: Outbox, journal: Journal) -> bool:
    """Every accepted event is stored and nothing waits any more."""
    if not set(journal.accepted) <= await outbox.event_ids():
        return False
    counts = await outbox.statuses()
    return counts["pending"] == 0 and counts.total() >= journal.planned()


async def dead_letters(redis_url: str) -> int:
    """Entries parked in `notifier:events:dead`: none of our events may end there."""
    client = Redis.from_url(redis_url)
    try:
        return int(await client.xlen(DEAD_STREAM))
    finally:
        await client.aclose()


def log_count(proc: Proc, needle: str) -> int:
    """Lines with `needle` in every log of `proc`'s starts."""
    return sum(
        line.count(needle)
        for n in range(1, proc.starts + 1)
        for line in (proc.tmp / f"{proc.name}-{n}.log").read_text(errors="replace").splitlines()
    )


def tails(*procs: Proc) -> Callable[[], str]:
    return lambda: "\n".join(p.tail() for p in procs)


# --- 2. Redis crashed and restarted ------------------------------------------------------------


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    """A Redis of this test's own with `appendonly yes` and `appendfsync always`."""
    server = RestartableRedis(tmp_path / "redis", port=steady_port(), persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


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


# --- 3. the SMTP relay down for a while --------------------------------------------------------


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


# --- 4. PostgreSQL restarted -------------------------------------------------------------------


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
