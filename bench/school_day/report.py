"""The printed figures of a run, and SPEC §8's summary line."""

from __future__ import annotations

import math
from collections import Counter

from bench.school_day.measure import Figures, Verdict, median, percentile
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
    represented = sum(n for v, n in f.verdicts.items() if v.represented)
    out.append(
        f"  represented: {represented} of {f.pairs} (event, guardian) pairs, "
        f"{percent(f.represented)}%; {f.events_represented} of {f.events_planned} events "
        f"reached every guardian planned"
    )
    for verdict in Verdict:
        if f.verdicts[verdict]:
            out.append(f"    {f.verdicts[verdict]:>6}  {verdict}")
    out.extend(f"    miss: {m}" for m in f.misses)
    return out


def summary(f: Figures) -> str:
    """SPEC §8: `default: median=<n> p95=<n> max=<n> represented=<percent>%`."""
    week = [float(n) for n in f.week]
    return (
        f"default: median={number(median(week))} p95={number(percentile(week, 95))} "
        f"max={number(max(week, default=0))} represented={percent(f.represented)}%"
    )
