"""The stream consumer in a child process of the worker (`NOTIFIER_CONSUMER=process`).

On a thread (events/consumer.py's ConsumerThread) the consumer takes turns under the GIL with
the delivery loop, so while a backlog is sent it gets a thread's share of one core. In
bench.region on 2 cores (SQLite, one worker, three interleaved pairs), marks alone were stored
and planned at 899-1,129 events/s on the thread and 1,354-1,395 in the process, the region's
mix at 798-845 and 937-1,048. The price is a second interpreter: the worker and its child
peaked at 251 MB, the worker alone at 168-171 MB.

The child's side is notifier/consumer_child.py. The worker and its child share one socket
pair (a duplex `multiprocessing.Pipe`):
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
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from notifier.config import Settings
from notifier.consumer_child import Report, add_counts, run_child

log = logging.getLogger(__name__)

# spawn, not fork: the worker has an event loop and threads (a forked copy would inherit their
# locks held), and a fresh interpreter imports only what consuming needs.
_SPAWN = multiprocessing.get_context("spawn")
# A child that dies within this of its start is waited for longer each time (1, 2, 4 … 30 s).
YOUNG_SECONDS = 10.0
MAX_PAUSE = 30.0


class ConsumerProcess:
    """Runs, watches and stops the child. `start` and `stop` block, like ConsumerThread's: call
    them from a thread other than `loop`'s (asyncio.to_thread). `loop` is the worker's, where
    the child's reports are read and `on_planned` is called."""

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

    def _spawn(self) -> None:
        ours, theirs = _SPAWN.Pipe()
        process = _SPAWN.Process(
            target=run_child, args=(self._settings, theirs), name="notifier-consumer"
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
