"""The migrations build the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from notifier.db.engine import create_engine
from notifier.db.models import Base

STRUCTURE = ("add_table", "remove_table", "add_column", "remove_column")


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)

    def compare(connection: Any) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with engine.connect() as connection:
        diff = await connection.run_sync(compare)
    await engine.dispose()
    # What matters here: no table or column the models have and the migrations lack, or the
    # other way round (alembic's comparison of types and indexes is looser across databases).
    flat = [d for d in diff if isinstance(d, tuple)]
    assert [d for d in flat if d[0] in STRUCTURE] == []
