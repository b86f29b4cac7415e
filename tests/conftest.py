"""Fixtures over real servers: Redis, PostgreSQL (and SQLite files), an SMTP server, a local
Bot API server."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis as SyncRedis
from sqlalchemy import text

from notifier.api.app import create_app
from notifier.config import Settings
from notifier.db.engine import create_engine
from notifier.db.migrate import upgrade
from notifier.db.models import Base
from notifier.logs import quiet_libraries
from notifier.runtime import Runtime, build_runtime, run_until_idle
from tests.log_scan import Collector, Finding, process_logs, scan
from tests.servers.max import MaxApiServer
from tests.servers.postgres_server import PostgresServer
from tests.servers.redis_server import start_redis
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

ADMIN_TOKEN = "test-admin-token-0123456789abcdefghijkl"


class FakeClock:
    """An injectable clock: tests move time instead of sleeping."""

    # Noon in Moscow on a school day: outside every default quiet window.
    START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or self.START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    server = PostgresServer()
    url = server.start()
    upgrade(url)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that asks for the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "notifier.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
def redis_clean(redis_url: str) -> str:
    client = SyncRedis.from_url(redis_url)
    client.flushall()
    client.close()
    return redis_url


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bot_api() -> Iterator[BotApiServer]:
    """A local Bot API server for the test (tests/servers/telegram/)."""
    with BotApiServer() as server:
        yield server


@pytest.fixture
def max_api() -> Iterator[MaxApiServer]:
    """A local MAX Bot API server for the test (tests/servers/max/)."""
    with MaxApiServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, redis_clean: str, smtp: SmtpServer, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_clean,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        data_dir=tmp_path / "var",
        admin_token=ADMIN_TOKEN,
        email_from="school@notifier.test",
        retry_base_seconds=5,
        coalesce_seconds=0,  # tests of coalescing set their own window
        lease_seconds=30,
        stream_claim_idle_seconds=5,
    )


@pytest.fixture
async def runtime(settings: Settings, clock: FakeClock) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings, clock=clock)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def api(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://notifier.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        yield client


@pytest.fixture
def pump(runtime: Runtime) -> Any:
    """Run the consumer and the delivery until nothing is left to do at the clock's now."""

    async def run() -> None:
        await run_until_idle(runtime)

    return run


# The fixtures that start a Redis (tests/servers/redis_server.py): the session's, and the one
# the fault tests crash and restart.
REDIS_FIXTURES = frozenset({"redis_url", "aof_redis"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `-m redis`: the tests that talk to a Redis, which .ci/run runs a second time on the
    # embedded server (NOTIFIER_TEST_REDIS=embedded).
    for item in items:
        if REDIS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


# -- The whole run's logs, scanned for personal data and secrets (tests/log_scan.py) -----------

_LOGS = Collector()


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_LOGS)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)  # what production writes at its default level
    quiet_libraries()  # and the libraries' levels it sets


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_LOGS)
    config = session.config
    if _runs_workers(config):
        # Under `-n`, the tests and the processes they start ran in the workers, each of which
        # scanned its own lines (below) and sent the result here (pytest_testnodedown).
        counted, findings = _FROM_WORKERS.lines, _FROM_WORKERS.findings
    else:
        lines = list(_LOGS.lines)
        factory = getattr(config, "_tmp_path_factory", None)
        if factory is not None:
            lines.extend(process_logs(factory.getbasetemp()))
        counted, findings = len(lines), scan(lines)
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports for the run
            workeroutput["log_scan"] = {
                "lines": counted,
                "findings": [astuple(f) for f in findings],
            }
            return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"log scan: {counted} log lines of this run, {len(findings)} with personal data "
            "or secrets"
        )
        for finding in findings[:20]:
            reporter.write_line(f"  {finding.where}: {finding.what}: {finding.line}")
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@dataclass
class _WorkersScan:
    lines: int = 0
    findings: list[Finding] = field(default_factory=list)


_FROM_WORKERS = _WorkersScan()


def _runs_workers(config: pytest.Config) -> bool:
    """Whether this is xdist's controller, whose workers run the tests."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))


@pytest.hookimpl(optionalhook=True)  # xdist's hook: only called when it runs the suite
def pytest_testnodedown(node: Any, error: object) -> None:
    report = getattr(node, "workeroutput", {}).get("log_scan")
    if report is None:  # a worker that crashed sent none; its tests are reported failed
        return
    _FROM_WORKERS.lines += report["lines"]
    _FROM_WORKERS.findings.extend(Finding(*f) for f in report["findings"])
