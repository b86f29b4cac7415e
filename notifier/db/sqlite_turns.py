"""SQLite writers of one database file take turns by a file lock, woken as soon as it is free.

SQLite has one write lock per file. A connection that finds it taken sleeps in SQLite's busy
handler, in steps that grow from 1 to 100 ms, and looks again: one that has waited long looks
seldom, and newer writers, looking often, take the lock before it. With three worker processes
on one file that made the tail of the claims' wait (bench.region, 3 workers at 200 events/s:
stored → claimed p99 364-529 ms; with turns, 57-63 ms). Here a connection takes an exclusive
`flock` on `<database>-writers.lock` before its transaction's first write, in the driver's
thread (aiosqlite runs each connection on a thread of its own), and gives it back when the
transaction ends; a writer blocked on it is woken by the kernel when it is free, and SQLite's
own lock is free then too. A wait of more than 30 s is logged with the pid that holds the
lock (db/turn_watch.py). Every process that opens the file through `create_engine` takes
turns; another program writing to it (the sqlite3 shell) still meets SQLite's busy handler.

Reads take no turn: WAL lets them run beside the writer. Where `fcntl` is missing (Windows),
connections are plain and SQLite's busy handler is all there is."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from notifier.db.turn_watch import WATCH

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

AVAILABLE = fcntl is not None

# The first word of a statement that writes; a `WITH ... UPDATE` (the claim) writes too.
DML = ("INSERT", "UPDATE", "DELETE", "REPLACE")
WRITES = (*DML, "CREATE", "DROP", "ALTER")


def lock_path(database: str) -> str:
    return f"{database}-writers.lock"


def writes(sql: str) -> bool:
    """Whether a statement takes SQLite's write lock (by its first word, or a CTE's DML)."""
    head = sql.lstrip()[:7].upper()
    if head.startswith(WRITES):
        return True
    if head.startswith("WITH"):
        words = sql.upper().split()
        return any(word in words for word in DML)
    return False


class TakingTurns(sqlite3.Connection):
    """A sqlite3 connection (`sqlite3.connect(path, factory=TakingTurns)`) whose transactions
    wait for their turn before their first write, and end it when they end."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._turn_fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
        self.has_turn = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _Cursor)

    # sqlite3's own Connection.execute makes a plain cursor, not by the method above.
    def execute(self, sql: str, *args: Any) -> Any:
        return self.cursor().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self.cursor().executemany(sql, *args)

    def take_turn(self) -> None:
        if self.has_turn:
            return
        try:
            fcntl.flock(self._turn_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another writer's turn: wait, watched (turn_watch)
            wait = WATCH.begin(self._turn_fd)
            try:
                fcntl.flock(self._turn_fd, fcntl.LOCK_EX)
            finally:
                WATCH.end(wait)
        self.has_turn = True

    def end_turn(self) -> None:
        if self.has_turn:
            fcntl.flock(self._turn_fd, fcntl.LOCK_UN)
            self.has_turn = False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()
            if self._turn_fd >= 0:  # close() may be called again, as sqlite3 allows
                os.close(self._turn_fd)
                self._turn_fd = -1


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, *args: Any) -> Any:
        return self._in_turn(sql, super().execute, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._in_turn(sql, super().executemany, *args)

    def _in_turn(self, sql: str, run: Any, *args: Any) -> Any:
        conn: TakingTurns = self.connection  # type: ignore[assignment]
        if writes(sql):
            conn.take_turn()
        try:
            return run(sql, *args)
        finally:
            # A write outside a transaction (autocommit, or DDL before any DML) is done already.
            if not conn.in_transaction:
                conn.end_turn()
