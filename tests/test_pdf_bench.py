"""The PDF benchmark runs (a small class, a few runs) and prints its figures and summary line."""

from __future__ import annotations

import re

from tests.processes import run_bench


def test_a_small_class_is_measured() -> None:
    out = run_bench("bench.pdf", "--runs", "2", "--pupils", "3", timeout=120)
    lines = out.splitlines()
    assert lines[0].startswith("fonts: first document() "), out
    assert lines[1].startswith("one page: median "), out
    assert lines[2].startswith("class of 3: median "), out
    summary = re.fullmatch(
        r"pdf: class of 3 pages median=[\d.]+ ms cpu=[\d.]+ ms "
        r"\(target 150 ms, ratio=[\d.]+, cpu ratio=[\d.]+\) "
        r"one page=[\d.]+ ms fonts parsed in [\d.]+ ms",
        lines[3],
    )
    assert summary, out
