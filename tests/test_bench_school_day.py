"""bench.school_day: a typical week through the real pipeline (embedded Redis, SQLite, the file
outbox) on a simulated clock, ending with SPEC §8's summary line; its "represented" figure is
read from the messages' files, so a message missing or saying something else shows."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter
from datetime import time
from pathlib import Path

from bench.school_day.measure import Figures, Verdict, measure, read_message
from bench.school_day.simulate import DEFAULT, simulate
from bench.school_day.week import ZONE, make_school, school_days, week
from tests.processes import ROOT

TINY = "--days 1 --pupils 6 --seed 2 --coalesce 0"
SUMMARY = re.compile(
    r"^default: median=\d+(\.\d)? p95=\d+(\.\d)? max=\d+ represented=(100|\d{1,2}\.\d)%$"
)


def test_a_tiny_run_ends_with_the_summary_line_all_represented() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.school_day", *TINY.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    lines = out.strip().splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert lines[-1].endswith(" represented=100%"), out
    # The comparison runs first; the figures before the summary line are the default's.
    assert out.index("coalesce 0 s (coalescing window 0 s):") < out.index(
        "default (coalescing window 60 s):"
    )
    default = out[out.index("default (coalescing window 60 s):") :]
    assert re.search(r"^  Mon 23\.11: \d+ messages; per guardian median", default, re.M)
    assert re.search(
        r"delay from event to message sent, p50 / p95: .*marks \d+(\.\d)? (s|min|h) /", default
    )
    assert "not counted: Saturday's weekly summary" in default


async def test_represented_is_read_from_the_messages_files(tmp_path: Path) -> None:
    school = make_school(random.Random(5), pupils=4, classes=2)
    entries = week(random.Random(5), school, 1)
    run = await simulate(school, entries, DEFAULT, tmp_path)
    guardians = [g.id for g in school.guardians]

    async def figures() -> Figures:
        return await measure(
            run.database_url, run.outbox_dir, guardians=guardians, days=school_days(1)
        )

    before = await figures()
    assert before.represented == 1.0, before.misses
    assert before.verdicts[Verdict.in_message] > 0
    # Every message file is counted: on the school day, or after it (its evening's marks
    # entered late go in the next day's report).
    assert sum(before.week) + before.off_days == len(list(run.outbox_dir.rglob("notifier-*")))

    # One message goes missing; another holds a different message's text (a mark's message
    # where a homework's was): both are counted as not represented, by the rows they carried.
    emails = sorted((run.outbox_dir / "email").iterdir())
    texts = {path: (read_message(path) or "").lower() for path in emails}
    homework = next(p for p, t in texts.items() if "домашн" in t)
    mark = next(p for p, t in texts.items() if "оценк" in t and "домашн" not in t)
    gone = next(p for p in emails if p not in (homework, mark))
    gone.unlink()
    homework.write_bytes(mark.read_bytes())

    after = await figures()
    assert after.represented < 1.0
    assert after.verdicts[Verdict.not_in_text] >= 2
    missed = "\n".join(after.misses)
    assert f"[{gone.name}]" in missed and f"[{homework.name}]" in missed, missed
    assert f"[{mark.name}]" not in missed


def test_the_week_is_a_typical_one() -> None:
    school = make_school(random.Random(1), pupils=30, classes=2)
    entries = week(random.Random(1), school, 5)
    days = {e.at.astimezone(ZONE).date() for e in entries}
    assert sorted(days) == school_days(5) and all(d.weekday() < 5 for d in days)
    assert all(time(7, 30) <= e.at.astimezone(ZONE).time() <= time(20, 50) for e in entries)
    types = Counter(e.type for e in entries)
    for kind in (
        "journal.mark.created",
        "journal.mark.updated",
        "journal.mark.deleted",
        "journal.attendance.recorded",
        "journal.homework.assigned",
        "journal.schedule.changed",
        "journal.comment.created",
        "journal.period_mark.created",
    ):
        assert types[kind] > 0, kind
    marks = [e.data for e in entries if e.type == "journal.mark.created"]
    assert any(m["value"] == "2" for m in marks)
    assert any(m["work_type"] == "Контрольная работа" for m in marks)
    statuses = {e.data["status"] for e in entries if e.type == "journal.attendance.recorded"}
    assert statuses == {"absent", "late"}
    # About one guardian in twelve with two children, some reachable by SMS only.
    siblings = sum(len(g.pupils) == 2 for g in school.guardians)
    assert 0.03 < siblings / len(school.guardians) < 0.2
    assert any(g.email is None and g.phone for g in school.guardians)
    classes = [{school.class_of(p).id for p in g.pupils} for g in school.guardians]
    assert any(len(c) == 2 for c in classes)
