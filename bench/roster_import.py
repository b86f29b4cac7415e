"""Benchmark of the roster CSV import (`POST /v1/roster/import`, `notifier roster import`).

    .venv/bin/python -m bench.roster_import [--rows 5000] [--runs 3] [--postgres URL]

Generates a school's file of `--rows` pupil-guardian pairs (UTF-8, `;`, phones written the
Russian way, a tenth of the mothers with two children, half the guardians with a consent date)
and, per run, times through the service (a) the import into a fresh database, (b) the same
file again (every row already stored: the update path), (c) a dry run of it. Prints each run
and the median seconds and rows/s. SQLite (a fresh file per run, as `notifier up` uses)
unless --postgres is given; there each run writes a school of its own, with its own ids.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from notifier.db.engine import create_engine, session_factory
from notifier.db.migrate import upgrade
from notifier.roster import service
from notifier.roster.importer import ImportReport, import_roster
from notifier.roster.schemas import ClassIn, SchoolIn

PUPILS_PER_CLASS = 30
HEADER = (
    "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email;consent_date"
)


def roster_csv(prefix: str, rows: int) -> tuple[bytes, int]:
    """The file and its number of classes: three pupils in five have a second guardian."""
    pupils = rows * 5 // 8
    lines = [HEADER]

    def guardian(kind: str, n: int) -> str:
        code = ("916", "926", "903", "985", "977")[n % 5]
        phone = f"8 ({code}) {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"
        email = f"{prefix}{kind}{n}@parents.example.org" if n % 3 else ""
        consent = f"{n % 28 + 1:02d}.09.2026" if n % 2 else ""
        name = ("Петрова Анна " if kind == "m" else "Петров Сергей ") + str(n)
        return f"{prefix}{kind}{n};{name};{phone};{email};{consent}"

    for n in range(pupils):
        pupil = f"{prefix}s;{prefix}c{n // PUPILS_PER_CLASS};{prefix}p{n};Петров Иван {n}"
        mother = n - 1 if n % 10 == 9 else n  # siblings share their mother
        lines.append(f"{pupil};{guardian('m', mother)}")
        if n < rows - pupils:
            lines.append(f"{pupil};{guardian('f', n)}")
    assert len(lines) - 1 == rows, len(lines)
    return ("\r\n".join(lines) + "\r\n").encode(), (pupils - 1) // PUPILS_PER_CLASS + 1


async def one_run(url: str, rows: int, run: int) -> dict[str, float]:
    prefix = f"r{run}-{uuid.uuid4().hex[:6]}-"
    data, classes = roster_csv(prefix, rows)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with sessions() as s:
            school = f"{prefix}s"
            await service.put_school(session=s, school_id=school, body=SchoolIn(name="Бенч"))
            for c in range(classes):
                body = ClassIn(school_id=school, name=f"{c % 11 + 1}А")
                await service.put_class(session=s, class_id=f"{prefix}c{c}", body=body)
        timings: dict[str, float] = {}
        for label, dry_run in (("fresh", False), ("again", False), ("dry_run", True)):
            async with sessions() as s:
                t = time.perf_counter()
                report: ImportReport = await import_roster(
                    session=s, data=data, dry_run=dry_run, actor_school_id=None, by_token=None
                )
                timings[label] = time.perf_counter() - t
            assert report.imported == rows and not report.errors, report.errors[:3]
            if label == "fresh":
                assert report.students_created == rows * 5 // 8, report
    finally:
        await engine.dispose()
    return timings


async def bench(args: argparse.Namespace) -> None:
    results = []
    for run in range(args.runs):
        if args.postgres:
            url = args.postgres
        else:
            folder = Path(tempfile.mkdtemp(prefix="notifier-bench-import-"))
            url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        r = await one_run(url, args.rows, run)
        results.append(r)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in r.items()))
    database = "postgresql" if args.postgres else "sqlite (a fresh file per run)"
    print(f"median of {args.runs} runs, {args.rows} rows each, database {database}:")
    for key, what in (
        ("fresh", "into an empty roster"),
        ("again", "the same file again"),
        ("dry_run", "dry run"),
    ):
        seconds = statistics.median(r[key] for r in results)
        print(f"  {what:22s} {seconds:6.2f} s  {args.rows / seconds:>8,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL (each run adds a school)")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
