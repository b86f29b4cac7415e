"""`python -m bench.school_day`: a typical week at default settings, the SPEC §8 line last.

Comparisons run first, on the same week, each printed with the same figures:
  --coalesce SECONDS  another coalescing window (repeatable)
  --homework-digest   homework in the evening's message
  --card              the day's card (issue 19): every guardian with an email reads Telegram
                      instead (the SMS-only ones keep SMS), through a local Bot API server in
                      this process, once with the school's edit_day_card off and once on; for
                      the Telegram readers it prints new messages (each makes a sound) and the
                      card's edits (silent) per guardian per school day, the pairs represented
                      in the messages as the chats show them at the end, and the delay of a
                      mark entered after the day's report went (before the evening)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.school_day import report
from bench.school_day.measure import Figures, TelegramChats, measure
from bench.school_day.simulate import DEFAULT, DEFAULT_COALESCE, Run, Variant, simulate
from bench.school_day.week import Entry, School, make_school, school_days, week
from tests.servers.telegram import BotApiServer

WEEKLY_SUMMARY = (
    "  not counted: Saturday's weekly summary (not a school-day message; the worker's "
    "weekly_summaries job plans it, and this run does not start it)"
)
CARD = (
    Variant("telegram, card off", telegram=True),
    Variant("telegram, card on", telegram=True, edit_day_card=True),
)
BOT_TOKEN = "424242:SCHOOL-DAY-token"


async def run_variant(
    school: School, entries: list[Entry], days: int, variant: Variant, workdir: Path
) -> tuple[Run, Figures]:
    """One variant's week in `workdir`, measured (a Telegram variant's with a local Bot API
    server that lives until its messages were read)."""
    with _bot_api(variant) as bot_api:
        run = await simulate(school, entries, variant, workdir, bot_api=bot_api)
        figures = await measure(
            run.database_url,
            run.outbox_dir,
            guardians=[g.id for g in school.guardians],
            days=school_days(days),
            chats=TelegramChats(bot_api, run.chats) if bot_api is not None else None,
        )
    return run, figures


@contextlib.contextmanager
def _bot_api(variant: Variant) -> Iterator[BotApiServer | None]:
    if not variant.telegram:
        yield None
        return
    with BotApiServer(BOT_TOKEN, "school_day_bot") as server:
        yield server


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.school_day",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    parser.add_argument(
        "--card",
        action="store_true",
        help="also run with the guardians who have an email reading Telegram, the day's card "
        "off and on",
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
    if args.card:
        variants.extend(CARD)
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
        if variant.telegram:
            for line in report.card_lines(figures, run.chats):
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
