"""The event loop of the service's long-running processes: uvloop's where it is installed
(uvicorn's `standard` extra brings it on Linux and macOS), else asyncio's.

uvloop runs the loop, its sockets and its transports in C, and a worker spends much of a
message in them: its HTTP and SMTP conversations, and a wake-up for every answer the database
thread hands back. In bench.region on 2 cores (SQLite, one worker, six interleaved pairs) a
worker on uvloop spent a median 1.90 ms of CPU per message against 2.02 on asyncio's (the
median pair: 0.91 times; one pair of the six went the other way), and sent Telegram alone at a
median 442 messages/s against 402 (docs/scaling.md). The API already ran on it: uvicorn picks
it the same way (its loop="auto"). Where it is not installed (Windows), asyncio's loop runs the
same code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on new_event_loop(): the same Ctrl-C handling and the same cleanup."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


def set_event_loop() -> None:
    """Make a new_event_loop() this thread's loop, for code that takes the current one when it is
    built rather than making its own: arq's Worker (asyncio.get_event_loop())."""
    asyncio.set_event_loop(new_event_loop())


def running() -> str:
    """The running loop's library, "uvloop" or "asyncio" (the worker logs it as it starts)."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]
