"""The printed figures of a run, and SPEC §8's summary line."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection

from bench.school_day.measure import EVENING, Figures, Verdict, median, percentile
from bench.school_day.week import School

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CATEGORY_ORDER = ("attendance", "schedule", "marks", "period_marks", "homework", "comments")


def number(value: float) -> str:
    """An integer as such, anything else with one decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def percent(share: float) -> str:
    """100 without decimals; below it one decimal, rounded down (99.96 % is not 100)."""
    if share >= 1:
        return "100"
    return f"{math.floor(share * 1000) / 10:.1f}"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def spread(values: list[int]) -> str:
    floats = [float(v) for v in values]
    return (
        f"median {number(median(floats))} p95 {number(percentile(floats, 95))} "
        f"max {number(max(floats, default=0))}"
    )


def describe_school(school: School, days: int, seed: int, events: int) -> str:
    siblings = sum(len(g.pupils) > 1 for g in school.guardians)
    sms_only = sum(g.email is None for g in school.guardians)
    classes = ", ".join(k.name for k in school.classes)
    pupils = sum(len(k.pupils) for k in school.classes)
    return (
        f"school_day: {days} school day(s) from Mon 23.11.2026, {len(school.classes)} classes "
        f"({classes}), {pupils} pupils, {len(school.guardians)} guardians ({siblings} with two "
        f"children, {sms_only} by SMS only, the rest by email), {events} journal events, "
        f"seed {seed}"
    )


def lines(label: str, coalesce: float, f: Figures) -> list[str]:
    out = [f"{label} (coalescing window {number(coalesce)} s):"]
    events = ", ".join(f"{c} {n}" for c, n in sorted(f.events.items(), key=lambda i: -i[1]))
    out.append(f"  journal events planned: {sum(f.events.values())} ({events})")
    for day, counts in f.per_day.items():
        out.append(
            f"  {WEEKDAYS[day.weekday()]} {day:%d.%m}: {sum(counts)} messages; per guardian "
            f"{spread(counts)}"
        )
    week = f.week
    out.append(
        f"  per guardian per school day, {len(week)} guardian-days: {spread(week)}; "
        f"messages sent on other days: {f.off_days}"
    )
    histogram = Counter(week)
    out.append(
        "  guardian-days by messages got: "
        + " ".join(f"{n}:{histogram[n]}" for n in range(max(week, default=0) + 1))
    )
    out.append(
        "  by channel: "
        + ", ".join(f"{c} {n}" for c, n in sorted(f.channels.items()))
        + f" ({f.sms_cut} SMS cut to fit their segment limit)"
    )
    if f.sms_per_day:
        out.append(
            f"  SMS per guardian reached by SMS per school day, {len(f.sms_per_day)} "
            f"guardian-days: {spread(f.sms_per_day)}"
        )
    delays = []
    for category in sorted(f.delays, key=lambda c: (*CATEGORY_ORDER, c).index(c)):
        d = f.delays[category]
        delays.append(
            f"{category} {duration(percentile(d, 50))} / {duration(percentile(d, 95))} (n={len(d)})"
        )
    out.append("  delay from event to message sent, p50 / p95: " + "; ".join(delays))
    out.append(
        f"  represented: {_represented(f.verdicts)}; {f.events_represented} of "
        f"{f.events_planned} events reached every guardian planned"
    )
    for verdict in Verdict:
        if f.verdicts[verdict]:
            out.append(f"    {f.verdicts[verdict]:>6}  {verdict}")
    out.extend(f"    miss: {m}" for m in f.misses)
    return out


def card_lines(f: Figures, readers: Collection[str]) -> list[str]:
    """What the guardians who read Telegram got (the day's card's variants): new messages,
    each of which made a sound, and the card's edits, which made none."""
    index = [i for i, g in enumerate(f.guardians) if g in readers]
    sounds = [counts[i] for counts in f.per_day.values() for i in index]
    edits = [counts[i] for counts in f.edits_per_day.values() for i in index]
    server = ""
    if f.edits_accepted is not None:
        server = f"; the Bot API server accepted {f.edits_accepted} editMessageText"
        if f.edits_unchanged:
            server += f" ({f.edits_unchanged} more changed nothing)"
    late = [d for g in readers for d in f.after_report.get(g, [])]
    verdicts: Counter[Verdict] = Counter()
    for g in readers:
        verdicts.update(f.verdicts_of.get(g, Counter()))
    return [
        f"  Telegram readers: {len(index)} guardians, every one with an email (the "
        f"{len(f.guardians) - len(index)} SMS-only keep SMS), {len(sounds)} guardian-days:",
        f"    new messages, each with a sound: {sum(sounds)} in all; per guardian per school day "
        f"{spread(sounds)}",
        f"    edits of the day's card, silent: {sum(edits)} in all; per guardian per school day "
        f"{spread(edits)}{server}",
        f"    represented: {_represented(verdicts)}, each read from its chat as it shows now",
        f"    a mark entered after the guardian's day's report went, before the evening "
        f"({EVENING:%H:%M}), to the message that told it, p50 / p95: "
        f"{duration(percentile(late, 50))} / {duration(percentile(late, 95))} (n={len(late)})",
    ]


def _represented(verdicts: Counter[Verdict]) -> str:
    pairs = sum(verdicts.values())
    good = sum(n for v, n in verdicts.items() if v.represented)
    return f"{good} of {pairs} (event, guardian) pairs, {percent(good / pairs if pairs else 1.0)}%"


def summary(f: Figures) -> str:
    """SPEC §8: `default: median=<n> p95=<n> max=<n> represented=<percent>%`."""
    week = [float(n) for n in f.week]
    return (
        f"default: median={number(median(week))} p95={number(percentile(week, 95))} "
        f"max={number(max(week, default=0))} represented={percent(f.represented)}%"
    )
