"""A region's school day through the real service: how fast, and is anything lost.

    .venv/bin/python -m bench.region [--database sqlite|postgres] [--workers 1] [--runs 3]
        [--schools 20 --classes 600 --pupils 15000 --guardians 22000] [--events 6000]
        [--post-events 2000] [--rate 200 --latency-seconds 10] [--rate-limits]

What runs: `notifier serve` (the API) and `--workers` × `arq worker.WorkerSettings` (stream
consumer + delivery), each a process of its own as in production; a local Bot API server,
SMTP server and SMS gateway, each in a process of its own (bench/sinks.py); Redis (AOF,
fsync always) and SQLite or PostgreSQL. The roster is a generated region (sizes as arguments)
with a mix of channels; the events are a generated school day of its journal (absences in
the morning, marks in bursts after each lesson, corrections, homework after lessons,
timetable changes), in time order. Every message carries its event's number (in the subject
of the lesson), so what the channel servers received can be matched with the outbox.

Each run, on an emptied outbox:
  1. throughput: the first `--events` events of the day XADDed as fast as possible;
     events/s stored and planned, messages/s delivered (all channels and per channel);
  2. the API: `--post-events` more through `POST /v1/events` (batches of 100, 4 clients);
  3. latency: events XADDed at `--rate` per second for `--latency-seconds`; end-to-end
     latency from XADD to the channel server (p50/p95/p99), coalescing off;
then reconciles: lost (planned for a reachable guardian and not received) and duplicated
(received more often than planned) messages, which must both be 0. Before the runs it
measures the raw ceilings on the same machine: XADD and XREADGROUP from Python, and a bare
client against each channel server; each of our figures is printed as a ratio to its ceiling.
Rate limits are off unless --rate-limits (then the defaults: 25/s per bot, 50/s SMTP, ...).
Quiet hours are off (00:00-00:00) so that it measures the same at any hour.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy import delete, func, insert, select, text

from notifier.auth import Role, create_token
from notifier.db.engine import create_engine, session_factory
from notifier.db.migrate import upgrade
from notifier.db.models import (
    Consent,
    DeliveryAttempt,
    Guardian,
    GuardianStudent,
    JournalEvent,
    Notification,
    School,
    SchoolClass,
    Student,
)
from notifier.embedded import EmbeddedRedis, free_port
from notifier.events.schema import JournalEventIn
from notifier.events.store import store_and_plan
from notifier.events.stream import publish

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SUBJECTS = [
    "Алгебра",
    "Геометрия",
    "Русский язык",
    "Литература",
    "История",
    "Физика",
    "Химия",
    "Биология",
    "Английский язык",
    "География",
]
DAY = "2026-11-24"
MARKER = re.compile(r"№(\d+)")
CHANNEL_MIX = (("telegram", 0.60), ("email", 0.25), ("sms", 0.10), ("none", 0.05))
CONSENT_SHARE = 0.95
CLASS_WIDE = ("journal.homework.assigned", "journal.schedule.changed")


# --- the region and its day -----------------------------------------------------------------


@dataclass
class Region:
    schools: list[str]
    classes: list[tuple[str, str]]  # (class id, school id)
    pupils: list[tuple[str, str, str]]  # (pupil id, class id, school id)
    guardians: list[dict[str, Any]]
    links: list[tuple[str, str]]  # (guardian id, pupil id)
    consented: list[str]
    channels: Counter[str] = field(default_factory=Counter)


def make_region(args: argparse.Namespace, rng: random.Random) -> Region:
    schools = [f"s{i}" for i in range(args.schools)]
    classes = [(f"c{i}", schools[i % len(schools)]) for i in range(args.classes)]
    pupils = []
    for i in range(args.pupils):
        class_id, school_id = classes[i % len(classes)]
        pupils.append((f"p{i}", class_id, school_id))
    guardians: list[dict[str, Any]] = []
    links: list[tuple[str, str]] = []
    channels: Counter[str] = Counter()
    # Every pupil has one guardian; the rest are second guardians of random pupils; about one
    # guardian in twelve also has a younger child in the same school (siblings).
    seconds = rng.sample(range(len(pupils)), max(0, args.guardians - len(pupils)))
    by_school: dict[str, list[str]] = defaultdict(list)
    for pupil_id, _, school_id in pupils:
        by_school[school_id].append(pupil_id)
    owners = list(range(len(pupils))) + seconds
    names, weights = zip(*CHANNEL_MIX, strict=True)
    for g, p in enumerate(owners[: args.guardians]):
        gid = f"g{g}"
        channel = rng.choices(names, weights)[0]
        channels[channel] += 1
        row: dict[str, Any] = {
            "id": gid,
            "full_name": "Иванова Мария Петровна",
            "phone": None,
            "email": None,
            "telegram_chat_id": None,
            "locale": "ru",
        }
        if channel == "telegram":
            row["telegram_chat_id"] = str(700_000_000 + g)
        elif channel == "email":
            row["email"] = f"{gid}@region.example.org"
        elif channel == "sms":
            row["phone"] = f"+7916{g:07d}"
        guardians.append(row)
        links.append((gid, pupils[p][0]))
        if rng.random() < 1 / 12:
            sibling = rng.choice(by_school[pupils[p][2]])
            if sibling != pupils[p][0]:
                links.append((gid, sibling))
    consented = [g["id"] for g in guardians if rng.random() < CONSENT_SHARE]
    return Region(schools, classes, pupils, guardians, links, consented, channels)


@dataclass
class DayEvent:
    at: float  # seconds after 08:00
    type: str
    data: dict[str, Any]
    marker: int


def school_day(region: Region, rng: random.Random) -> list[DayEvent]:
    """Six lessons in every class: absences and lateness at the first bell, marks entered in a
    burst after each lesson, homework after it, a few corrections later, a few timetable
    changes in the morning. Ordered by time; markers number the lessons' subjects."""
    events: list[DayEvent] = []
    marker = 0

    def subject(name: str) -> tuple[str, int]:
        nonlocal marker
        marker += 1
        return f"{name} №{marker}", marker

    pupils_of: dict[str, list[str]] = defaultdict(list)
    for pupil_id, class_id, _ in region.pupils:
        pupils_of[class_id].append(pupil_id)
    marks: list[tuple[float, dict[str, Any], int]] = []
    for class_id, _ in region.classes:
        pupils = pupils_of[class_id]
        if not pupils:
            continue
        offset = rng.uniform(0, 120)  # classes do not all ring at one second
        lessons = rng.sample(SUBJECTS, 6)
        for pupil in pupils:
            r = rng.random()
            if r < 0.06:
                status = "absent" if r < 0.045 else "late"
                name, n = subject(lessons[0])
                data = {"student_id": pupil, "lesson_date": DAY, "status": status}
                data |= {"lesson_number": 1, "subject": name}
                if status == "late":
                    data["minutes_late"] = rng.randint(3, 20)
                events.append(
                    DayEvent(offset + rng.uniform(300, 900), "journal.attendance.recorded", data, n)
                )
        if rng.random() < 0.05:
            name, n = subject(rng.choice(SUBJECTS))
            data = {"class_id": class_id, "date": DAY, "change": "replaced", "lesson_number": 4}
            data |= {"subject": name, "substitute_teacher": "Петрова А. А."}
            events.append(
                DayEvent(offset + rng.uniform(0, 1800), "journal.schedule.changed", data, n)
            )
        for lesson, lesson_subject in enumerate(lessons):
            bell = offset + lesson * 55 * 60 + 45 * 60
            for k, pupil in enumerate(rng.sample(pupils, min(len(pupils), rng.randint(4, 10)))):
                name, n = subject(lesson_subject)
                data = {
                    "mark_id": f"m{n}",
                    "student_id": pupil,
                    "subject": name,
                    "value": rng.choice("2345555444"),
                    "work_type": "Ответ на уроке",
                    "lesson_date": DAY,
                }
                at = bell + 5 + 6 * k
                events.append(DayEvent(at, "journal.mark.created", data, n))
                marks.append((at, data, n))
            name, n = subject(lesson_subject)
            homework = {
                "homework_id": f"h{n}",
                "class_id": class_id,
                "subject": name,
                "text": "Параграф 12, упражнения 3–5; повторить правила.",
                "due_date": "2026-11-25",
            }
            events.append(DayEvent(bell + 240, "journal.homework.assigned", homework, n))
    # About one mark in forty is corrected later the same day (same mark: same marker).
    for at, data, n in rng.sample(marks, len(marks) // 40):
        update = {
            "mark_id": data["mark_id"],
            "student_id": data["student_id"],
            "subject": data["subject"],
            "value": "4" if data["value"] != "4" else "5",
            "old_value": data["value"],
            "changed_by": "Сидорова Е. В.",
        }
        events.append(DayEvent(at + rng.uniform(600, 7200), "journal.mark.updated", update, n))
    events.sort(key=lambda e: e.at)
    return events


def as_cloudevents(events: list[DayEvent], source: str) -> list[JournalEventIn]:
    return [
        JournalEventIn(source=source, id=f"e{i}", type=e.type, time=None, data=e.data)
        for i, e in enumerate(events)
    ]


async def load_region(database_url: str, region: Region) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as s:
            for school in region.schools:
                s.add(
                    School(
                        id=school, name=f"Школа {school}", quiet_start="00:00", quiet_end="00:00"
                    )
                )
            await s.flush()
            rows: list[tuple[Any, list[dict[str, Any]]]] = [
                (
                    SchoolClass,
                    [{"id": c, "school_id": sc, "name": "7Б"} for c, sc in region.classes],
                ),
                (
                    Student,
                    [
                        {
                            "id": p,
                            "class_id": c,
                            "school_id": sc,
                            "full_name": "Иванов Пётр Сергеевич",
                        }
                        for p, c, sc in region.pupils
                    ],
                ),
                (Guardian, region.guardians),
                (GuardianStudent, [{"guardian_id": g, "student_id": p} for g, p in region.links]),
                (Consent, [{"guardian_id": g, "document": "заявление"} for g in region.consented]),
            ]
            for model, values in rows:
                for start in range(0, len(values), 2000):
                    await s.execute(insert(model), values[start : start + 2000])
            await s.commit()
    finally:
        await engine.dispose()


async def messages_per_guardian(sessions: Any, day: list[DayEvent]) -> list[int]:
    """Plan the whole day with the consumer's own planning (coalescing off) and count each
    reachable guardian's messages. Planned for the year 2100, so no worker sends them, and
    removed afterwards."""
    events = as_cloudevents(day, "/bench/whole-day")
    later = datetime(2100, 1, 1, 12, tzinfo=UTC)
    for start in range(0, len(events), 500):
        async with sessions() as s:
            await store_and_plan(session=s, events=events[start : start + 500], now=later)
    await analyze(sessions)
    async with sessions() as s:
        of_day = select(JournalEvent.pk).where(JournalEvent.source == "/bench/whole-day")
        counts = dict(
            (
                await s.execute(
                    select(Notification.guardian_id, func.count())
                    .where(Notification.event_pk.in_(of_day), Notification.status == "pending")
                    .group_by(Notification.guardian_id)
                )
            ).all()
        )
        reachable = (
            await s.scalars(
                select(Guardian.id)
                .join(Consent, Consent.guardian_id == Guardian.id)
                .where(
                    (Guardian.telegram_chat_id.is_not(None))
                    | (Guardian.email.is_not(None))
                    | (Guardian.phone.is_not(None))
                )
            )
        ).all()
        await s.execute(delete(Notification).where(Notification.event_pk.in_(of_day)))
        await s.execute(delete(JournalEvent).where(JournalEvent.source == "/bench/whole-day"))
        await s.commit()
    return sorted(counts.get(g, 0) for g in set(reachable))


# --- processes ------------------------------------------------------------------------------


class Sink:
    """One channel server in its own process (bench/sinks.py)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sinks", kind],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.address: dict[str, Any] = json.loads(self._line())

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} sink exited")
        return line

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self._line())
        return reply

    def records(self, folder: Path) -> list[tuple[str, str, float]]:
        path = folder / f"{self.kind}.json"
        self.ask(f"dump {path}")
        return [tuple(r) for r in json.loads(path.read_text(encoding="utf-8"))]  # type: ignore[misc]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
            except (OSError, RuntimeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes (the postmaster and its backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU seconds used by each part of the system (our processes, the servers, the bench)."""

    def __init__(self, parts: dict[str, list[int]], postgres: bool) -> None:
        self.parts = parts
        self.postgres = postgres
        self._start: dict[str, float] = {}
        self._t = 0.0

    def _read(self) -> dict[str, float]:
        parts = dict(self.parts)
        if self.postgres:
            parts["postgres"] = postgres_pids()
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in parts.items()}

    def start(self) -> None:
        self._start = self._read()
        self._t = time.monotonic()

    def shares(self) -> dict[str, float]:
        """Cores used by each part since start() (1.0 = one core busy all the time)."""
        wall = time.monotonic() - self._t
        now = self._read()
        return {name: (now[name] - self._start.get(name, 0.0)) / wall for name in now}


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Service:
    """`notifier serve` and N arq workers, configured by environment as an operator would."""

    def __init__(self, env: dict[str, str], workers: int, logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.api_port = int(env["NOTIFIER_HTTP_PORT"])
        self.api = self._spawn([str(BIN / "notifier"), "serve"], "api")
        self.metrics_ports = [free_port() for _ in range(workers)]
        self.workers = [
            self._spawn(
                [str(BIN / "arq"), "worker.WorkerSettings"],
                f"worker{i}",
                NOTIFIER_WORKER_METRICS_PORT=str(port),
            )
            for i, port in enumerate(self.metrics_ports)
        ]

    def _spawn(self, args: list[str], name: str, **env: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as out:
            return subprocess.Popen(
                args, cwd=ROOT, env=self.env | env, stdout=out, stderr=subprocess.STDOUT
            )

    async def sent_by_metrics(self) -> float:
        """Messages the workers' own /metrics say they sent (a cross-check of the count)."""
        total = 0.0
        async with aiohttp.ClientSession() as http:
            for port in self.metrics_ports:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                    for family in text_string_to_metric_families(await r.text()):
                        for sample in family.samples:
                            if (
                                sample.name == "notifier_messages_total"
                                and sample.labels.get("outcome") == "sent"
                            ):
                                total += sample.value
        return total

    async def ready(self, timeout: float = 60) -> None:  # noqa: ASYNC109
        """The API answers /readyz and every worker has run its first job (after startup)."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                self.check()
                try:
                    async with http.get(f"http://127.0.0.1:{self.api_port}/readyz") as r:
                        api = r.status == 200
                except aiohttp.ClientError:
                    api = False
                started = sum(
                    "worker.started" in (self.logs / f"worker{i}.log").read_text()
                    for i in range(len(self.workers))
                )
                if api and started == len(self.workers):
                    return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the service did not start; see {self.logs}")

    def check(self) -> None:
        for proc in [self.api, *self.workers]:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited with {proc.returncode}; see {self.logs}")

    def pids(self) -> dict[str, list[int]]:
        return {"api": [self.api.pid], "workers": [w.pid for w in self.workers]}

    def memory(self) -> dict[str, float]:
        return {
            "api_peak_mb": peak_rss_mb(self.api.pid),
            "worker_peak_mb": max(peak_rss_mb(w.pid) for w in self.workers),
        }

    def stop(self) -> None:
        for proc in [self.api, *self.workers]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [self.api, *self.workers]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


# --- raw ceilings ---------------------------------------------------------------------------


async def raw_ceilings(
    redis: Redis, sinks: dict[str, Sink], payload: bytes, size: int
) -> dict[str, float]:
    """What the machine does without us: the same Redis and channel servers, bare clients."""
    n = 4 * size
    stream = "bench:raw"
    await redis.delete(stream)
    t = time.perf_counter()
    for start in range(0, n, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(min(1000, n - start)):
                pipe.xadd(stream, {"event": payload})
            await pipe.execute()
    xadd = n / (time.perf_counter() - t)
    await redis.xgroup_create(stream, "raw", id="0")
    t = time.perf_counter()
    read = 0
    while True:
        batch = await redis.xreadgroup("raw", "c", {stream: ">"}, count=500)
        if not batch or not batch[0][1]:
            break
        ids = [entry_id for entry_id, _ in batch[0][1]]
        read += len(ids)
        await redis.xack(stream, "raw", *ids)
    xread = read / (time.perf_counter() - t)
    await redis.delete(stream)
    ceilings = {"xadd_per_s": xadd, "xreadgroup_per_s": xread}

    text = "Алгебра №0: 5\nИванов Пётр · 24 ноября · Ответ на уроке"
    tg = sinks["telegram"].address
    url = f"{tg['api_base']}/bot{tg['token']}/sendMessage"
    sms = sinks["sms"].address
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as http:

        async def telegram(i: int) -> None:
            form = {"chat_id": str(600_000_000 + i % 1000), "text": text, "parse_mode": "HTML"}
            async with http.post(url, data=form) as r:
                await r.read()

        async def gateway(i: int) -> None:
            body = {"to": f"+7900{i % 1000:07d}", "text": text}
            headers = {"Authorization": f"Bearer {sms['api_key']}"}
            async with http.post(sms["url"], json=body, headers=headers) as r:
                await r.read()

        ceilings["telegram_per_s"] = await _rate(telegram, size, 20)
        ceilings["sms_per_s"] = await _rate(gateway, size, 20)

    smtp = sinks["smtp"].address
    clients = [aiosmtplib.SMTP(hostname=smtp["host"], port=smtp["port"]) for _ in range(4)]
    for c in clients:
        await c.connect()
    message = (
        "From: bench@region.example.org\r\nTo: a@region.example.org\r\nSubject: =?utf-8?b?"
        "0J3QvtCy0LDRjyDQvtGG0LXQvdC60LA=?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n" * 40
    ).encode()
    idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    for c in clients:
        idle.put_nowait(c)

    async def mail(i: int) -> None:
        client = await idle.get()
        try:
            await client.sendmail("bench@region.example.org", [f"r{i}@region.example.org"], message)
        finally:
            idle.put_nowait(client)

    ceilings["smtp_per_s"] = await _rate(mail, size // 2, 4)
    for c in clients:
        await c.quit()
    for sink in sinks.values():
        sink.ask("clear")
    return ceilings


async def _rate(call: Any, n: int, concurrency: int) -> float:
    queue = iter(range(n))

    async def lane() -> None:
        for i in queue:
            await call(i)

    t = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return n / (time.perf_counter() - t)


# --- one run --------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    source: str
    events: list[DayEvent]
    published: dict[int, float] = field(default_factory=dict)  # marker → last XADD (monotonic)
    started: float = 0.0  # monotonic
    started_wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    accepted_at: float = 0.0  # monotonic, when the last event was accepted (POST) or XADDed


async def wait_done(
    sessions: Any,
    phase: Phase,
    timeout: float,  # noqa: ASYNC109
) -> datetime:
    """Until every event of the phase is stored and no row of it is pending; returns the time
    the last event was stored."""
    n = len(phase.events)
    deadline = time.monotonic() + timeout
    while True:
        async with sessions() as s:
            stored, last = (
                await s.execute(
                    select(func.count(), func.max(JournalEvent.received_at)).where(
                        JournalEvent.source == phase.source
                    )
                )
            ).one()
            # Phases run one after another on an emptied outbox: any pending row is this
            # phase's. (A join on the source here made PostgreSQL, planning on stale
            # statistics, spend a core on the bench's own polling.)
            pending = await s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.status == "pending")
            )
        if stored >= n and not pending:
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{phase.name}: {stored}/{n} events stored, {pending} rows pending")
        await asyncio.sleep(0.25)


async def analyze(sessions: Any) -> None:
    """Fresh planner statistics on PostgreSQL before the bench's own counting queries."""
    async with sessions() as s:
        if s.get_bind().dialect.name == "postgresql":
            await s.execute(text("ANALYZE"))
            await s.commit()


async def top_statements(sessions: Any, n: int = 6) -> None:
    """The statements PostgreSQL spent most time on over the whole benchmark."""
    async with sessions() as s:
        try:
            rows = (
                await s.execute(
                    text(
                        "SELECT calls, total_exec_time, query FROM pg_stat_statements "
                        "ORDER BY total_exec_time DESC LIMIT :n"
                    ),
                    {"n": n},
                )
            ).all()
        except Exception as exc:
            print(f"  (pg_stat_statements not available: {type(exc).__name__})")
            return
    print("  PostgreSQL's top statements by total time:")
    for calls, total_ms, query in rows:
        print(f"    {total_ms / 1000:7.1f} s {calls:>8,} calls  {' '.join(query.split())[:110]}")


async def expected_deliveries(
    sessions: Any, phase: Phase
) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """(channel, recipient) → how many messages the outbox says went (rows sent as one message,
    a list or a mark folded with its correction, count once); and the rows' outcomes."""
    messages: set[tuple[str, str, str | None]] = set()
    outcomes: Counter[str] = Counter()
    await analyze(sessions)
    async with sessions() as s:
        rows = await s.execute(
            select(
                Notification.status,
                Notification.reason,
                Notification.channel,
                Guardian.telegram_chat_id,
                Guardian.email,
                Guardian.phone,
                DeliveryAttempt.provider_id,
            )
            .join(JournalEvent, JournalEvent.pk == Notification.event_pk)
            .join(Guardian, Guardian.id == Notification.guardian_id)
            .outerjoin(
                DeliveryAttempt,
                (DeliveryAttempt.notification_id == Notification.id)
                & (DeliveryAttempt.outcome == "sent"),
            )
            .where(JournalEvent.source == phase.source)
        )
        for status, reason, channel, chat, email, phone, provider_id in rows:
            outcomes[status if status != "skipped" else f"skipped:{reason}"] += 1
            if status == "sent":
                recipient = {"telegram": chat, "email": email, "sms": phone}[channel]
                messages.add((channel, recipient, provider_id))
    expected = Counter((channel, to) for channel, to, _ in messages)
    return expected, outcomes


def received(
    records: dict[str, list[tuple[str, str, float]]],
) -> dict[tuple[str, str, int], list[float]]:
    got: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for kind, rows in records.items():
        channel = "email" if kind == "smtp" else kind
        for recipient, body, at in rows:
            for marker in {int(m) for m in MARKER.findall(body)}:
                got[(channel, recipient, marker)].append(at)
    return got


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def xadd_all(redis: Redis, phase: Phase) -> None:
    events = as_cloudevents(phase.events, phase.source)
    phase.started = time.monotonic()
    phase.started_wall = datetime.now(UTC)
    for start in range(0, len(events), 1000):
        await publish(redis, events[start : start + 1000])
        now = time.monotonic()
        for e in phase.events[start : start + 1000]:
            phase.published[e.marker] = now
    phase.accepted_at = time.monotonic()


async def xadd_at_rate(redis: Redis, phase: Phase, rate: float) -> None:
    events = as_cloudevents(phase.events, phase.source)
    phase.started = time.monotonic()
    phase.started_wall = datetime.now(UTC)
    for i, (event, day_event) in enumerate(zip(events, phase.events, strict=True)):
        delay = phase.started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await publish(redis, [event])
        phase.published[day_event.marker] = time.monotonic()
    phase.accepted_at = time.monotonic()


async def post_all(api: str, token: str, phase: Phase) -> None:
    events = [json.loads(e.to_json()) for e in as_cloudevents(phase.events, phase.source)]
    for e in events:
        e["specversion"] = "1.0"
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    phase.started = time.monotonic()
    phase.started_wall = datetime.now(UTC)
    todo = iter(range(len(batches)))
    async with aiohttp.ClientSession() as http:

        async def client() -> None:
            for b in todo:
                async with http.post(
                    f"{api}/v1/events", data=json.dumps(batches[b]), headers=headers
                ) as r:
                    body = await r.text()
                    if r.status != 202:
                        raise RuntimeError(f"POST /v1/events answered {r.status}: {body[:300]}")
                now = time.monotonic()
                for e in phase.events[b * 100 : b * 100 + 100]:
                    phase.published[e.marker] = now

        await asyncio.gather(*(client() for _ in range(4)))
    phase.accepted_at = time.monotonic()


async def one_run(
    args: argparse.Namespace,
    run: int,
    day: list[DayEvent],
    redis: Redis,
    sessions: Any,
    sinks: dict[str, Sink],
    api: str,
    token: str,
    folder: Path,
    cpu: CpuMeter,
) -> dict[str, float]:
    async with sessions() as s:  # an empty outbox, so each run meets the same database
        for model in (DeliveryAttempt, Notification, JournalEvent):
            await s.execute(delete(model))
        await s.commit()
    for sink in sinks.values():
        sink.ask("clear")
    figures: dict[str, float] = {}
    n = min(args.events, len(day))
    post_n = min(args.post_events, len(day) - n)
    # The latency phase replays the day's events about one pupil (marks, corrections,
    # absences): a class's homework goes to ~37 guardians, and at 200 of those a second the
    # offered load would be ~7,000 messages/s, beyond any sender here; the figure would only
    # say how long the queue grew.
    per_pupil = [e for e in day[n + post_n :] if e.type not in CLASS_WIDE]
    lat_n = min(int(args.rate * args.latency_seconds), len(per_pupil))
    throughput = Phase("throughput", f"/bench/run{run}/stream", day[:n])
    posted = Phase("api", f"/bench/run{run}/api", day[n : n + post_n])
    latency = Phase("latency", f"/bench/run{run}/rate", per_pupil[:lat_n])

    cpu.start()
    await xadd_all(redis, throughput)
    last_stored = await wait_done(sessions, throughput, timeout=args.timeout)
    t_done = time.monotonic()
    for part, cores in cpu.shares().items():
        figures[f"cores_{part}"] = cores
    records = {kind: sink.records(folder) for kind, sink in sinks.items()}
    ingest_s = (last_stored.replace(tzinfo=UTC) - throughput.started_wall).total_seconds()
    figures["events"] = n
    figures["ingest_events_per_s"] = n / ingest_s
    all_at = [at for rows in records.values() for _, _, at in rows]
    messages = len(all_at)
    figures["messages"] = messages
    figures["messages_per_s"] = messages / (max(all_at) - throughput.started) if all_at else 0.0
    for kind, rows in records.items():
        ats = [at for _, _, at in rows]
        span = max(ats) - min(ats) if len(ats) > 1 else float("nan")
        figures[f"{kind}_messages"] = len(rows)
        figures[f"{kind}_per_s"] = len(rows) / span if span else float("nan")
    figures["throughput_wall_s"] = t_done - throughput.started
    tally = reconcile(await expected_deliveries(sessions, throughput), records)

    for sink in sinks.values():
        sink.ask("clear")
    if posted.events:
        await post_all(api, token, posted)
        figures["api_accept_events_per_s"] = len(posted.events) / (
            posted.accepted_at - posted.started
        )
        last_stored = await wait_done(sessions, posted, timeout=args.timeout)
        figures["api_ingest_events_per_s"] = (
            len(posted.events)
            / (last_stored.replace(tzinfo=UTC) - posted.started_wall).total_seconds()
        )
        records = {kind: sink.records(folder) for kind, sink in sinks.items()}
        tally += reconcile(await expected_deliveries(sessions, posted), records)

    for sink in sinks.values():
        sink.ask("clear")
    if latency.events:
        await xadd_at_rate(redis, latency, args.rate)
        await wait_done(sessions, latency, timeout=args.timeout)
        records = {kind: sink.records(folder) for kind, sink in sinks.items()}
        got = received(records)
        delays = [
            at - latency.published[marker]
            for (_, _, marker), ats in got.items()
            for at in ats
            if marker in latency.published
        ]
        figures["latency_messages"] = len(delays)
        figures["latency_offered_messages_per_s"] = len(delays) / (
            latency.accepted_at - latency.started
        )
        figures["latency_p50_ms"] = 1000 * percentile(delays, 0.50)
        figures["latency_p95_ms"] = 1000 * percentile(delays, 0.95)
        figures["latency_p99_ms"] = 1000 * percentile(delays, 0.99)
        figures["latency_rate_events_per_s"] = len(latency.events) / (
            latency.accepted_at - latency.started
        )
        tally += reconcile(await expected_deliveries(sessions, latency), records)
    for key in ("lost", "duplicated", "unattributed", "rows_sent"):
        figures[key] = tally[key]
    return figures


def reconcile(
    planned: tuple[Counter[tuple[str, str]], Counter[str]],
    records: dict[str, list[tuple[str, str, float]]],
) -> Counter[str]:
    """Messages per recipient, outbox against servers. lost: sent by the outbox's account (or
    still pending, or failed) and not received; duplicated: received more often than sent;
    unattributed: received with no event number in it; rows_sent: outbox rows marked sent."""
    expected, outcomes = planned
    got: Counter[tuple[str, str]] = Counter()
    unattributed = 0
    for kind, rows in records.items():
        for recipient, body, _ in rows:
            got[("email" if kind == "smtp" else kind, recipient)] += 1
            unattributed += not MARKER.search(body)
    lost = sum(max(0, n - got[key]) for key, n in expected.items())
    lost += outcomes["pending"] + outcomes["failed"]
    duplicated = sum(max(0, n - expected[key]) for key, n in got.items())
    return Counter(
        lost=lost, duplicated=duplicated, unattributed=unattributed, rows_sent=outcomes["sent"]
    )


# --- the whole benchmark -------------------------------------------------------------------


async def bench(args: argparse.Namespace, folder: Path, database_url: str, redis_url: str) -> None:
    rng = random.Random(args.seed)
    region = make_region(args, rng)
    day = school_day(region, rng)
    kinds = Counter(e.type.rsplit(".", 2)[-2] for e in day)
    print(
        f"region: {len(region.schools)} schools, {len(region.classes)} classes, "
        f"{len(region.pupils)} pupils, {len(region.guardians)} guardians "
        f"({', '.join(f'{k} {v}' for k, v in region.channels.most_common())}; "
        f"{len(region.consented)} with consent)"
    )
    print(
        f"school day: {len(day)} journal events "
        f"({', '.join(f'{k} {v}' for k, v in kinds.most_common())})"
    )
    await asyncio.to_thread(upgrade, database_url)
    if database_url.startswith("postgresql"):
        engine0 = create_engine(database_url)
        try:
            async with engine0.begin() as conn:
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        except Exception:
            pass
        await engine0.dispose()
    t = time.perf_counter()
    await load_region(database_url, region)
    print(f"roster loaded in {time.perf_counter() - t:.1f} s")
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with sessions() as s:
        token, _ = await create_token(session=s, role=Role.integration, label="bench")

    t = time.perf_counter()
    per_guardian = await messages_per_guardian(sessions, day)
    print(
        f"messages per reachable guardian for the whole day (coalescing off, planned in "
        f"{time.perf_counter() - t:.0f} s): median {statistics.median(per_guardian):.0f}, "
        f"90th percentile {percentile(per_guardian, 0.9):.0f}, max {max(per_guardian)}; "
        f"{sum(per_guardian):,} in all",
        flush=True,
    )
    sinks = {kind: Sink(kind) for kind in ("telegram", "smtp", "sms")}
    redis = Redis.from_url(redis_url)
    service = None
    try:
        payload = as_cloudevents(day[:1], "/bench/raw")[0].to_json().encode()
        ceilings = await raw_ceilings(redis, sinks, payload, args.ceiling_size)
        print(
            "raw ceilings (bare clients, same machine): "
            + ", ".join(f"{k}={v:,.0f}" for k, v in ceilings.items())
        )
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
        limits = (
            {}
            if args.rate_limits
            else {
                "TELEGRAM_RATE_PER_SECOND": "0",
                "TELEGRAM_CHAT_INTERVAL_SECONDS": "0",
                "SMTP_RATE_PER_SECOND": "0",
                "SMS_RATE_PER_SECOND": "0",
            }
        )
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HTTP_PORT": str(port),
            "DATA_DIR": str(folder / "var"),
            "COALESCE_SECONDS": "0",
            "EMAIL_FROM": "school@region.example.org",
            "SMTP_HOST": sinks["smtp"].address["host"],
            "SMTP_PORT": str(sinks["smtp"].address["port"]),
            "TELEGRAM_TOKEN": sinks["telegram"].address["token"],
            "TELEGRAM_API_BASE": sinks["telegram"].address["api_base"],
            "SMS_PROVIDER": "http",
            "SMS_URL": sinks["sms"].address["url"],
            "SMS_API_KEY": sinks["sms"].address["api_key"],
            "LOG_FORMAT": "json",
            **limits,
        }
        env.update({f"NOTIFIER_{k}": v for k, v in settings.items()})
        service = Service(env, args.workers, folder)
        await service.ready()
        redis_pid = int((await redis.info("server"))["process_id"])
        parts = service.pids() | {
            "sinks": [sink.proc.pid for sink in sinks.values()],
            "redis": [redis_pid],
            "bench": [os.getpid()],
        }
        cpu = CpuMeter(parts, postgres=args.database == "postgres")
        results = []
        for run in range(args.runs):
            figures = await one_run(
                args,
                run,
                day,
                redis,
                sessions,
                sinks,
                f"http://127.0.0.1:{port}",
                token,
                folder,
                cpu,
            )
            service.check()
            results.append(figures)
            print(
                f"run {run + 1}: " + ", ".join(f"{k}={v:,.1f}" for k, v in figures.items()),
                flush=True,
            )
        memory = service.memory()
        memory["metrics_sent"] = await service.sent_by_metrics()
        report(args, results, ceilings, memory)
        if args.database == "postgres":
            await top_statements(sessions)
    finally:
        if service is not None:
            service.stop()
        for sink in sinks.values():
            sink.stop()
        await redis.aclose()
        await engine.dispose()


def report(
    args: argparse.Namespace,
    results: list[dict[str, float]],
    ceilings: dict[str, float],
    memory: dict[str, float],
) -> None:
    def med(key: str) -> float:
        values = [r[key] for r in results if key in r]
        return statistics.median(values) if values else float("nan")

    print(
        f"\nmedian of {len(results)} runs; database {args.database}, "
        f"{args.workers} worker process(es), "
        f"rate limits {'on' if args.rate_limits else 'off'}:"
    )
    rows = [
        (
            "events stored and planned /s (stream)",
            med("ingest_events_per_s"),
            ceilings["xadd_per_s"],
            "XADD",
        ),
        (
            "events accepted /s (POST /v1/events)",
            med("api_accept_events_per_s"),
            ceilings["xadd_per_s"],
            "XADD",
        ),
        (
            "events stored and planned /s (POST)",
            med("api_ingest_events_per_s"),
            ceilings["xreadgroup_per_s"],
            "XREADGROUP",
        ),
        ("messages delivered /s, all channels", med("messages_per_s"), None, ""),
        ("  telegram /s", med("telegram_per_s"), ceilings["telegram_per_s"], "bare Bot API client"),
        ("  email /s", med("smtp_per_s"), ceilings["smtp_per_s"], "bare SMTP client"),
        ("  sms /s", med("sms_per_s"), ceilings["sms_per_s"], "bare gateway client"),
    ]
    for label, value, ceiling, what in rows:
        ratio = f"  = {value / ceiling:.3f} × {what} ({ceiling:,.0f}/s)" if ceiling else ""
        print(f"  {label:40s} {value:>9,.0f}{ratio}")
    print(
        f"  latency XADD → channel server at {args.rate:.0f} events/s: "
        f"p50 {med('latency_p50_ms'):,.0f} ms, "
        f"p95 {med('latency_p95_ms'):,.0f} ms, p99 {med('latency_p99_ms'):,.0f} ms "
        f"({med('latency_messages'):,.0f} messages, "
        f"{med('latency_offered_messages_per_s'):,.0f}/s offered; events about one pupil)"
    )
    cores = {k[6:]: med(k) for k in results[0] if k.startswith("cores_")}
    print(
        "  CPU while the events above were ingested and delivered, in cores (2 in all): "
        + ", ".join(f"{name} {value:.2f}" for name, value in cores.items())
    )
    per_message = cores["workers"] * med("throughput_wall_s") / med("messages")
    print(
        "  worker CPU per message delivered (ingest and planning included): "
        f"{per_message * 1e6:,.0f} µs"
    )
    print(
        f"  peak memory: API {memory['api_peak_mb']:.0f} MB, "
        f"worker {memory['worker_peak_mb']:.0f} MB"
    )
    print(
        f"  reconciliation over all runs: lost {sum(r['lost'] for r in results):.0f}, "
        f"duplicated {sum(r['duplicated'] for r in results):.0f}, "
        f"without an event number {sum(r['unattributed'] for r in results):.0f}; outbox rows sent "
        f"{sum(r['rows_sent'] for r in results):,.0f}, by the workers' /metrics "
        f"{memory['metrics_sent']:,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--classes", type=int, default=600)
    parser.add_argument("--pupils", type=int, default=15_000)
    parser.add_argument("--guardians", type=int, default=22_000)
    parser.add_argument("--events", type=int, default=6_000, help="replayed as fast as possible")
    parser.add_argument("--post-events", type=int, default=2_000, help="sent by POST /v1/events")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate-limits", action="store_true", help="the default rate limits on")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--ceiling-size", type=int, default=5000, help="messages per bare-client ceiling"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a phase may take")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="notifier-region-"))
    with EmbeddedRedis(folder) as redis_server:
        if args.database == "postgres":
            from tests.servers.postgres_server import PostgresServer, create_database

            # pg_stat_statements: the bench prints where the database's time went.
            with PostgresServer({"shared_preload_libraries": "pg_stat_statements"}) as pg:
                url = create_database(pg.start(), "region")
                asyncio.run(bench(args, folder, url, redis_server.url))
        else:
            asyncio.run(
                bench(args, folder, f"sqlite+aiosqlite:///{folder / 'region.db'}", redis_server.url)
            )


if __name__ == "__main__":
    main()
