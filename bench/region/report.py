"""The figures of all runs, as medians and ratios to the raw ceilings."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Sequence

# (the outbox's channel, its channel server's name in the figures, the bare client beside it)
CHANNELS = (
    ("telegram", "telegram", "bare Bot API client"),
    ("max", "max", "bare MAX Bot API client"),
    ("email", "smtp", "bare SMTP client"),
    ("sms", "sms", "bare gateway client"),
)


MARKS_LABEL = "events stored and planned /s (marks alone)"
TELEGRAM_LABEL = "telegram /s (every message by Telegram)"
WIDTH = max(40, len(MARKS_LABEL), len(TELEGRAM_LABEL))  # the labels' column


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _figure_line(
    label: str, value: float, ceiling: float | None, what: str, ratio: float | None = None
) -> str:
    """One figure of the report, and its ratio to the ceiling measured in the same run (the
    median of the runs' own ratios, where each run has a ceiling of its own)."""
    if ratio is None and ceiling:
        ratio = value / ceiling
    shown = f"  = {ratio:.3f} × {what} ({ceiling:,.0f}/s)" if ceiling else ""
    return f"  {label:{WIDTH}s} {value:>9,.0f}{shown}"


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
        f"{args.workers} worker process(es), consumer in a {args.consumer}, "
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
        *(
            (f"  {channel} /s", med(f"{sink}_per_s"), ceilings[f"{sink}_per_s"], what)
            for channel, sink, what in CHANNELS
        ),
    ]
    for label, value, ceiling, what in rows:
        print(_figure_line(label, value, ceiling, what))
    marks_n = med("marks_events")
    if math.isnan(marks_n):
        why = (
            "--marks-events 0"
            if args.marks_events <= 0
            else "the earlier phases left no marks of the day"
        )
        print(f"  {MARKS_LABEL:{WIDTH}s}   not run ({why})")
    else:
        print(
            _figure_line(MARKS_LABEL, med("marks_events_per_s"), ceilings["xadd_per_s"], "XADD")
            + f"; {marks_n:,.0f} marks, {med('marks_messages_per_s'):,.0f} messages/s"
            + (
                f"; only {marks_n:,.0f} of the {args.marks_events:,} asked: the earlier "
                "phases left no more marks of the day"
                if marks_n < args.marks_events
                else ""
            )
        )
    if math.isnan(med("telegram_only_events")):
        why = (
            "--telegram-events 0"
            if args.telegram_events <= 0
            else "no pupil's guardians with consent all read Telegram"
        )
        print(f"  {TELEGRAM_LABEL:{WIDTH}s}   not run ({why})")
    else:
        others = med("telegram_only_other_messages")
        print(
            _figure_line(
                TELEGRAM_LABEL,
                med("telegram_only_per_s"),
                med("telegram_only_bare_per_s"),
                "bare Bot API client",
                med("telegram_only_ratio"),
            )
            + f"; {med('telegram_only_messages'):,.0f} messages of "
            f"{med('telegram_only_events'):,.0f} marks "
            f"({med('telegram_only_made_up'):,.0f} made up beyond the day)"
            # The pupils were chosen so that there are none; if there are, the rate is not
            # Telegram's alone.
             + (f"; {others:,.0f} messages by other channels" if others else "")
        )
        print(
            "    the bare client timed just before the phase, beside the idle service (its "
            f"workers: {med('telegram_only_bare_cores_workers'):.2f} cores); against the "
            f"bench's first ceiling ({ceilings['telegram_per_s']:,.0f}/s) the phase is "
            f"{med('telegram_only_per_s') / ceilings['telegram_per_s']:.3f}"
        )
        print(
            f"    workers meanwhile: {med('telegram_only_cores_workers'):.2f} cores, "
            f"{med('telegram_only_worker_cpu_us_per_message'):,.0f} µs of CPU a message "
            "(planning included)"
        )
        print(
            f"    its events were all stored and planned at {med('telegram_only_stored_ms'):,.0f}"
            f" ms, {med('telegram_only_sent_while_storing'):,.0f} messages sent by then; after, "
            f"delivery alone: {med('telegram_only_after_stored_per_s'):,.0f} messages/s = "
            f"{med('telegram_only_after_stored_ratio'):.3f} × the bare client"
        )
    print(
        f"  messages delivered in the first phase: {med('messages'):,.0f} ("
        + ", ".join(f"{channel} {med(f'{sink}_messages'):,.0f}" for channel, sink, _ in CHANNELS)
        + ")"
    )
    print(
        f"  latency XADD → channel server at {args.rate:.0f} events/s: "
        f"p50 {med('latency_p50_ms'):,.0f} ms, "
        f"p95 {med('latency_p95_ms'):,.0f} ms, p99 {med('latency_p99_ms'):,.0f} ms "
        f"({med('latency_messages'):,.0f} messages, "
        f"{med('latency_offered_messages_per_s'):,.0f}/s offered; events about one pupil)"
    )
    if "latency_to_stored_p50_ms" in results[0]:
        print(
            "    per event, to its last message: "
            + ", ".join(
                f"{label} p50 {med(f'latency_to_{stage}_p50_ms'):,.0f} / "
                f"p99 {med(f'latency_to_{stage}_p99_ms'):,.0f} ms"
                for stage, label in (
                    ("stored", "XADD → stored"),
                    ("claimed", "stored → claimed"),
                    ("server", "claimed → channel server"),
                )
            )
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
        + (" (with its consumer process)" if args.consumer == "process" else "")
        + f"; proportional set size, sampled: worker {memory['worker_pss_mb']:.0f} MB"
        + (" (with all its child processes)" if args.consumer == "process" else "")
    )
    print(
        f"  reconciliation over all runs: lost {sum(r['lost'] for r in results):.0f}, "
        f"duplicated {sum(r['duplicated'] for r in results):.0f}, "
        f"without an event number {sum(r['unattributed'] for r in results):.0f}; outbox rows sent "
        f"{sum(r['rows_sent'] for r in results):,.0f}, by the workers' /metrics "
        f"{memory['metrics_sent']:,.0f}"
    )
    print(
        "    by channel: "
        + ", ".join(
            f"{channel} received {_total(results, f'received_{channel}'):,.0f} "
            f"(lost {_total(results, f'lost_{channel}'):.0f}, "
            f"duplicated {_total(results, f'duplicated_{channel}'):.0f}, "
            f"without an event number {_total(results, f'unattributed_{channel}'):.0f})"
            for channel, _, _ in CHANNELS
        )
    )


