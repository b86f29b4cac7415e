"""Bulk writes that ignore rows already there, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def insert_ignore(session: AsyncSession, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING for the session's dialect; execute it with a list of
    rows (executemany: one cached statement, sent in batches), never with `.values(rows)`,
    which compiles a new statement the size of the batch every time."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt: Insert = module.insert(table).on_conflict_do_nothing()
    return stmt
