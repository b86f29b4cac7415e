"""The region benchmark runs (a small region) and its reconciliation finds nothing lost or
twice delivered, MAX's messages among them: the real processes, servers and outbox, end to
end."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.processes import ROOT


def test_a_small_region_is_delivered_exactly_once() -> None:
    args = "--schools 1 --classes 3 --pupils 60 --guardians 90 --events 150 --post-events 60"
    args += " --latency-seconds 1 --rate 50 --runs 1 --ceiling-size 200"
    result = subprocess.run(
        [sys.executable, "-m", "bench.region", *args.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
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
    by_max = re.search(r"max received ([\d,]+) \(lost (\d+), duplicated (\d+)\)", out)
    assert by_max is not None, out[-2000:]
    assert by_max.group(1) != "0" and by_max.groups()[1:] == ("0", "0"), by_max.group(0)
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
