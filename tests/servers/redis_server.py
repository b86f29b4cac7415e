"""A throwaway Redis for tests: the embedded one, without an append-only file."""

from __future__ import annotations

from pathlib import Path

from notifier.embedded import EmbeddedRedis


def start_redis(tmp: Path) -> tuple[str, EmbeddedRedis]:
    """Start a Redis under `tmp` and return its URL and the handle to stop it."""
    server = EmbeddedRedis(tmp, persistent=False)
    return server.start(), server
