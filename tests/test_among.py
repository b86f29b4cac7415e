"""notifier/db/among.py: `column IN values` as one JSON parameter on SQLite, SQLAlchemy's
expanding IN on PostgreSQL; the same rows either way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from notifier.db.among import Built, among
from notifier.db.models import JournalEvent, School
from notifier.db.states import EventStatus
from notifier.delivery.grouping import MARK_ID
from notifier.runtime import Runtime
from tests.sql_sent import statements_sent

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _fill(runtime: Runtime) -> list[int]:
    async with runtime.sessions() as session:
        session.add_all(School(id=f"s{n}", name=f"Школа {n}", timezone="UTC") for n in range(5))
        events = [
            JournalEvent(
                source="/journal/test",
                event_id=f"e{n}",
                type="journal.mark.created",
                data={"mark_id": f"m{n}", "student_id": "p1"},
                received_at=NOW,
                status=EventStatus.planned,
            )
            for n in range(3)
        ]
        session.add_all(events)
        await session.commit()
        return [e.pk for e in events]


async def test_the_rows_of_a_list_of_strings_or_ints_and_none_of_an_empty_one(
    runtime: Runtime,
) -> None:
    pks = await _fill(runtime)
    async with runtime.sessions() as session:

        async def schools(values: Any) -> list[str]:
            found = await session.scalars(
                select(School.id).where(among(session, School.id, values))
            )
            return sorted(found)

        assert await schools({"s1", "s3", "nobody"}) == ["s1", "s3"]
        assert await schools(["s0", "s0", "s4"]) == ["s0", "s4"]
        assert await schools([]) == []
        assert await schools(f"s{n}" for n in range(5)) == [f"s{n}" for n in range(5)]
        some = await session.scalars(
            select(JournalEvent.pk).where(among(session, JournalEvent.pk, [*pks[1:], 10**9]))
        )
        assert sorted(some) == pks[1:]
        others = await session.scalars(
            select(JournalEvent.pk).where(~among(session, JournalEvent.pk, pks[:1]))
        )
        assert sorted(others) == pks[1:]
        # An expression on the left: the mark id in an event's JSON.
        marks = await session.scalars(
            select(JournalEvent.event_id).where(among(session, MARK_ID, ["m0", "m2"]))
        )
        assert sorted(marks) == ["e0", "e2"]


async def test_on_sqlite_every_length_of_list_is_one_statement_with_one_parameter(
    runtime: Runtime,
) -> None:
    await _fill(runtime)
    if runtime.engine.dialect.name != "sqlite":
        return  # PostgreSQL: SQLAlchemy's IN, a parameter per value
    with statements_sent(runtime) as sent:
        async with runtime.sessions() as session:
            for n in (1, 3, 5, 40_000):  # past SQLite's default limit of parameters
                values = [f"s{i}" for i in range(n)]
                found = await session.scalars(
                    select(School.id).where(among(session, School.id, values))
                )
                assert len(list(found)) == min(n, 5)
    assert len({statement for statement, _ in sent}) == 1, sent
    assert all(len(params) == 1 for _, params in sent), [len(p) for _, p in sent]


_SCHOOLS = Built(lambda among: select(School.id).where(among(School.id, "ids")))
_EVENTS_BUT = Built(
    lambda among: select(JournalEvent.event_id).where(
        among(MARK_ID, "marks"), ~among(JournalEvent.pk, "left_out")
    )
)


async def test_a_statement_built_once_takes_its_lists_as_parameters(runtime: Runtime) -> None:
    pks = await _fill(runtime)
    with statements_sent(runtime) as sent:
        async with runtime.sessions() as session:
            statement, among = _SCHOOLS.of(session)
            assert _SCHOOLS.of(session)[0] is statement  # built once, used again

            async def schools(values: Any) -> list[str]:
                found = await session.scalars(statement, {"ids": among.value(values)})
                return sorted(found)

            assert await schools({"s1", "s3", "nobody"}) == ["s1", "s3"]
            assert await schools(f"s{n}" for n in range(5)) == [f"s{n}" for n in range(5)]
            assert await schools([]) == []
            # execute(): the lists by name, each as the database takes it.
            found = (
                await _EVENTS_BUT.execute(session, marks=["m0", "m1", "m2"], left_out=pks[1:2])
            ).scalars()
            assert sorted(found) == ["e0", "e2"]
    if runtime.engine.dialect.name == "sqlite":  # one text, one JSON parameter, whatever the list
        school_statements = {statement for statement, _ in sent if "schools" in statement}
        assert len(school_statements) == 1, sent
        assert all(len(params) == 1 for statement, params in sent if "schools" in statement)


_SCHOOL_OBJECTS = Built(lambda among: select(School).where(among(School.id, "ids")))
_RENAME = Built(
    lambda among: update(School).where(among(School.id, "ids")).values(name=bindparam("name"))
)


async def test_a_built_statement_gives_objects_when_it_selects_them_and_rows_otherwise(
    runtime: Runtime,
) -> None:
    await _fill(runtime)
    async with runtime.sessions() as session:
        objects = (await _SCHOOL_OBJECTS.execute(session, ids=["s1", "s2"])).scalars().all()
        assert sorted(s.id for s in objects) == ["s1", "s2"]
        assert all(isinstance(s, School) for s in objects)
        assert (await _SCHOOLS.execute(session, ids=["s3"])).all() == [("s3",)]
        # On the session's connection: an UPDATE of rows, in the session's transaction.
        await _RENAME.execute(session, {"name": "Лицей"}, ids=["s1", "s4"])
        await session.commit()
    async with runtime.sessions() as session:
        named = await session.execute(select(School.id, School.name).order_by(School.id))
        assert [name for _, name in named] == ["Школа 0", "Лицей", "Школа 2", "Школа 3", "Лицей"]
