"""A throwaway PostgreSQL for tests, or the one named by NOTIFIER_TEST_POSTGRES_URL."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from notifier.embedded import die_with_parent, free_port

ENV_URL = "NOTIFIER_TEST_POSTGRES_URL"
DATABASE = "notifier_test"
_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_START_ATTEMPTS = 3
_PREFIX = "notifier-pg-"
_OWNER = "owner.pid"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

T = TypeVar("T")


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    # A private loop in a private thread: callers may be sync fixtures or already
    # inside a running loop, where asyncio.run() would refuse.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _asyncpg_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def create_database(url: str, name: str) -> str:
    """Create (or recreate, empty) database `name` on the server of `url`; return its URL."""
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")

    async def create() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            # A server named by the env var outlives test runs: start from empty.
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run(create)
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def find_postgres_bin() -> Path:
    """Directory holding initdb and postgres: PATH, Debian's layout, then `pgserver`."""
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb and postgres:
        return Path(postgres).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.submodule_search_locations:
        candidates += [Path(loc) / "pginstall" / "bin" for loc in spec.submodule_search_locations]
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL binaries (initdb, postgres) not found: install them "
        "(`apt install postgresql`, or `pip install pgserver` on Python 3.11 or 3.12) "
        f"or set {ENV_URL}=postgresql+asyncpg://user@host:port/db"
    )


def _sweep_orphans(base: Path) -> None:
    """Remove temp dirs of test runs that were killed before they could clean up."""
    for tmp in base.glob(f"{_PREFIX}*"):
        try:
            owner = int((tmp / _OWNER).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being set up
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            # Its postgres got SIGINT from PDEATHSIG when the owner died.
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            continue


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


class PostgresServer:
    """PostgreSQL in a temp dir, tuned for speed over durability; `start()` gives a URL."""

    def __init__(self, settings: dict[str, str] | None = None, *, port: int | None = None) -> None:
        # Extra server settings (`-c name=value`), e.g. shared_preload_libraries.
        self.settings = dict(settings or {})
        self._port = port  # None: a free one
        self.url: str | None = None
        self.tmp: Path | None = None
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._user: pwd.struct_passwd | None = None

    def start(self) -> str:
        if self.url is not None:
            return self.url
        external = os.environ.get(ENV_URL)
        if external:
            self.url = external
            return external
        bindir = find_postgres_bin()
        self._user = self._run_as()
        self._make_dirs()
        self._initdb(bindir)
        last_error: RuntimeError | None = None
        for _ in range(_START_ATTEMPTS):
            try:
                self._spawn(bindir, port=self._port)
                _run(self._wait_ready)
            except RuntimeError as exc:
                # Most likely the free port was taken in between: try another.
                last_error = exc
                self._terminate()
                continue
            server_url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
            self.url = create_database(server_url, DATABASE)
            return self.url
        self.stop()
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """Fast shutdown (SIGINT) and remove the temp dir. Safe to call twice."""
        self._terminate()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        self.url = None

    def halt(self) -> None:
        """Stop the server (fast shutdown: sessions are ended, committed work is kept) but keep
        its data directory and port, for `resume()`: a database restart as clients see it."""
        if self.tmp is None:
            raise RuntimeError("only a server this object started can be halted")
        self._terminate()

    def begin_smart_shutdown(self) -> None:
        """SIGTERM: the server waits for its open sessions to end and meanwhile refuses every
        new connection with 57P03 "the database system is shutting down". `halt()` ends it."""
        if self._proc is None:
            raise RuntimeError("the server is not running")
        self._proc.send_signal(signal.SIGTERM)

    def resume(self) -> None:
        """Start the halted server again on the same port and data directory."""
        if self.tmp is None or self.port is None:
            raise RuntimeError("halt() a started server first")
        self._spawn(find_postgres_bin(), port=self.port)
        _run(self._wait_ready)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @staticmethod
    def _run_as() -> pwd.struct_passwd | None:
        # initdb and postgres refuse to run as root, and CI runs as root.
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise RuntimeError("running as root and neither user 'postgres' nor 'nobody' exists")

    def _make_dirs(self) -> None:
        # Under /tmp when root: the unprivileged user must be able to traverse the parents.
        base = Path("/tmp" if self._user else tempfile.gettempdir())
        _sweep_orphans(base)
        self.tmp = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=base))
        self.tmp.chmod(0o755)
        (self.tmp / _OWNER).write_text(f"{os.getpid()}\n")
        (self.tmp / "sock").mkdir()
        if self._user:
            for path in (self.tmp, self.tmp / "sock"):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _preexec(self, sig: int) -> Callable[[], None] | None:
        death = die_with_parent(sig)
        user = self._user
        if user is None:
            return death

        def preexec() -> None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            # After setuid: changing credentials clears the parent-death signal.
            if death is not None:
                death()

        return preexec

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self._user:
            env.update(HOME=str(self.tmp), USER=self._user.pw_name, LOGNAME=self._user.pw_name)
        return env

    def _initdb(self, bindir: Path) -> None:
        assert self.tmp is not None
        data = self.tmp / "data"
        output = b""
        for locale in ("C.UTF-8", "C"):
            shutil.rmtree(data, ignore_errors=True)
            argv = [
                str(bindir / "initdb"),
                "-D", str(data),
                "-U", "postgres",
                "--auth=trust",
                "-E", "UTF8",
                f"--locale={locale}",
                "--no-sync",
            ]  # fmt: skip
            result = subprocess.run(
                argv,
                cwd=self.tmp,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                preexec_fn=self._preexec(signal.SIGTERM),
                check=False,
            )
            if result.returncode == 0:
                return
            output = result.stdout
        raise RuntimeError(f"initdb failed:\n{output.decode(errors='replace')[-2000:]}")

    def _spawn(self, bindir: Path, port: int | None = None) -> None:
        assert self.tmp is not None
        self.port = port or free_port()
        if self._log is None:
            self._log = (self.tmp / "postgres.log").open("ab")
        argv = [
            str(bindir / "postgres"),
            "-D", str(self.tmp / "data"),
            "-k", str(self.tmp / "sock"),
            "-p", str(self.port),
            "-h", "127.0.0.1",
            # A throwaway cluster: durability only costs test time.
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=200",
            *(f"-c{name}={value}" for name, value in self.settings.items()),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            argv,
            cwd=self.tmp,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own session so a Ctrl-C reaches pytest (which tears down) and not postgres.
            start_new_session=True,
            preexec_fn=self._preexec(signal.SIGINT),
        )

    async def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None
        dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with code {proc.returncode}:\n{self._log_tail()}"
                )
            try:
                conn = await asyncpg.connect(dsn, timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError):
                await asyncio.sleep(0.1)
                continue
            try:
                await conn.fetchval("SELECT 1")
                return
            finally:
                await conn.close()
        raise RuntimeError(
            f"postgres did not accept connections within {_READY_TIMEOUT:.0f}s:\n{self._log_tail()}"
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, chars: int = 2000) -> str:
        if self.tmp is None:
            return "(no log)"
        try:
            return (self.tmp / "postgres.log").read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"
