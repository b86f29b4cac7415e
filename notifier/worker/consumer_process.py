"""The stream consumer in a child process of the worker (`NOTIFIER_CONSUMER=process`).

On a thread (events/consumer.py's ConsumerThread) the consumer takes turns under the GIL with
the delivery loop, so while a backlog is sent it gets a thread's share of one core. In
bench.region on 2 cores, marks alone were stored and planned at 1,053-1,150 events/s on the
thread and 1,489-1,603 in a process. The price is a second interpreter's memory.

The worker and its child share one socket pair (a duplex `multiprocessing.Pipe`):
- after each stored batch that planned messages, and every second while events come, the child
  sends a `Report`: whether to kick a delivery run (as the thread does), and what its counters
  counted since, which the worker adds to its own (the child serves no /metrics);
- the worker closes its end to stop the child, which finishes the batch in hand. A worker
  killed outright closes it too, so no consumer outlives its worker;
- the child's end closing tells the worker the child is gone: it starts another, after a pause
  that grows while they keep dying young. Entries the dead one read and had not stored are
  claimed again after `NOTIFIER_STREAM_CLAIM_IDLE_SECONDS`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from prometheus_client import Counter

from notifier.config import Settings
from notifier.logs import setup_logging
from notifier.metrics import EVENTS_IN, NOTIFICATIONS_PLANNED
from notifier.runtime import build_runtime

log = logging.getLogger(__name__)

# spawn, not fork: the worker has an event loop and threads (a forked copy would inherit their
# locks held), and a fresh interpreter imports only what consuming needs.
_SPAWN = multiprocessing.get_context("spawn")
# The counters the consumer's code counts (events in, rows planned), by their exposed name.
_COUNTED: dict[str, Counter] = {
    family.name: counter
    for counter in (EVENTS_IN, NOTIFICATIONS_PLANNED)
    for family in counter.collect()
}
REPORT_SECONDS = 1.0
# A child that dies within this of its start is waited for longer each time (1, 2, 4 … 30 s).
YOUNG_SECONDS = 10.0
MAX_PAUSE = 30.0

LabelValues = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Count:
    """A counter's increase in the child: the counter's name, its labels, by how much."""

    counter: str
    labels: LabelValues
    amount: float


@dataclass(frozen=True)
class Report:
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


class ConsumerProcess:
    """Runs, watches and stops the child. `start` and `stop` block, like ConsumerThread's, and
    may be called from any thread; `loop` is the worker's, where the child's reports are read
    and `on_planned` is called."""

    def __init__(
        self,
        *,
        settings: Settings,
        loop: asyncio.AbstractEventLoop,
        on_planned: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._loop = loop
        self._on_planned = on_planned
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._stopping = False
        self._pause = 1.0
        self._born = 0.0

    def start(self) -> None:
        self._spawn()

    def stop(self, timeout: float = 10) -> None:
        """Close our end (the child finishes its batch and ends); after `timeout`, SIGTERM,
        then SIGKILL."""
        self._stopping = True
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._detach(), self._loop).result(timeout)
        else:
            self._close()
        process = self._process
        if process is None:
            return
        process.join(timeout)
        if process.is_alive():
            log.warning("consumer.process_stop_forced", extra={"pid": process.pid})
            process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _spawn(self) -> None:
        ours, theirs = _SPAWN.Pipe()
        process = _SPAWN.Process(
            target=_child, args=(self._settings, theirs), name="notifier-consumer"
        )
        process.start()
        theirs.close()
        self._process, self._conn, self._born = process, ours, time.monotonic()
        self._loop.call_soon_threadsafe(self._watch, ours)
        log.info("consumer.process_started", extra={"pid": process.pid})

    def _watch(self, conn: Connection) -> None:
        if conn.closed or self._stopping:
            return
        self._loop.add_reader(conn.fileno(), self._read, conn)

    def _read(self, conn: Connection) -> None:
        planned = False
        try:
            while conn.poll():
                report: Report = conn.recv()
                add_counts(report.counts)
                planned = planned or report.planned
        except (EOFError, OSError):
            self._gone(conn)
        if planned and self._on_planned is not None:
            self._on_planned()

    def _gone(self, conn: Connection) -> None:
        """The child's end closed: it ended (or is ending). Another is started unless we stop."""
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(conn.fileno())
        conn.close()
        if self._stopping:
            return
        lived = time.monotonic() - self._born
        if lived >= YOUNG_SECONDS:
            self._pause = 1.0
        exitcode = self._process.exitcode if self._process is not None else None
        log.error(
            "consumer.process_exited",
            extra={"exitcode": exitcode, "lived_s": round(lived, 1), "restart_in_s": self._pause},
        )
        self._loop.call_later(self._pause, self._respawn)
        self._pause = min(self._pause * 2, MAX_PAUSE)

    def _respawn(self) -> None:
        if self._process is not None:
            self._process.join(1)  # reap it
        if not self._stopping:
            self._spawn()

    async def _detach(self) -> None:
        self._close()

    def _close(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(conn.fileno())
            conn.close()


def _child(settings: Settings, conn: Connection) -> None:
    """The child's body. Ctrl-C in a terminal reaches the whole process group: the worker
    stops us by closing its end, so the child ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(settings)
    asyncio.run(_consume(settings, conn))


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

    runtime = build_runtime(settings)
    reporting = asyncio.create_task(every_second())
    try:
        await runtime.consumer(on_planned=planned).run_forever(stop)
    finally:
        reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporting
        send(False)  # the last counts
        await runtime.close()
