"""A phase's figure: SMS, wall seconds, and this process's CPU seconds."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bench.region.processes import cpu_seconds as process_cpu_seconds

T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    messages: int
    seconds: float
    cpu_seconds: float  # user + system of this process: the servers and Redis are others
    server_cpu_seconds: float = 0.0  # the provider's server, a process of its own

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms_per_sms(self) -> float:
        return 1000 * self.cpu_seconds / self.messages

    @property
    def server_cores(self) -> float:
        """How busy the server was (1.0: one core all the time): near 1, it set the pace."""
        return self.server_cpu_seconds / self.seconds


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def in_lanes(items: list[T], lanes: int, call: Callable[[T], Awaitable[object]]) -> None:
    """`call` on every item, `lanes` at a time (as the worker's semaphore lets them go)."""
    queue = iter(items)

    async def lane() -> None:
        for item in queue:
            await call(item)

    await asyncio.gather(*(lane() for _ in range(lanes)))


async def timed(phase: Callable[[], Awaitable[object]], messages: int, server_pid: int) -> Figure:
    """Run `phase` (all of it: the sends and what must follow them) and measure it."""
    server, cpu, t = process_cpu_seconds(server_pid), cpu_seconds(), time.perf_counter()
    await phase()
    return Figure(
        messages,
        time.perf_counter() - t,
        cpu_seconds() - cpu,
        process_cpu_seconds(server_pid) - server,
    )


class Countdown:
    """Counts receipts; `wait(n)` returns once `n` have come (a phase's last step)."""

    def __init__(self) -> None:
        self.n = 0
        self._target = 0
        self._reached = asyncio.Event()

    def add(self, k: int = 1) -> None:
        self.n += k
        if self.n >= self._target:
            self._reached.set()

    async def wait(self, target: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        self._target = target
        if self.n < target:
            self._reached.clear()
            try:
                await asyncio.wait_for(self._reached.wait(), timeout)
            except TimeoutError:
                raise RuntimeError(
                    f"{self.n} of {target} SMPP receipts came within {timeout:g}s"
                ) from None
