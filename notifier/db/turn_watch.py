"""Long waits for a turn on SQLite's writers' lock (sqlite_turns), logged with who holds it.

SQLite's own busy handler fails a write that has waited `busy_timeout` (30 s here) with
"database is locked", and the consumer and the dispatcher log that and try again. A turn is a
blocking `flock`, which waits as long as the holder keeps it: a process stopped or stuck inside
a write transaction would hold every other writer still, and nothing would say so. So a wait
longer than WARN_SECONDS is logged once (`sqlite.turn_waiting`, with the pid that holds the
lock, from /proc/locks where there is one), and its end is logged too (`sqlite.turn_taken`).

One daemon thread per process looks at the waits once a CHECK_SECONDS, so a wait is logged
between WARN_SECONDS and a second later. A writer that must wait only puts itself in a dict
and takes itself out, with no lock and no wake-up of the watch (a bench.region worker waited
for a turn about 500 times in a run, up to about 40 times a second); a turn taken without
waiting never meets it."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

WARN_SECONDS = 30.0  # SQLite's busy timeout (db/engine.py): where its own lock would fail
CHECK_SECONDS = 1.0
PROC_LOCKS = "/proc/locks"


@dataclass
class _Wait:
    since: float  # monotonic
    fd: int
    warned: bool = False


class _Watch:
    def __init__(self) -> None:
        # Inserts, pops and copies of a dict are atomic under the GIL: the waiters and the
        # watch share it without a lock.
        self._waits: dict[int, _Wait] = {}
        self._ids = itertools.count()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def begin(self, fd: int) -> int:
        """Before a blocking wait for the lock on `fd`; returns the key for `end`."""
        if self._thread is None:
            self._start_thread()
        key = next(self._ids)
        self._waits[key] = _Wait(time.monotonic(), fd)
        return key

    def end(self, key: int) -> None:
        wait = self._waits.pop(key)
        if wait.warned:
            log.info(
                "sqlite.turn_taken", extra={"seconds": round(time.monotonic() - wait.since, 1)}
            )

    def forget(self) -> None:
        self._waits.clear()
        self._start = threading.Lock()
        self._thread = None

    def _start_thread(self) -> None:
        with self._start:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="sqlite-turn-watch", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            time.sleep(CHECK_SECONDS)
            now = time.monotonic()
            for wait in list(self._waits.values()):
                if not wait.warned and now - wait.since >= WARN_SECONDS:
                    wait.warned = True
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
# A forked child has the dict but not the thread: it starts its own at its first wait.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCH.forget)
