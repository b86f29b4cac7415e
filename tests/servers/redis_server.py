"""A throwaway Redis for tests: the embedded one, without an append-only file; and one that
can be crashed and brought back on the same port with its data (fault tests)."""

from __future__ import annotations

from pathlib import Path

from notifier.embedded import EmbeddedRedis


def start_redis(tmp: Path) -> tuple[str, EmbeddedRedis]:
    """Start a Redis under `tmp` and return its URL and the handle to stop it."""
    server = EmbeddedRedis(tmp, persistent=False)
    return server.start(), server


class RestartableRedis(EmbeddedRedis):
    """The embedded Redis (persistent: `appendonly yes`, `appendfsync always`) on a port of
    the caller's choice (see tests.processes.steady_port), that `crash()` kills with SIGKILL and
    `start()` brings back on the same port from the same directory, so clients keep their URL
    and the server reloads its append-only file."""

    def __init__(self, data_dir: Path, *, port: int, persistent: bool = True) -> None:
        super().__init__(data_dir, persistent=persistent)
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
