"""The fault tests' fixtures shared by every module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.harness import Proc
from tests.processes import ROOT, steady_port
from tests.servers.redis_server import RestartableRedis


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Make child processes that are stopped at teardown whatever happened (request this
    fixture after the servers' fixtures, so the processes stop before the servers do)."""
    made: list[Proc] = []

    def make(name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> Proc:
        proc = Proc(name, args, env, tmp_path, cwd)
        made.append(proc)
        return proc

    yield make
    for proc in reversed(made):
        proc.stop()


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    """A Redis of the test's own with `appendonly yes` and `appendfsync always`, to crash,
    stop and start again."""
    server = RestartableRedis(tmp_path / "redis", port=steady_port(), persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
