"""SQLite statements that cross to aiosqlite's thread once each.

aiosqlite runs a connection's sqlite3 calls on a thread of its own, and SQLAlchemy's aiosqlite
adapter makes one call there for each cursor method: open the cursor, execute, fetch the rows,
close. Each call is a trip through a queue to that thread and a wake-up of the event loop on the
way back, and the trips are most of what a statement costs. A `select` of a few rows took
315-330 µs of CPU through SQLAlchemy, about 200 µs of it in aiosqlite, and 4 µs in sqlite3.

Here a statement is one function run on that thread: it opens a cursor, executes, fetches every
row, notes the description, rowcount and lastrowid, and closes the cursor. The adapter's cursor
keeps those, as SQLAlchemy's buffered (not server-side) cursor does already. Server-side cursors
(`AsyncSession.stream`) are SQLAlchemy's own: they fetch as they are read.

`create_engine` hands this module to SQLAlchemy as the SQLite dialect's DBAPI (`module=`), so
the URL stays `sqlite+aiosqlite://` and the dialect stays SQLAlchemy's."""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, int, int | None, list[Any]]


def _execute(conn: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    cursor = conn.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _executemany(conn: sqlite3.Connection, operation: str, seq_of_parameters: Any) -> Outcome:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return None, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement, rows and counts come back from one call on the
    connection's thread. No statement of another can come between its execute and its fetch,
    so it needs no lock of its own."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    # Nothing is left open on the thread to close, so SQLAlchemy has nothing to await.
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1  # sqlite3's: what fetchmany() takes without a size

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._run(_execute, operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run(_executemany, operation, seq_of_parameters)

    def _run(self, call: Any, operation: Any, parameters: Any) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            outcome: Outcome = await_(
                connection._execute(call, connection._conn, operation, parameters)  # type: ignore[no-untyped-call]
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneHopCursor  # type: ignore[assignment]


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI SQLAlchemy builds, with connections whose cursors take one hop."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
