"""Each group recorded as soon as it is sent, many in one transaction: while one write is out,
the groups that finish meanwhile wait and go together in the next. A worker killed mid-batch
then sends again only what it had sent and not yet written (a few milliseconds' worth), not
the whole batch; and a busy worker still writes hundreds of rows per commit."""

from __future__ import annotations

import asyncio
import logging

from notifier.db.engine import SessionFactory
from notifier.delivery.outbox import Write, record

log = logging.getLogger(__name__)


class Recorder:
    """One per dispatcher (process). `write` returns once the group's rows are committed."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._waiting: list[tuple[Write, float, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, write: Write, *, lease_ends: float) -> None:
        """Record one group (`lease_ends`: monotonic, when its lease runs out). Raises what
        the write raised once it gave up."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((write, lease_ends, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
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
