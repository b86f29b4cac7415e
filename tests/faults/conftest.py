"""The fault tests' fixtures shared by every module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.harness import Proc
from tests.processes import ROOT


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
