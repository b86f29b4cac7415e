"""The fault tests' harness: our commands in child processes (started, killed, started again),
waiting for a condition with a deadline, and the figures each test reports."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from notifier.embedded import die_with_parent, free_port
from tests.conftest import ADMIN_TOKEN
from tests.processes import BIN, env_with, spawn
from tests.servers.smtp_server import SmtpServer

log = logging.getLogger("tests.faults")
log.setLevel(logging.INFO)


class Proc:
    """One of our commands in a child process: started, killed, started again; each start
    writes its own log."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], tmp: Path, cwd: Path):
        self.name, self.args, self.env, self.tmp, self.cwd = name, args, env, tmp, cwd
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{name}-0.log"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        self.log = self.tmp / f"{self.name}-{self.starts}.log"
        # Killed with the test process, should that die before its fixtures can clean up.
        self.proc = spawn(
            self.args,
            cwd=self.cwd,
            env=self.env,
            log=self.log,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no chance to finish or record anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM (a clean shutdown), SIGKILL if it does not end in `timeout`."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            return None

    def tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.log.name} ---\n" + self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return f"--- {self.log.name}: no log ---"


def worker_env(database_url: str, redis_url: str, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    """The worker's environment: short leases and backoffs so that recovery is quick."""
    settings = {
        "database_url": database_url,
        "redis_url": redis_url,
        "smtp_host": smtp.host,
        "smtp_port": str(smtp.port),
        "email_from": "school@notifier.test",
        "coalesce_seconds": "0",
        "smtp_rate_per_second": "0",  # a local server: no rate limit
        "smtp_timeout": "5",
        "retry_base_seconds": "0.2",
        "retry_max_seconds": "1",
        "lease_seconds": "2",
        "stream_claim_idle_seconds": "1",
        # NOTIFIER_FAULT_LOG_LEVEL=DEBUG: every send in the workers' logs.
        "log_level": os.environ.get("NOTIFIER_FAULT_LOG_LEVEL", "INFO"),
    }
    settings.update(extra)
    return env_with(**settings)


def arq_worker(procs: Callable[..., Proc], env: dict[str, str]) -> Proc:
    """`notifier worker`: the arq worker that rides out Redis crashes (plain arq's command line,
    `arq worker.WorkerSettings`, ends on a connection lost inside its WATCH transactions)."""
    return procs("worker", [str(BIN / "notifier"), "worker"], env)


def notifier_serve(
    procs: Callable[..., Proc], tmp: Path, database_url: str, redis_url: str
) -> tuple[Proc, str]:
    port = free_port()
    env = env_with(
        database_url=database_url,
        redis_url=redis_url,
        admin_token=ADMIN_TOKEN,
        http_port=str(port),
        coalesce_seconds="0",
        data_dir=str(tmp / "var"),
    )
    serve = procs("serve", [str(BIN / "notifier"), "serve"], env, cwd=tmp)
    return serve, f"http://127.0.0.1:{port}"


async def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float,  # noqa: ASYNC109 - a deadline that names what did not happen
    what: str,
    every: float = 0.1,
    context: Callable[[], str] | None = None,
) -> None:
    """Poll `check` (sync or async) until it is true; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            extra = f"\n{context()}" if context else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s{extra}")
        await asyncio.sleep(every)


def report(title: str, **figures: Any) -> None:
    line = f"{title}: " + ", ".join(f"{name}={value}" for name, value in figures.items())
    print(f"\n[faults] {line}", flush=True)
    log.info(line)


def log_count(proc: Proc, needle: str) -> int:
    """Lines with `needle` in every log of `proc`'s starts."""
    return sum(
        line.count(needle)
        for n in range(1, proc.starts + 1)
        for line in (proc.tmp / f"{proc.name}-{n}.log").read_text(errors="replace").splitlines()
    )


def tails(*procs: Proc) -> Callable[[], str]:
    return lambda: "\n".join(p.tail() for p in procs)
