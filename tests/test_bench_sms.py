"""The SMS benchmark runs (a few dozen SMS a provider) and prints, for every provider, ours
beside the bare client's ceiling and the CPU per SMS: its servers in processes of their own,
SmsChannel and the gateways over a real Redis, every message received by its server."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.processes import ROOT

PROVIDERS = ("http", "smsru", "smsc", "smpp")
FIGURES = r"ours=(\d+)/s ceiling=(\d+)/s ratio=(\d+\.\d\d) cpu=(\d+\.\d+) ms/sms"


def test_every_provider_is_measured_beside_its_ceiling() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.sms", "--messages", "60", "--warmup", "10", "--runs", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert out.startswith("sms: 60 SMS a run (2-segment ucs2, 1-segment gsm7"), out[:500]
    for provider in PROVIDERS:
        for run in (1, 2):
            assert re.search(rf"^  sms/{provider} run {run}: {FIGURES}", out, re.M), provider
        median = re.search(rf"^sms/{provider}: {FIGURES} \(ceiling [\d.]+ ms/sms\)$", out, re.M)
        assert median is not None, out
        ours, ceiling, ratio, cpu = median.groups()
        assert int(ours) > 0 and int(ceiling) > 0 and float(cpu) > 0, median.group(0)
        assert float(ratio) > 0, median.group(0)
    assert "median of 2 runs:" in out
