"""The PDF benchmark runs (a small class, a few runs) and prints its figures and summary line."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.processes import ROOT


def test_a_small_class_is_measured() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.pdf", "--runs", "2", "--pupils", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
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
