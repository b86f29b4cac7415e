"""SQLite's writers take turns on a file lock (notifier/db/sqlite_turns.py): a transaction holds
the turn from its first write to its end, reads take none, and a writer waiting for it goes on
when the holder's transaction ends. What it does for the latency with three workers is
bench.region's to show (docs/scaling.md)."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.db import turn_watch
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


def test_a_long_wait_for_the_turn_is_logged_with_who_holds_it(
    database: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A holder that keeps the turn (here another open file of this process, as a stuck
    process would) is named in the log while a writer waits, and the wait's end is logged."""
    monkeypatch.setattr(turn_watch, "WARN_SECONDS", 0.3)
    caplog.set_level(logging.INFO, logger=turn_watch.__name__)
    holder = os.open(lock_path(str(database)), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    writer = _connect(database, check_same_thread=False)
    done = threading.Event()

    def write() -> None:
        writer.execute("INSERT INTO t VALUES (1)")
        writer.commit()
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for _ in range(100):  # the watch looks once a second (CHECK_SECONDS)
            if any(r.message == "sqlite.turn_waiting" for r in caplog.records):
                break
            done.wait(0.05)
        (waiting,) = [r for r in caplog.records if r.message == "sqlite.turn_waiting"]
        assert waiting.levelno == logging.WARNING
        assert waiting.holder_pid == (os.getpid() if Path(turn_watch.PROC_LOCKS).exists() else None)
        assert waiting.seconds >= 0.3
        assert not done.is_set()
    finally:
        os.close(holder)  # gives the lock back
        thread.join(10)
    assert done.is_set()
    (taken,) = [r for r in caplog.records if r.message == "sqlite.turn_taken"]
    assert taken.seconds >= 0.3
    writer.close()


def test_a_turn_taken_at_once_or_soon_logs_nothing(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=turn_watch.__name__)
    first, second = _connect(database), _connect(database, check_same_thread=False)
    first.execute("INSERT INTO t VALUES (1)")

    def write() -> None:
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    first.commit()
    thread.join(10)
    assert not thread.is_alive()
    assert [r.message for r in caplog.records if r.name == turn_watch.__name__] == []
    first.close()
    second.close()


# Python 3.12+ warns of any fork beside threads; the child here runs only this test's code.
@pytest.mark.filterwarnings("ignore:This process .*is multi-threaded:DeprecationWarning")
def test_a_forked_child_watches_its_own_waits(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watch's thread is not forked with it: a child starts its own at its first wait."""
    monkeypatch.setattr(turn_watch, "WARN_SECONDS", 0.3)
    turn_watch.WATCH.end(turn_watch.WATCH.begin(-1))  # the parent's thread runs
    holder = os.open(lock_path(str(database)), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait for the turn, and say whether the wait was logged
        try:
            os.close(holder)  # its copy would hold the parent's lock (flock is per open file)
            os.close(read)
            seen: list[str] = []
            handler = logging.Handler()
            handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
            logging.getLogger(turn_watch.__name__).addHandler(handler)
            logging.getLogger(turn_watch.__name__).setLevel(logging.INFO)
            conn = _connect(database)
            conn.execute("INSERT INTO t VALUES (1)")
            conn.commit()
            os.write(write, " ".join(seen).encode())
        finally:
            os._exit(0)
    os.close(write)
    time.sleep(1.5)  # past WARN_SECONDS and a look of the watch
    os.close(holder)
    os.waitpid(pid, 0)
    with os.fdopen(read) as said:
        assert said.read() == "sqlite.turn_waiting sqlite.turn_taken"


def test_the_holder_is_found_in_proc_locks(database: Path) -> None:
    if not Path(turn_watch.PROC_LOCKS).exists():
        pytest.skip("no /proc/locks here (not Linux)")
    fd = os.open(lock_path(str(database)), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        assert turn_watch.holder_pid(fd) is None  # open, not locked
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert turn_watch.holder_pid(fd) == os.getpid()
    finally:
        os.close(fd)


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
