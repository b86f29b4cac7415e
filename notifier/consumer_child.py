"""The child's side of a worker's consumer process (worker/consumer_process.py has the
worker's): the consumer on an Intake of its own, reporting to the worker over their socket
pair. Its module imports only what consuming needs (intake_runtime), not the worker's
channels and templates: spawn starts the child as a fresh interpreter, and what it imports is
its memory."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection

from prometheus_client import Counter

from notifier import event_loop
from notifier.config import Settings
from notifier.intake_runtime import build_intake
from notifier.logs import setup_logging
from notifier.metrics import EVENTS_IN, NOTIFICATIONS_PLANNED

# The counters the consumer's code counts (events in, rows planned), by their exposed name.
_COUNTED: dict[str, Counter] = {
    family.name: counter
    for counter in (EVENTS_IN, NOTIFICATIONS_PLANNED)
    for family in counter.collect()
}
REPORT_SECONDS = 1.0

LabelValues = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Count:
    """A counter's increase in the child: the counter's name, its labels, by how much."""

    counter: str
    labels: LabelValues
    amount: float


@dataclass(frozen=True)
class Report:
    """What the child tells the worker: `planned`, kick a delivery run; `counts`, what its
    counters counted since the last report."""

    planned: bool
    counts: tuple[Count, ...] = ()


class _Counts:
    """The child's counters as they stood at the last report, to send only what grew."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, LabelValues], float] = {}

    def since_last(self) -> tuple[Count, ...]:
        grown = []
        for name, counter in _COUNTED.items():
            for family in counter.collect():
                for sample in family.samples:
                    if sample.name != f"{name}_total":
                        continue  # the _created timestamps
                    key = (name, tuple(sorted(sample.labels.items())))
                    amount = sample.value - self._sent.get(key, 0.0)
                    if amount:
                        grown.append(Count(name, key[1], amount))
                        self._sent[key] = sample.value
        return tuple(grown)


def add_counts(counts: tuple[Count, ...]) -> None:
    """The child's counts, onto this process's counters."""
    for count in counts:
        counter = _COUNTED.get(count.counter)
        if counter is not None:
            counter.labels(**dict(count.labels)).inc(count.amount)


def run_child(settings: Settings, conn: Connection) -> None:
    """The child's body. Ctrl-C in a terminal reaches the whole process group: the worker
    stops us by closing its end, so the child ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(settings)
    event_loop.run(_consume(settings, conn))


async def _consume(settings: Settings, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # The worker never writes: its end readable means it closed (a stop, or its death).
    loop.add_reader(conn.fileno(), stop.set)
    counts = _Counts()

    def send(planned: bool) -> None:
        grown = counts.since_last()
        if not (planned or grown):
            return
        try:
            conn.send(Report(planned, grown))
        except OSError:  # the worker is gone
            stop.set()

    async def planned() -> None:
        send(True)

    async def every_second() -> None:
        while True:
            await asyncio.sleep(REPORT_SECONDS)
            send(False)

    intake = build_intake(settings)
    reporting = asyncio.create_task(every_second())
    try:
        await intake.consumer(on_planned=planned).run_forever(stop)
    finally:
        reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporting
        send(False)  # the last counts
        await intake.close()
