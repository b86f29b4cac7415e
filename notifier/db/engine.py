"""Engine and session factory, built from Settings by the entry points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from notifier.db import sqlite_turns

SessionFactory = async_sessionmaker[AsyncSession]


# Prepared statements each SQLite connection keeps (sqlite3's default is 128). An `IN` list
# is a placeholder per value (SQLAlchemy's expanding parameters), so each length is a
# statement of its own, and one of a few hundred values is a few hundred kilobytes compiled.
# At 128, a bench.region worker's connections held 61 MB of them at its peak (memray); at 16
# its peak RSS was 177 MB instead of 228, at the same CPU per message. The statements that
# repeat (the claim, the record's updates, the consumer's inserts) stay cached.
SQLITE_CACHED_STATEMENTS = 16


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(
    database_url: str, *, cached_statements: int = SQLITE_CACHED_STATEMENTS
) -> AsyncEngine:
    """An async engine; for SQLite the file's folder is created and WAL is switched on, and
    each connection keeps `cached_statements` prepared statements."""
    # An error's text (an IntegrityError in a log, say) shows the statement, never its values:
    # those are names, phones and emails.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if is_sqlite(database_url):
        db_path = make_url(database_url).database
        kwargs["connect_args"] = {"timeout": 30, "cached_statements": cached_statements}
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            if sqlite_turns.AVAILABLE:
                # Writers wait their turn on a file lock, woken as soon as it is free.
                kwargs["connect_args"]["factory"] = sqlite_turns.TakingTurns
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(database_url, **kwargs)
    if is_sqlite(database_url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine.sync_engine.pool, "checkout", _drop_if_closed)
    return engine


def _drop_if_closed(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """A pooled connection the server closed (a restart, a terminated backend) is replaced at
    checkout. asyncpg sees the server's goodbye as it comes, so asking it costs nothing;
    SQLAlchemy's pool_pre_ping asks the server instead: three round trips on every checkout
    (BEGIN, ";", ROLLBACK), each a wait on a busy worker's loop. Without them the fault test
    (tests/faults/test_worker_killed.py) counted 31 and 23 messages sent twice over five kills,
    with them 40 and 33: fewer sent messages wait for their record when the worker dies."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the worker writes; busy_timeout makes writers queue, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)
