"""SQLite through `create_engine`: each statement is one call on aiosqlite's thread, and what
SQLAlchemy reads back (rows, columns, counts, errors, streamed rows) is what sqlite3 gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from notifier.db.engine import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/one-hop.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE pupils (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        await conn.execute(text("INSERT INTO pupils (name) VALUES ('a'), ('b'), ('c')"))
    yield engine
    await engine.dispose()


async def _calls_on_thread(conn: AsyncConnection) -> list[Any]:
    """The functions this connection sends to aiosqlite's thread, from now on."""
    driver = (await conn.get_raw_connection()).driver_connection
    sent: list[Any] = []
    execute = driver._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(fn)
        return await execute(fn, *args, **kwargs)

    driver._execute = counted
    return sent


async def test_a_select_an_update_and_an_insert_are_one_call_each(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        sent = await _calls_on_thread(conn)
        rows = (await conn.execute(text("SELECT id, name FROM pupils ORDER BY id"))).all()
        assert len(sent) == 1
        updated = await conn.execute(text("UPDATE pupils SET name = name || '!' WHERE id > 1"))
        assert len(sent) == 2
        inserted = await conn.execute(text("INSERT INTO pupils (name) VALUES ('d')"))
        assert len(sent) == 3
    assert [tuple(row) for row in rows] == [(1, "a"), (2, "b"), (3, "c")]
    assert updated.rowcount == 2
    assert inserted.lastrowid == 4


async def test_columns_returning_and_many_rows_of_parameters(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(text("SELECT name AS pupil, id FROM pupils WHERE id = 2"))
        assert list(result.keys()) == ["pupil", "id"]
        assert result.one()._asdict() == {"pupil": "b", "id": 2}
        returned = await conn.execute(
            text("UPDATE pupils SET name = upper(name) WHERE id < 3 RETURNING id, name")
        )
        assert sorted(tuple(row) for row in returned) == [(1, "A"), (2, "B")]
        many = await conn.execute(
            text("INSERT INTO pupils (name) VALUES (:name)"), [{"name": "e"}, {"name": "f"}]
        )
        assert many.rowcount == 2
        assert await conn.scalar(text("SELECT count(*) FROM pupils")) == 5
        empty = await conn.execute(text("SELECT id FROM pupils WHERE id < 0"))
        assert empty.all() == []
        some = await conn.execute(text("SELECT id FROM pupils ORDER BY id"))
        assert [tuple(row) for row in some.fetchmany()] == [(1,)]  # sqlite3's arraysize, 1
        assert [tuple(row) for row in some.fetchmany(2)] == [(2,), (3,)]


async def test_an_error_is_sqlalchemys_and_the_connection_goes_on(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO pupils (name) VALUES ('x')"))
        with pytest.raises(IntegrityError, match="UNIQUE constraint failed"):
            await conn.execute(text("INSERT INTO pupils (name) VALUES ('a')"))
        await conn.rollback()
        assert await conn.scalar(text("SELECT count(*) FROM pupils")) == 3


async def test_a_streamed_select_fetches_as_it_is_read(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        stream = await session.stream(text("SELECT name FROM pupils ORDER BY id"))
        assert [row.name async for row in stream] == ["a", "b", "c"]
