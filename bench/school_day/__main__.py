"""`python -m bench.school_day`: a typical week at default settings, the SPEC §8 line last."""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.school_day import report
from bench.school_day.measure import Figures, measure
from bench.school_day.simulate import DEFAULT, DEFAULT_COALESCE, Run, Variant, simulate
from bench.school_day.week import Entry, School, make_school, school_days, week

WEEKLY_SUMMARY = (
    "  not counted: Saturday's weekly summary (not a school-day message; the worker's "
    "weekly_summaries job plans it, and this run does not start it)"
)


async def run_variant(
    school: School, entries: list[Entry], days: int, variant: Variant, workdir: Path
) -> tuple[Run, Figures]:
    """One variant's week in `workdir`, measured."""
    run = await simulate(school, entries, variant, workdir)
    figures = await measure(
        run.database_url,
        run.outbox_dir,
        guardians=[g.id for g in school.guardians],
        days=school_days(days),
    )
    return run, figures


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.school_day", description=__doc__)
    parser.add_argument("--days", type=int, default=5, help="school days from Monday (5)")
    parser.add_argument("--pupils", type=int, default=30, help="pupils a class (30)")
    parser.add_argument("--classes", type=int, default=2, help="classes (2: a 7th and a 3rd)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--coalesce",
        type=float,
        action="append",
        default=[],
        metavar="SECONDS",
        help="also run with this coalescing window, for comparison (repeatable)",
    )
    parser.add_argument(
        "--homework-digest",
        action="store_true",
        help="also run with homework as the evening digest, for comparison",
    )
    parser.add_argument("--keep", action="store_true", help="keep each run's database and outbox")
    args = parser.parse_args(argv)
    if args.days < 1 or args.pupils < 1 or args.classes < 1:
        parser.error("--days, --pupils and --classes must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    school = make_school(random.Random(args.seed), pupils=args.pupils, classes=args.classes)
    entries = week(random.Random(args.seed), school, args.days)
    print(report.describe_school(school, args.days, args.seed, len(entries)), flush=True)
    variants = [Variant(f"coalesce {report.number(c)} s", coalesce=c) for c in args.coalesce]
    if args.homework_digest:
        variants.append(Variant("homework as the evening digest", homework_digest=True))
    variants.append(DEFAULT)  # last: the summary line is the default's
    figures: Figures | None = None
    for variant in variants:
        workdir = Path(tempfile.mkdtemp(prefix="notifier-week-"))
        started = time.monotonic()
        try:
            run, figures = asyncio.run(run_variant(school, entries, args.days, variant, workdir))
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        for line in report.lines(variant.label, run.coalesce, figures):
            print(line)
        if variant is DEFAULT and run.coalesce != DEFAULT_COALESCE:
            print(f"  NOTE: NOTIFIER_COALESCE_SECONDS is set; the default is {DEFAULT_COALESCE} s")
        print(WEEKLY_SUMMARY)
        kept = f"; kept in {workdir}" if args.keep else ""
        print(f"  ran in {time.monotonic() - started:.1f} s{kept}", flush=True)
    assert figures is not None
    print(report.summary(figures))


if __name__ == "__main__":
    main()
