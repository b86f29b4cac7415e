"""SQLite's writers take turns on a file lock (notifier/db/sqlite_turns.py): a transaction holds
the turn from its first write to its end, reads take none, and a writer waiting for it goes on
when the holder's transaction ends. What it does for the latency with three workers is
bench.region's to show (docs/scaling.md)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.db.engine import create_engine
from notifier.db.sqlite_turns import TakingTurns, lock_path, writes


def _turn_is_free(database: Path) -> bool:
    """Whether another open file could take the lock now (flock is per open file)."""
    fd = os.open(lock_path(str(database)), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing gives back a lock it took
    return True


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "turns.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
    yield path


def _connect(database: Path, **kwargs: object) -> TakingTurns:
    conn = sqlite3.connect(database, factory=TakingTurns, **kwargs)  # type: ignore[call-overload]
    assert isinstance(conn, TakingTurns)
    return conn


def test_a_write_holds_the_turn_until_its_transaction_ends(database: Path) -> None:
    conn = _connect(database)
    conn.execute("SELECT count(*) FROM t").fetchall()
    assert _turn_is_free(database)  # reads take no turn
    conn.execute("INSERT INTO t VALUES (1)")
    assert not _turn_is_free(database)
    conn.execute("SELECT count(*) FROM t").fetchall()
    assert not _turn_is_free(database)  # still the same transaction
    conn.commit()
    assert _turn_is_free(database)

    conn.executemany("UPDATE t SET x = ?", [(2,), (3,)])
    assert not _turn_is_free(database)
    conn.rollback()
    assert _turn_is_free(database)

    conn.execute("DELETE FROM t")
    conn.close()
    assert _turn_is_free(database)
    conn.close()  # again, as sqlite3 allows


def test_a_write_outside_a_transaction_gives_the_turn_back_at_once(database: Path) -> None:
    conn = _connect(database, isolation_level=None)  # autocommit: each statement commits
    conn.execute("INSERT INTO t VALUES (1)")
    assert _turn_is_free(database)
    conn.close()


def test_a_waiting_writer_goes_on_when_the_holder_commits(database: Path) -> None:
    first, second = _connect(database), _connect(database, check_same_thread=False)
    first.execute("INSERT INTO t VALUES (1)")
    started, done = threading.Event(), threading.Event()

    def write() -> None:
        started.set()
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert started.wait(5)
    # Blocked on the turn, not failing on SQLite's lock after its busy timeout.
    assert not done.wait(0.3)
    first.commit()
    thread.join(10)
    assert done.is_set()
    assert [x for (x,) in first.execute("SELECT x FROM t ORDER BY rowid")] == [1, 2]
    first.close()
    second.close()


async def test_the_services_engine_takes_turns(database: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            assert _turn_is_free(database)
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert not _turn_is_free(database)
            await conn.commit()
            assert _turn_is_free(database)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("INSERT INTO t VALUES (?)", True),
        ("  update t set x = 1", True),
        ("DELETE FROM t", True),
        ("CREATE INDEX ix ON t (x)", True),
        ("WITH picked AS MATERIALIZED (SELECT id FROM n) UPDATE n SET a = 1 RETURNING id", True),
        ("WITH s AS (SELECT 1) SELECT * FROM s", False),
        ("SELECT x FROM t WHERE x IN (?, ?)", False),
        ("PRAGMA journal_mode=WAL", False),
    ],
)
def test_which_statements_write(sql: str, expected: bool) -> None:
    assert writes(sql) is expected
