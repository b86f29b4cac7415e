"""The MAX client of this process: runtime.max's maxapi Bot, reused (one session, the API base
of NOTIFIER_MAX_API_BASE, the CA of NOTIFIER_MAX_CA_FILE)."""

from __future__ import annotations

from maxapi import Bot

from notifier.runtime import Runtime


def max_bot(runtime: Runtime) -> Bot:
    channel = runtime.max
    if channel is None:
        raise RuntimeError("MAX is not configured: set NOTIFIER_MAX_TOKEN")
    return channel.client()
