"""bench.planning_reads runs (a small region, a short history) and prints its four figures."""

from __future__ import annotations

import re

from tests.processes import run_bench


def test_the_reads_of_a_batch_are_measured_on_a_history() -> None:
    args = "--pupils 600 --guardians 900 --sent-rows 3000 --runs 1"
    out = run_bench("bench.planning_reads", *args.split(), timeout=300)
    assert "region: 600 pupils, 900 guardians; 3000 sent rows in the outbox" in out, out
    for name in ("500 marks' pupils", "30 classes", "reports sent today", "told of 500 marks"):
        line = next((x for x in out.splitlines() if name in x), "")
        assert re.search(r"\d+\.\d ms CPU +\d+\.\d ms wall", line), (name, out)
