"""The PostgreSQL engine's pool: a connection the server closed is replaced at checkout, and a
checkout asks the server nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

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
