"""The SMS benchmark runs (a few dozen SMS a provider) and prints, for every provider, ours
beside the bare client's ceiling and the CPU per SMS: its servers in processes of their own,
SmsChannel and the gateways over a real Redis, every message received by its server."""

from __future__ import annotations

import re

from tests.processes import run_bench

PROVIDERS = ("http", "smsru", "smsc", "smpp")
FIGURES = r"ours=(\d+)/s ceiling=(\d+)/s ratio=(\d+\.\d\d) cpu=(\d+\.\d+) ms/sms"


def test_every_provider_is_measured_beside_its_ceiling() -> None:
    out = run_bench("bench.sms", "--messages", "60", "--warmup", "10", "--runs", "2", timeout=120)
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
