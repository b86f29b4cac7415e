"""Benchmark of the reads a batch of events or of claimed rows makes, on a day's history.

    .venv/bin/python -m bench.planning_reads [--sent-rows 150000] [--runs 9]

Loads bench.region's region (20 schools, 600 classes, 15,000 pupils, 22,000 guardians) into a
fresh SQLite file, then `--sent-rows` sent outbox rows about random families (marks, a tenth of
them in a day's report), as the afternoon of a busy day leaves them. Per run it times, in CPU
milliseconds of this process (SQLite runs on aiosqlite's thread, so wall time is printed too):
- load_roster for 500 marks' pupils, and for 30 whole classes (homework);
- the day's reports sent to those 500 pupils' guardians (planning's load_reports_sent);
- what those guardians were told of 500 marks (the dispatcher's read for corrections).
Prints each figure's median over `--runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.region.database import load_region
from bench.region.generate import make_region
from notifier.db.engine import SessionFactory, create_engine, session_factory
from notifier.db.migrate import upgrade
from notifier.db.models import GuardianStudent, JournalEvent, Notification
from notifier.db.states import RowStatus
from notifier.delivery.batch import _told
from notifier.delivery.planner import load_reports_sent, load_roster

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 14:00 in Moscow, the day's report ahead
SENT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


async def _history(sessions: SessionFactory, rows: int, rng: random.Random) -> None:
    """`rows` marks sent today, one row each, about random guardian-pupil pairs."""
    async with sessions() as s:
        links = (
            await s.execute(select(GuardianStudent.guardian_id, GuardianStudent.student_id))
        ).all()
        for start in range(0, rows, 10_000):
            size = min(10_000, rows - start)
            pairs = [links[rng.randrange(len(links))] for _ in range(size)]
            events = [
                {
                    "pk": start + i + 1,
                    "tenant": "",
                    "source": "bench",
                    "event_id": f"e{start + i}",
                    "type": "journal.mark.created",
                    "time": SENT,
                    "data": {"student_id": pupil, "mark_id": f"m{start + i}", "value": "5"},
                    "received_at": SENT,
                    "status": "planned",
                    "student_id": pupil,
                }
                for i, (_, pupil) in enumerate(pairs)
            ]
            await s.execute(insert(JournalEvent), events)
            await s.execute(
                insert(Notification),
                [
                    {
                        "event_pk": start + i + 1,
                        "guardian_id": guardian,
                        "student_id": pupil,
                        "category": "marks",
                        "kind": "mark_created",
                        "status": RowStatus.sent,
                        "channel": "telegram",
                        "due_at": SENT,
                        "attempts": 1,
                        "created_at": SENT,
                        "sent_at": SENT,
                        "group_key": f"r:{guardian}" if i % 10 == 0 else f"i:{guardian}:marks",
                        "mode": "instant",
                    }
                    for i, (guardian, pupil) in enumerate(pairs)
                ],
            )
        await s.commit()


async def _time(
    sessions: SessionFactory, runs: int, read: Callable[[Any], Awaitable[Any]]
) -> tuple[float, float]:
    """Median CPU and wall milliseconds of `read(session)`, each run in a new session."""
    cpu, wall = [], []
    for _ in range(runs):
        async with sessions() as s:
            c, w = time.process_time(), time.perf_counter()
            await read(s)
            cpu.append((time.process_time() - c) * 1000)
            wall.append((time.perf_counter() - w) * 1000)
    return statistics.median(cpu), statistics.median(wall)


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    region = make_region(
        argparse.Namespace(schools=20, classes=600, pupils=args.pupils, guardians=args.guardians),
        rng,
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'region.db'}"
        await asyncio.to_thread(upgrade, url)
        await load_region(url, region)
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            await _history(sessions, args.sent_rows, rng)
            print(
                f"region: {len(region.pupils)} pupils, {len(region.guardians)} guardians; "
                f"{args.sent_rows} sent rows in the outbox"
            )
            pupils = [p for p, _, _ in rng.sample(region.pupils, min(500, len(region.pupils)))]
            classes = [c for c, _ in rng.sample(region.classes, 30)]
            async with sessions() as s:
                roster = await load_roster(session=s, student_ids=pupils)
            guardians = sorted(roster.guardians)
            marks = [f"m{i}" for i in rng.sample(range(max(args.sent_rows, 500)), 500)]

            async def reports_sent(s: Any) -> None:
                roster.reports_sent.clear()
                await load_reports_sent(s, roster, guardians, NOW)

            figures = {
                "load_roster, 500 marks' pupils": lambda s: load_roster(
                    session=s, student_ids=pupils
                ),
                "load_roster, 30 classes": lambda s: load_roster(session=s, class_ids=classes),
                f"reports sent today, {len(guardians)} guardians": reports_sent,
                f"told of 500 marks, {len(guardians)} guardians": lambda s: _told(
                    s, guardians, marks
                ),
            }
            for name, read in figures.items():
                cpu, wall = await _time(sessions, args.runs, read)
                print(
                    f"  {name:<45} {cpu:7.1f} ms CPU  {wall:7.1f} ms wall (medians of {args.runs})"
                )
        finally:
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sent-rows", type=int, default=150_000)
    parser.add_argument("--pupils", type=int, default=15_000)
    parser.add_argument("--guardians", type=int, default=22_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
