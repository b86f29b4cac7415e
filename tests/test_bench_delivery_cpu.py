"""bench.delivery_cpu runs and prints planning's CPU per event and delivery's per message, with
the send and without it, against the Bot API server the tests use."""

from __future__ import annotations

import re

from tests.processes import run_bench


def test_delivery_is_timed_with_and_without_the_send() -> None:
    out = run_bench("bench.delivery_cpu", "--classes", "2", "--runs", "1", timeout=180)
    assert "median of 1 runs, 60 marks and 120 messages each" in out, out
    assert re.search(r"planning, CPU per event +[\d,]+ µs", out), out
    assert re.search(r"delivery, CPU per message +[\d,]+ µs", out), out
    assert re.search(r"delivery besides the send, per message +[\d,]+ µs", out), out
