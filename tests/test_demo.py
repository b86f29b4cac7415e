"""`notifier demo` replays a school day and accounts for every message."""

from __future__ import annotations

from notifier.config import Settings
from notifier.demo import run_demo
from tests.servers.smtp_server import SmtpServer


async def test_demo_replays_a_day(settings: Settings, smtp: SmtpServer) -> None:
    lines: list[str] = []
    settings = settings.model_copy(update={"coalesce_seconds": 60})
    counts = await run_demo(settings, echo=lines.append)
    assert not any(k.startswith("pending") for k in counts), counts
    assert counts["skipped (no_consent)"] == 4
    assert counts["sent by sms"] >= 1  # the guardian with only a phone
    first = len(smtp.messages)
    assert 1 <= first < counts["sent by email"]  # the burst of marks coalesced
    assert any("Summary" in line for line in lines)
    # Replaying again sends the new day's events only, never repeats of the first. The replay
    # has the same date: that day's reports went with the first, so its marks may ride other
    # messages (the evening's) and there may be fewer, never more.
    await run_demo(settings, echo=lines.append)
    assert first < len(smtp.messages) <= 2 * first
