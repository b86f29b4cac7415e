"""`column IN (values)` for a batch's hundreds of ids, sent as one parameter on SQLite.

SQLAlchemy sends a list as a parameter per value ("expanding"). Each call renders the statement
again with that many placeholders and processes each value on its own, and SQLite parses and
plans a statement text it has not seen: its prepared statements are cached by their text, and
each length of list is a text of its own. A worker's claims and the consumer's batches read a
dozen tables by such lists. On SQLite the list goes as one JSON array read by `json_each`: one
statement text whatever the length, compiled and prepared once, and no limit on the number of
values (SQLite's default limit is 32,766 parameters a statement; builds may set another).

PostgreSQL keeps SQLAlchemy's IN: its driver binds arrays natively, and the planner there has
statistics either way.

A statement a claim or a record sends every time is built once (`Built`), its lists named
parameters (`Among`): building a small query, and keying it for SQLAlchemy's cache of compiled
statements, took a quarter of its CPU (a guardian's 120 addresses, 1.3 ms against 0.9 ms), and a
claim sends a dozen. It runs on the session's connection, as Core, unless it selects ORM entities:
the session's way adds the ORM's own pass over the statement and its result (a claim's UPDATE
took 0.4 ms less of CPU on the connection)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import BindParameter


def among(
    session: AsyncSession,
    column: InstrumentedAttribute[Any] | ColumnElement[Any],
    values: Iterable[int | str],
) -> ColumnElement[bool]:
    """`column IN values` for the session's database: ints or strings, any number of them."""
    if session.get_bind().dialect.name != "sqlite":
        return column.in_(list(values))
    return _in_json(column, json.dumps(list(values)))


def _in_json(
    column: InstrumentedAttribute[Any] | ColumnElement[Any], array: str | BindParameter[str]
) -> ColumnElement[bool]:
    """`column IN` the elements of a JSON array, on SQLite. json_each's `value` column gives each
    element back as SQL: an integer or a text, compared with the column as the expanded list's
    parameters were."""
    listed = func.json_each(array).table_valued("value")
    return column.in_(select(listed.c.value))


class Among:
    """`column IN :name` for a statement built once: the list is the parameter `name`, given as
    `value(values)`."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def __call__(
        self, column: InstrumentedAttribute[Any] | ColumnElement[Any], name: str
    ) -> ColumnElement[bool]:
        if not self.sqlite:
            return column.in_(bindparam(name, expanding=True))
        return _in_json(column, bindparam(name, type_=String()))

    def value(self, values: Iterable[int | str]) -> str | list[int | str]:
        """The list as this database's parameter takes it."""
        listed = list(values)
        return json.dumps(listed) if self.sqlite else listed


S = TypeVar("S", bound=Executable)


class Built(Generic[S]):
    """A statement built once for each database dialect by `build(among)`, and used again.
    `execute` runs it on the session's connection (Core rows; an UPDATE leaves the objects the
    session holds as they were), or on the session when it selects ORM entities (objects)."""

    def __init__(self, build: Callable[[Among], S]) -> None:
        self._build = build
        self._built: dict[str, tuple[S, Among, bool]] = {}

    def of(self, session: AsyncSession) -> tuple[S, Among]:
        """The statement for the session's database, and how its lists go as parameters."""
        statement, among, _ = self._of(session)
        return statement, among

    def _of(self, session: AsyncSession) -> tuple[S, Among, bool]:
        dialect = session.get_bind().dialect.name
        built = self._built.get(dialect)
        if built is None:
            among = Among(dialect)
            statement = self._build(among)
            built = self._built[dialect] = (statement, among, _selects_entities(statement))
        return built

    async def execute(
        self,
        session: AsyncSession,
        values: Mapping[str, Any] | None = None,
        /,
        **lists: Iterable[int | str],
    ) -> Any:
        """The statement run with these `values`, and these lists for its Among parameters: its
        Result (typed Any: the statement is any of the built ones)."""
        statement, among, entities = self._of(session)
        params = dict(values or {})
        params.update((name, among.value(listed)) for name, listed in lists.items())
        if entities:
            return await session.execute(statement, params)
        return await (await session.connection()).execute(statement, params)


def _selects_entities(statement: Executable) -> bool:
    """Whether a SELECT names a mapped class (select(School)), not only columns."""
    if not isinstance(statement, Select):
        return False
    return any(
        d.get("entity") is not None and d["expr"] is d["entity"]
        for d in statement.column_descriptions
    )
