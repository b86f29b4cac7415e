"""bench.bot_send runs for each messenger and prints our CPU per message beside the bare
client's, against the servers the tests use."""

from __future__ import annotations

import re

import pytest

from tests.processes import run_bench


@pytest.mark.parametrize(
    ("channel", "name"), [("telegram", "TelegramChannel"), ("max", "MaxChannel")]
)
def test_a_messengers_send_is_timed_beside_the_bare_client(channel: str, name: str) -> None:
    out = run_bench(
        "bench.bot_send", "--channel", channel, "--messages", "200", "--runs", "1", timeout=120
    )
    assert re.search(rf"{name}\.send +[\d,]+ µs/message of our CPU, [\d,]+ messages/s", out), out
    assert re.search(r"bare client +[\d,]+ µs/message, [\d,]+ messages/s", out), out
    assert re.search(r"ours = \d+\.\d\d × the bare client's CPU per message", out), out
