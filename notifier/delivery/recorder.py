"""Each group recorded as soon as it is sent, many in one transaction: while the writes out
are as many as the database takes at once, the groups that finish meanwhile wait and go together
in the next. A worker killed mid-batch then sends again only what it had sent and not yet
written (a few milliseconds' worth), not the whole batch; and a busy worker still writes
hundreds of rows per commit."""

from __future__ import annotations

import asyncio
import logging

from notifier.db.engine import SessionFactory
from notifier.delivery.outbox import Write, record

log = logging.getLogger(__name__)
# Writes out together on PostgreSQL. Each is a statement's CPU, so more writers split a busy
# worker's large writes into more small ones: python -m bench.region --database postgres, quick
# runs, at 1, 2 and 4 writers: 0.70, 0.74-0.77 and 0.84-0.86 ms of CPU a message. The fault
# test's messages sent twice over five kills, 16 seeds each: a mean of 6.3 at 1 writer, 4.3 at
# 2, 3.4 at 4.
POSTGRES_AT_ONCE = 2


class Recorder:
    """One per dispatcher (process). `write` returns once the group's rows are committed.

    `at_once`: how many writes may be out together. SQLite takes one writer at a time, so 1.
    PostgreSQL takes several, and a group that finishes while a write is out need not wait for
    it: with one at a time, a group waited about as long for the write before it as for its own
    (the fault test, tests/faults/test_worker_killed.py: 3.5 ms from sent to committed at the
    median, each write 1.9), and every millisecond a sent group waits is one in which a kill
    sends it again."""

    def __init__(self, sessions: SessionFactory, *, at_once: int = 1) -> None:
        self._sessions = sessions
        self._at_once = at_once
        self._waiting: list[tuple[Write, float, asyncio.Future[None]]] = []
        self._writers: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references

    async def write(self, write: Write, *, lease_ends: float) -> None:
        """Record one group (`lease_ends`: monotonic, when its lease runs out). Raises what
        the write raised once it gave up."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((write, lease_ends, done))
        # A writer is done as soon as its loop finds nothing waiting (no await after that
        # look), so a group that comes later starts one of its own.
        if sum(not writer.done() for writer in self._writers) < self._at_once:
            writer = asyncio.create_task(self._drain())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        # A cancelled sender (the worker stopping) still has its group written: the messages
        # are out, and the write goes on in the writer's task.
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._waiting:
            taken, self._waiting = self._waiting, []
            try:
                refused = await record(
                    self._sessions,
                    [write for write, _, _ in taken],
                    lease_ends=min(ends for _, ends, _ in taken),
                )
            except Exception as exc:
                for _, _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                continue
            if refused:
                # Another claim took these rows when our lease ran out (a pause, a stall): its
                # worker records them, and may send them again.
                log.warning("delivery.lease_lost", extra={"rows": refused})
            for _, _, done in taken:
                if not done.done():
                    done.set_result(None)
