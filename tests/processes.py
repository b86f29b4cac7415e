"""Run our real commands as child processes, the way an operator starts them."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from notifier.config import Settings
from tests.servers.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def steady_port(host: str = "127.0.0.1") -> int:
    """A free TCP port below the kernel's ephemeral range, which the kernel never hands out by
    itself (to `bind(0)` or an outgoing connection): a server stopped and started again on it
    finds it still free, however busy the machine."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(100):
        port = random.randrange(20000, max(low, 20001))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def env_with(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    env.update({f"NOTIFIER_{k.upper()}": v for k, v in settings.items()})
    return env


def worker_env(settings: Settings, smtp: SmtpServer, **more: str) -> dict[str, str]:
    """The environment of a worker started as a process against a test's database, Redis and
    SMTP server: no coalescing, and a dead consumer's entries claimed after a second."""
    return env_with(
        database_url=settings.database_url,
        redis_url=settings.redis_url or "",
        smtp_host=smtp.host,
        smtp_port=str(smtp.port),
        coalesce_seconds="0",
        stream_claim_idle_seconds="1",
        **more,
    )


def pid_alive(pid: int) -> bool:
    """Whether the process runs (a zombie, exited and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"


def spawn(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=preexec_fn
        )


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


def run_bench(module: str, *args: str, timeout: float) -> str:
    """`python -m <module> <args>` from the checkout, as its README line says; its standard
    output, once it exited 0 (else the ends of both outputs, to see why)."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout
