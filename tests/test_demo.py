"""`notifier demo` replays a school day and accounts for every message."""

from __future__ import annotations

from notifier.config import Settings
from notifier.demo import run_demo
from tests.servers.smtp_server import SmtpServer


async def test_demo_replays_a_day(settings: Settings, smtp: SmtpServer) -> None:
    lines: list[str] = []
    counts = await run_demo(settings, echo=lines.append)
    assert counts["sent by email"] == 9
    assert counts["skipped (no_consent)"] == 4
    assert len(smtp.messages) == 9
    assert any("duplicates" in line for line in lines)
    # Replaying again sends only the new day's events, never repeats of the first.
    await run_demo(settings, echo=lines.append)
    assert len(smtp.messages) == 18
