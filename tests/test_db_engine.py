"""The PostgreSQL engine's pool: a connection the server closed is replaced at checkout, and a
checkout asks the server nothing. A SQLite connection's prepared statements stay few."""

from __future__ import annotations

import _sqlite3
import asyncio
import ctypes
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import bindparam, text

from notifier.db.engine import create_engine


@pytest.fixture
async def engine(postgres_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


async def test_a_connection_whose_backend_was_terminated_is_replaced_at_checkout(
    engine,  # type: ignore[no-untyped-def]
    postgres_url: str,
) -> None:
    async with engine.connect() as conn:
        doomed = await conn.scalar(text("SELECT pg_backend_pid()"))
    # The connection is back in the pool; the server ends its backend (as a restart would).
    killer = create_engine(postgres_url)
    try:
        async with killer.connect() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": doomed})
    finally:
        await killer.dispose()
    await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connection
    async with engine.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    assert pid != doomed


async def test_a_checkout_asks_the_server_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    """pool_pre_ping would send BEGIN, ";" and ROLLBACK at every checkout."""
    queries: list[str] = []
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        raw.driver_connection.add_query_logger(lambda record: queries.append(record.query))
    async with engine.connect() as conn:  # the same pooled connection, checked out again
        assert await conn.scalar(text("SELECT 2")) == 2
    # The query's own transaction only (its statement goes prepared, which the logger skips).
    assert queries == ["BEGIN;", "ROLLBACK;"]


def _sqlite_memory() -> int:
    """Bytes SQLite has allocated in this process (its own count, sqlite3_memory_used)."""
    lib = ctypes.CDLL(_sqlite3.__file__)  # the symbol resolves in the library it links, too
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return int(lib.sqlite3_memory_used())


async def test_a_sqlite_connection_keeps_few_prepared_statements(tmp_path: Path) -> None:
    """Every length of an `IN` list is a statement of its own: 300 of them leave the engine's
    connection holding a fraction of what sqlite3's default cache would."""
    lengths = range(1, 301)
    ids = text("SELECT id FROM t WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ours.db'}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            before = _sqlite_memory()
            for n in lengths:
                await conn.execute(ids, {"ids": list(range(n))})
            ours = _sqlite_memory() - before
    finally:
        await engine.dispose()
    default = sqlite3.connect(tmp_path / "default.db")
    try:
        default.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        before = _sqlite_memory()
        for n in lengths:
            default.execute(f"SELECT id FROM t WHERE id IN ({', '.join('?' * n)})", range(n))
        theirs = _sqlite_memory() - before
    finally:
        default.close()
    assert ours < theirs / 4, (ours, theirs)
