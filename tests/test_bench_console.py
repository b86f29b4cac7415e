"""The console benchmark runs (a small school, a few requests per page) and prints a figure for
every page and download and its summary line: the real API process, sessions and pages."""

from __future__ import annotations

import re

from tests.processes import run_bench


def test_a_small_school_console_is_measured() -> None:
    args = "--pupils 60 --classes 3 --weeks 1 --requests 3 --warmup 1"
    out = run_bench("bench.console", *args.split(), timeout=300)
    assert "school: 3 classes, 60 pupils, 90 guardians" in out, out[:2000]
    for page in (
        "teacher: home",
        "teacher: class reach",
        "teacher: compose",
        "teacher: preview (htmx)",
        "teacher: announcements",
        "teacher: report",
        "teacher: summary.html",
        "admin: home (3 classes)",
        "admin: class reach",
        "admin: staff (4)",
        "teacher: summary.pdf",
        "teacher: invitations",
    ):
        line = next((x for x in out.splitlines() if x.strip().startswith(page)), None)
        assert line is not None and re.search(r"p95 +[\d.]+ .* API CPU +[\d.]+ ms", line), page
    found = re.search(
        r"^console pages: p95 max=(\d+) ms \(target 200 ms\) over (\d+) pages; "
        r"pdf p95: summary=(\d+) ms invitations=(\d+) ms$",
        out,
        re.MULTILINE,
    )
    assert found is not None, out[-2000:]
    assert found.group(2) == "10"
