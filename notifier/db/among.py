"""`column IN (values)` for a batch's hundreds of ids, sent as one parameter on SQLite.

SQLAlchemy sends a list as a parameter per value ("expanding"). Each call renders the statement
again with that many placeholders and processes each value on its own, and SQLite parses and
plans a statement text it has not seen: its prepared statements are cached by their text, and
each length of list is a text of its own. A worker's claims and the consumer's batches read a
dozen tables by such lists. On SQLite the list goes as one JSON array read by `json_each`: one
statement text whatever the length, compiled and prepared once, and no limit on the number of
values (SQLite's default limit is 32,766 parameters a statement; builds may set another).

PostgreSQL keeps SQLAlchemy's IN: its driver binds arrays natively, and the planner there has
statistics either way."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


def among(
    session: AsyncSession,
    column: InstrumentedAttribute[Any] | ColumnElement[Any],
    values: Iterable[int | str],
) -> ColumnElement[bool]:
    """`column IN values` for the session's database: ints or strings, any number of them."""
    if session.get_bind().dialect.name != "sqlite":
        return column.in_(list(values))
    # json_each's `value` column gives each element back as SQL: an integer or a text, compared
    # with the column as the expanded list's parameters were.
    listed = func.json_each(json.dumps(list(values))).table_valued("value")
    return column.in_(select(listed.c.value))
