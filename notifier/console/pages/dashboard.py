"""The admin's dashboard ("Running"): today's events in and messages out, failures and skips by
reason, the queue, this month's SMS against the budget (the school's, or each school's for the
region), and two small charts drawn here as SVG (no script, no inline style: the CSP allows
neither), each with its numbers in a table for screen readers and keyboards.

A region-wide admin who has chosen no school sees the whole region, as does one who asks for
it (?region=true); a school's admin always sees their own school. The figures refresh themselves
every 30 s with htmx (the fragment is today's figures and the queue; the charts stay)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from notifier import scope, stats
from notifier.auth import Role
from notifier.console.deps import RuntimeDep, SessionDep, UserDep
from notifier.console.i18n import Translate, translator
from notifier.console.sms_spend import month_name, spend_view
from notifier.console.web import render
from notifier.db.models import School
from notifier.db.states import Reason
from notifier.delivery.budget import month_of
from notifier.errors import NotFound
from notifier.rendering import ru_date

router = APIRouter()

# The reasons a message is not sent by the rules, as the page lists them; the rest is "other".
SKIP_REASONS = (Reason.no_consent, Reason.opted_out, Reason.no_channel, Reason.paper)

# The charts' drawing, in SVG user units (the image scales to the page's width).
WIDTH, HEIGHT = 600, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 22
HOUR_LABEL_EVERY, DAY_LABEL_EVERY = 4, 5


@dataclass(frozen=True)
class Segment:
    """One channel's part of a bar."""

    channel: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Bar:
    name: str  # the hour or the day, as the table and the tooltip say it
    label: str  # under the axis ("" for most bars)
    label_x: float
    anchor: str  # the label's text-anchor: the last one ends at the edge, not past it
    total: int
    counts: tuple[int, ...]
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class GridLine:
    y: float
    value: int


@dataclass(frozen=True)
class ChartView:
    id: str
    title: str
    desc: str
    column: str  # the table's first column: hour or day
    channels: tuple[str, ...]
    bars: tuple[Bar, ...]
    grid: tuple[GridLine, ...]
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    region: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    user.principal.require(Role.admin)
    # The principal's own reach when asked for the region (a school's admin: still their
    # school); else the school in view, or the region for a region-wide admin who chose none.
    school_id = user.principal.school_id if region else user.school_id
    school = None
    if school_id is not None:
        scope.school(user.principal, school_id)
        school = await session.get(School, school_id)
        if school is None:
            raise NotFound(f"no school {school_id!r}: choose one of the list of schools")
    figures_only = bool(request.headers.get("hx-request"))
    board = await stats.dashboard(
        session=session,
        redis=runtime.redis,
        school_id=school_id,
        now=runtime.clock(),
        charts=not figures_only,
    )
    t = translator(user.locale)
    context: dict[str, object] = {
        "board": board,
        "school": school,
        "region_wide": user.principal.school_id is None,
        "refresh": f"/dashboard{'?region=true' if region and school_id is None else ''}",
        "skip_reasons": SKIP_REASONS,
        "skipped_other": sum(
            n for reason, n in board.today.skipped.items() if reason not in SKIP_REASONS
        ),
        "waited": _duration(board.outbox.waited(board.now), t),
        "charts": _chart_views(board, t, user.locale),
    }
    if figures_only:
        return render(request, "dashboard_figures.html.j2", context)
    # The month's SMS change slowly: the whole page shows them, the 30 s refresh does not.
    spend = await stats.sms_this_month(session, now=runtime.clock(), school_id=school_id)
    context |= {
        "sms": [spend_view(s, user.locale) for s in spend],
        "sms_month": month_name(month_of(board.now, board.zone.key), user.locale),
        # The budget is set on the setup page of the school in view.
        "sms_setup": school_id is not None and school_id == user.school_id,
    }
    title = (
        t("dashboard.title.school", school=school.name) if school else t("dashboard.title.region")
    )
    return render(request, "dashboard.html.j2", context, title=title)


def _duration(value: timedelta | None, t: Translate) -> str:
    if value is None:
        return t("dashboard.none")
    seconds = int(value.total_seconds())
    if seconds < 60:
        return t("dashboard.seconds", n=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return t("dashboard.minutes", n=minutes)
    if minutes < 24 * 60:
        return t("dashboard.hours", h=minutes // 60, m=minutes % 60)
    return t("dashboard.days", d=minutes // (24 * 60), h=minutes // 60 % 24)


def _chart_views(board: stats.Dashboard, t: Translate, locale: str) -> tuple[ChartView, ...]:
    if board.charts is None:
        return ()
    charts = board.charts
    hours = [
        (f"{ru_date(b.start, locale)}, {b.start:%H:00}", f"{b.start:%H:00}", b)
        for b in charts.hours
    ]
    days = [(ru_date(b.start, locale), f"{b.start:%d.%m}", b) for b in charts.days]
    return (
        _chart("hours", t("dashboard.chart.hours"), t("dashboard.chart.hour"), hours, charts, t),
        _chart("days", t("dashboard.chart.days"), t("dashboard.chart.day"), days, charts, t),
    )


def _chart(
    ident: str,
    title: str,
    column: str,
    buckets: list[tuple[str, str, stats.Bucket]],
    charts: stats.Charts,
    t: Translate,
) -> ChartView:
    """Stacked bars, one per hour or day, a segment per channel; the scale's top is a round
    number at or above the busiest bar."""
    top = _round_up(max((b.total for _, _, b in buckets), default=0))
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / len(buckets)
    every = HOUR_LABEL_EVERY if ident == "hours" else DAY_LABEL_EVERY
    bars = []
    for i, (name, label, bucket) in enumerate(buckets):
        x = LEFT + i * slot + slot * 0.15
        y = float(HEIGHT - BOTTOM)
        segments = []
        for channel, count in zip(charts.channels, bucket.counts, strict=True):
            if count:
                height = plot_height * count / top
                y -= height
                segments.append(Segment(channel, *_r(x, y, slot * 0.7, height)))
        # The last bar (now) is labelled, and every few before it.
        shown = (len(buckets) - 1 - i) % every == 0
        last = i == len(buckets) - 1
        bars.append(
            Bar(
                name,
                label if shown else "",
                float(WIDTH - RIGHT) if last else round(LEFT + (i + 0.5) * slot, 1),
                "end" if last else "middle",
                bucket.total,
                bucket.counts,
                tuple(segments),
            )
        )
    busiest = max(bars, key=lambda b: b.total)
    total = sum(b.total for b in bars)
    desc = (
        t("dashboard.chart.desc", total=total, peak=busiest.total, peak_at=busiest.name)
        if total
        else t("dashboard.chart.empty")
    )
    grid = tuple(
        GridLine(round(HEIGHT - BOTTOM - plot_height * v / top, 1), v)
        for v in sorted({0, top // 2 if top % 2 == 0 else 0, top})
    )
    return ChartView(ident, title, desc, column, charts.channels, tuple(bars), grid, total)


def _round_up(peak: int) -> int:
    """1, 2, 5, 10, 20, 50, ... the first at or above `peak` (1 for an empty chart)."""
    if peak <= 1:
        return 1
    magnitude = int(10 ** int(math.log10(peak)))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= peak)


def _r(*values: float) -> tuple[float, ...]:
    return tuple(round(v, 1) for v in values)
