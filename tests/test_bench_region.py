"""The region benchmark runs (a small region) and its reconciliation finds nothing lost or
twice delivered, MAX's messages among them: the real processes, servers and outbox, end to
end."""

from __future__ import annotations

import json
import re

from tests.processes import run_bench


def _report_line(pattern: str, out: str) -> re.Match[str]:
    """The match of `pattern` in the report, `^` and `$` at its lines' ends; or fail, showing
    the report's end."""
    found = re.search(pattern, out, re.M)
    assert found is not None, out[-3000:]
    return found


def test_a_small_region_is_delivered_exactly_once() -> None:
    # A day of ~520 events: every phase gets its part of it (the Telegram phase's marks are
    # partly the day's, partly made up beyond it).
    args = "--schools 1 --classes 10 --pupils 200 --guardians 300 --events 150 --post-events 60"
    args += " --latency-seconds 1 --rate 50 --marks-events 100 --telegram-events 80"
    args += " --runs 1 --ceiling-size 200"
    out = run_bench("bench.region", *args.split(), timeout=300)
    for figure in (
        "events stored and planned /s (stream)",
        "events accepted /s (POST /v1/events)",
        "telegram /s",
        "max /s",
        "email /s",
        "sms /s",
        "latency XADD → channel server",
        "peak memory",
        "messages per reachable guardian",
        "raw ceilings",
    ):
        assert figure in out, figure
    # What a school's parents get at default settings, measured on the messages' text.
    assert "at default settings, school s0 of the region" in out
    assert re.search(r"^  default: median=\d+ p95=\d+ max=\d+ represented=100%$", out, re.M), out
    found = re.search(r"lost (\d+), duplicated (\d+), without an event number (\d+)", out)
    assert found is not None, out[-2000:]
    assert found.groups() == ("0", "0", "0"), found.group(0)
    # Part of the guardians have MAX: their messages reach their MAX user, each once, and the
    # report sets MAX's rate against a bare client's.
    assert re.search(r"guardians \([^)]*\bmax [1-9]", out), out[:1000]
    assert re.search(r"max_per_s=[\d,]+", out), "no MAX ceiling"
    assert re.search(r"^ {4}max /s +[\d,]+ {2}= [\d.]+ × bare MAX Bot API client", out, re.M)
    by_max = re.search(
        r"max received ([\d,]+) \(lost (\d+), duplicated (\d+), without an event number (\d+)\)",
        out,
    )
    assert by_max is not None, out[-2000:]
    assert by_max.group(1) != "0" and by_max.groups()[1:] == ("0", "0", "0"), by_max.group(0)
    # Issue 20's targets: marks alone, and Telegram when every message goes by Telegram.
    _report_line(
        r"^  events stored and planned /s \(marks alone\) +[\d,]+  = [\d.]+ × XADD "
        r"\([\d,]+/s\); 100 marks, [\d,]+ messages/s$",
        out,
    )
    telegram = _report_line(
        r"^  telegram /s \(every message by Telegram\) +[\d,]+  = [\d.]+ × bare Bot API "
        r"client \([\d,]+/s\); ([\d,]+) messages of 80 marks \((\d+) made up beyond the day\)$",
        out,
    )
    assert telegram.group(1) != "0" and telegram.group(2) != "0", telegram.group(0)
    # Its ceiling is the bare client timed just before the phase; the idle service beside it.
    beside = _report_line(
        r"^    the bare client timed just before the phase, beside the idle service \(its "
        r"workers: ([\d.]+) cores\); against the bench's first ceiling \([\d,]+/s\) the "
        r"phase is [\d.]+$",
        out,
    )
    assert float(beside.group(1)) < 0.5, beside.group(0)
    # The workers' share of a core in that phase, and their CPU a message.
    meanwhile = _report_line(
        r"^    workers meanwhile: ([\d.]+) cores, ([\d,]+) µs of CPU a message", out
    )
    assert float(meanwhile.group(1)) > 0 and meanwhile.group(2) != "0", meanwhile.group(0)
    # The phase split at its last event stored: delivery alone after it.
    split = _report_line(
        r"^    its events were all stored and planned at ([\d,]+) ms, ([\d,]+) messages sent by "
        r"then; after, delivery alone: ([\d,]+) messages/s = ([\d.]+) × the bare client",
        out,
    )
    assert split.group(1) != "0" and split.group(3) != "0", split.group(0)
    # Every message of the Telegram phase went by Telegram, and the reconciliation (lost and
    # duplicated, 0 above) counted the new phases' messages among the channel's.
    assert re.search(r"\btelegram_only_other_messages=0\.0\b", out), out[-3000:]
    by_telegram = re.search(r"telegram received ([\d,]+) \(lost", out)
    assert by_telegram is not None
    assert int(by_telegram.group(1).replace(",", "")) > int(telegram.group(1).replace(",", ""))
    sent = re.search(r"outbox rows sent ([\d,]+), by the workers' /metrics ([\d,]+)", out)
    assert sent is not None and sent.group(1) == sent.group(2) and sent.group(1) != "0"
    # SPEC §8: the last line is the summary, as JSON.
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    for key in (
        "messages_per_s",
        "worker_cpu_ms_per_message",
        "events_planned_per_s",
        "p99_ms",
        "worker_rss_mb",
        "lost",
        "duplicated",
    ):
        assert key in summary, key  # null where a run too small could not measure it
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["messages_per_s"] > 0 and summary["worker_cpu_ms_per_message"] > 0
    for key in ("marks_planned_per_s", "telegram_only_ratio_to_bare_client"):
        assert isinstance(summary[key], int | float) and summary[key] > 0, (key, summary[key])
    # Memory: the kernel's peak RSS, and the worker's proportional set size sampled while the
    # bench ran (never above the RSS peak: a process's PSS is at most its RSS at any moment).
    memory = _report_line(
        r"^  peak memory: API ([\d,]+) MB, worker ([\d,]+) MB; proportional set size, sampled: "
        r"worker ([\d,]+) MB$",
        out,
    )
    rss, pss = int(memory.group(2)), int(memory.group(3))
    assert 0 < pss <= rss, memory.group(0)
    assert summary["worker_pss_mb"] == pss, (summary["worker_pss_mb"], memory.group(0))
