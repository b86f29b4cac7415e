"""`python -m bench.pdf`: the command line (see the package's docstring)."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
from datetime import date
from functools import partial

from bench.pdf import __doc__ as ABOUT
from bench.pdf.measure import timed
from bench.pdf.workload import SUNDAY, guardians_page, week_of_class
from notifier.reports.pdf import TITLE, document, summary_pdf
from tests.pdf_reader import pdf_pages

TARGET_MS = 150.0  # issue 20: a class of 30 pages
GENERATED = SUNDAY + date.resolution


def main() -> None:
    assert ABOUT is not None
    parser = argparse.ArgumentParser(
        prog="python -m bench.pdf",
        description=ABOUT.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=15, help="measured, after one warm-up")
    parser.add_argument("--pupils", type=int, default=30, help="pages of the class's summary")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="one more class under cProfile")
    args = parser.parse_args()
    if args.runs < 1 or args.pupils < 1:
        parser.error("--runs and --pupils: at least 1")
    # Built before any clock starts, and before any PDF: the first document() is the cold one.
    pupils = week_of_class(args.pupils, args.seed)
    guardian = [guardians_page(args.seed)]

    fonts = timed(lambda: document(TITLE, GENERATED), 1)
    later = timed(lambda: document(TITLE, GENERATED), args.runs)
    print(
        f"fonts: first document() {fonts.wall:.1f} ms wall, {fonts.cpu:.1f} ms CPU "
        f"(Roboto Regular and Bold parsed); later ones {later.line()}",
        flush=True,
    )
    timings = []
    for label, pages in (("one page", guardian), (f"class of {args.pupils}", pupils)):
        made = summary_pdf(pages, generated=GENERATED)  # the warm-up, and the check
        if pdf_pages(made) != len(pages):
            raise SystemExit(f"{label}: {pdf_pages(made)} pages, not {len(pages)}")
        timing = timed(partial(summary_pdf, pages, generated=GENERATED), args.runs)
        print(f"{label}: {timing.line()}; {len(made) / 1024:.0f} KiB", flush=True)
        timings.append(timing)
    one, many = timings
    print(
        f"pdf: class of {args.pupils} pages median={many.wall:.1f} ms cpu={many.cpu:.1f} ms "
        f"(target {TARGET_MS:.0f} ms, ratio={many.wall / TARGET_MS:.2f}, "
        f"cpu ratio={many.cpu / TARGET_MS:.2f}) one page={one.wall:.1f} ms "
        f"fonts parsed in {fonts.wall:.1f} ms"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(summary_pdf, pupils, generated=GENERATED)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(f"class of {args.pupils} under cProfile: top 25 by own time")
        print(out.getvalue())


if __name__ == "__main__":
    main()
