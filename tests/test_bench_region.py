"""The region benchmark runs (a small region) and its reconciliation finds nothing lost or
twice delivered: the real processes, servers and outbox, end to end."""

from __future__ import annotations

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
        "email /s",
        "sms /s",
        "latency XADD → channel server",
        "peak memory",
        "messages per reachable guardian",
        "raw ceilings",
    ):
        assert figure in out, figure
    found = re.search(r"lost (\d+), duplicated (\d+), without an event number (\d+)", out)
    assert found is not None, out[-2000:]
    assert found.groups() == ("0", "0", "0"), found.group(0)
    sent = re.search(r"outbox rows sent ([\d,]+), by the workers' /metrics ([\d,]+)", out)
    assert sent is not None and sent.group(1) == sent.group(2) and sent.group(1) != "0"