def summary(
    results: list[dict[str, float]], ceilings: dict[str, float], memory: dict[str, float]
) -> str:
    """SPEC §8's last line: the medians of the runs, the ratios to the same run's ceilings."""

    def med(key: str) -> float:
        values = [r[key] for r in results if key in r]
        return statistics.median(values) if values else float("nan")

    def num(value: float, digits: int = 0) -> float | None:
        """JSON has no NaN: a figure a run could not measure is null."""
        return None if math.isnan(value) else round(value, digits or None)

    cores = med("cores_workers")
    figures = {
        "runs": len(results),
        "messages_per_s": num(med("messages_per_s")),
        "worker_cpu_ms_per_message": num(
            cores * med("throughput_wall_s") / med("messages") * 1e3, 3
        ),
        "events_planned_per_s": num(med("ingest_events_per_s")),
        "p99_ms": num(med("latency_p99_ms")),
        "worker_rss_mb": num(memory["worker_peak_mb"]),
        "worker_pss_mb": num(memory["worker_pss_mb"]),
        "api_rss_mb": num(memory["api_peak_mb"]),
        "lost": num(_total(results, "lost")),
        "duplicated": num(_total(results, "duplicated")),
        **{
            f"{channel}_ratio_to_bare_client": num(
                med(f"{sink}_per_s") / ceilings[f"{sink}_per_s"], 3
            )
            for channel, sink, _ in CHANNELS
        },
        "marks_planned_per_s": num(med("marks_events_per_s")),
        # Each run's phase against the bare client timed just before it.
        "telegram_only_ratio_to_bare_client": num(med("telegram_only_ratio"), 3),
    }
    return json.dumps({"summary": figures})


def _total(results: list[dict[str, float]], key: str) -> float:
    """A count summed over the runs (a run without it counted none)."""
    return sum(r.get(key, 0.0) for r in results)
