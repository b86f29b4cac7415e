"""Long waits for a turn on SQLite's writers' lock (sqlite_turns), logged with who holds it.

SQLite's own busy handler fails a write that has waited `busy_timeout` (30 s here) with
"database is locked", and the consumer and the dispatcher log that and try again. A turn is a
blocking `flock`, which waits as long as the holder keeps it: a process stopped or stuck inside
a write transaction would hold every other writer still, and nothing would say so. So a wait
longer than WARN_SECONDS is logged once (`sqlite.turn_waiting`, with the pid that holds the
lock, from /proc/locks where there is one), and its end is logged too (`sqlite.turn_taken`).

One daemon thread per process watches, asleep until the oldest wait not yet logged is due; a
turn taken without waiting never meets it."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

WARN_SECONDS = 30.0  # SQLite's busy timeout (db/engine.py): where its own lock would fail
PROC_LOCKS = "/proc/locks"


@dataclass
class _Wait:
    since: float  # monotonic
    fd: int
    warned: bool = False


class _Watch:
    def __init__(self) -> None:
        self._waits: dict[int, _Wait] = {}
        self._ids = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def waiting(self, fd: int) -> Iterator[None]:
        """Around a blocking wait for the lock on `fd`."""
        key = next(self._ids)
        wait = _Wait(time.monotonic(), fd)
        with self._changed:
            self._waits[key] = wait
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sqlite-turn-watch", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                del self._waits[key]
            if wait.warned:
                log.info(
                    "sqlite.turn_taken",
                    extra={"seconds": round(time.monotonic() - wait.since, 1)},
                )

    def _run(self) -> None:
        while True:
            with self._changed:
                due = [w for w in self._waits.values() if not w.warned]
                now = time.monotonic()
                late = [w for w in due if now - w.since >= WARN_SECONDS]
                if not late:
                    nearest = min((w.since + WARN_SECONDS - now for w in due), default=None)
                    self._changed.wait(nearest)
                    continue
                for wait in late:
                    wait.warned = True
            for wait in late:  # /proc/locks is read outside the condition's lock
                log.warning(
                    "sqlite.turn_waiting",
                    extra={
                        "seconds": round(now - wait.since, 1),
                        "holder_pid": holder_pid(wait.fd),
                    },
                )


def holder_pid(fd: int) -> int | None:
    """The pid holding a `flock` on the file open as `fd`, from Linux's /proc/locks (a line
    `1: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF`; a waiter's has `->`), or
    None where there is no such file or no holder."""
    try:
        stat = os.fstat(fd)
        with open(PROC_LOCKS, encoding="ascii") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return None
    file = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in lines:
        fields = line.split()
        if "->" not in fields and "FLOCK" in fields and file in fields:
            return int(fields[fields.index("FLOCK") + 3])
    return None


WATCH = _Watch()
