"""Concurrent senders timed as a worker's groups send: this process's CPU per item and the
items/s, for the micro-benchmarks of one channel's client (bench.email_build --send,
bench.bot_send). The channel server runs in a process of its own, so its CPU is not counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def cpu_per_send(
    items: Sequence[T], send: Callable[[T], Awaitable[object]], senders: int
) -> tuple[float, float]:
    """Send every item, `senders` at a time, each sender taking every `senders`-th item;
    returns this process's CPU microseconds per item and the items/s."""

    async def sender(k: int) -> None:
        for item in items[k::senders]:
            await send(item)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(sender(k) for k in range(senders)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / len(items) * 1e6, len(items) / wall
