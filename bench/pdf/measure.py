"""Timing a call: wall and this process's CPU, each run apart, and their medians."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    wall_ms: list[float]
    cpu_ms: list[float]

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)

    def line(self) -> str:
        return (
            f"median {self.wall:.1f} ms wall, {self.cpu:.1f} ms CPU over {len(self.wall_ms)} "
            f"(min {min(self.wall_ms):.1f}, max {max(self.wall_ms):.1f} ms wall)"
        )


def timed(call: Callable[[], object], runs: int) -> Timing:
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        call()
        cpu.append((time.process_time() - used) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return Timing(wall, cpu)
