"""The processes of a run: `notifier serve` and the arq workers, the channel servers
(bench/sinks.py), and the CPU and memory they use."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from notifier.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Sink:
    """One channel server in its own process (bench/sinks.py)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sinks", kind],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.address: dict[str, Any] = json.loads(self._line())

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} sink exited")
        return line

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self._line())
        return reply

    def records(self, folder: Path) -> list[tuple[str, str, float]]:
        path = folder / f"{self.kind}.json"
        self.ask(f"dump {path}")
        return [tuple(r) for r in json.loads(path.read_text(encoding="utf-8"))]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
            except (OSError, RuntimeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def consumer_children(pid: int) -> list[int]:
    """A worker's consumer processes (NOTIFIER_CONSUMER=process: multiprocessing's spawn
    children, not its resource tracker)."""
    found = []
    for child in children(pid):
        proc = Path(f"/proc/{child}")
        try:
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
            command = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if state != "Z" and b"spawn_main" in command:
            found.append(child)
    return found


def children(pid: int) -> list[int]:
    """Every child of a process (a worker's consumer, multiprocessing's resource tracker):
    each of its threads lists the children it started."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes (the postmaster and its backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU seconds used by each part of the system (our processes, the servers, the bench)."""

    def __init__(self, parts: dict[str, list[int]], postgres: bool) -> None:
        self.parts = parts
        self.postgres = postgres
        self._start: dict[str, float] = {}
        self._t = 0.0

    def _read(self) -> dict[str, float]:
        parts = dict(self.parts)
        if self.postgres:
            parts["postgres"] = postgres_pids()
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in parts.items()}

    def start(self) -> None:
        self._start = self._read()
        self._t = time.monotonic()

    def used(self) -> dict[str, float]:
        """CPU seconds used by each part since start()."""
        now = self._read()
        return {name: now[name] - self._start.get(name, 0.0) for name in now}

    def shares(self) -> dict[str, float]:
        """Cores used by each part since start() (1.0 = one core busy all the time)."""
        wall = time.monotonic() - self._t
        return {name: seconds / wall for name, seconds in self.used().items()}


def _proc_mb(path: str, field: str) -> float | None:
    """A `<field> <n> kB` line of a /proc file, in MB; None when the process or the line is
    gone (a process that ended, a zombie's empty smaps)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def peak_rss_mb(pid: int) -> float:
    mb = _proc_mb(f"/proc/{pid}/status", "VmHWM:")
    return float("nan") if mb is None else mb


def pss_mb(pid: int) -> float:
    """A process's proportional set size now: its own pages, and its share of each page it
    maps with others (the interpreter's, the libraries' files, a forked parent's); 0 when it
    is gone."""
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:") or 0.0


def group_pss_mb(pid: int) -> float:
    """A process's PSS with all its children's."""
    return sum(map(pss_mb, [pid, *children(pid)]))


class PssSampler:
    """The largest worker's proportional set size with all its children, sampled while the
    bench runs. The kernel keeps a process's peak RSS (VmHWM), but a sum of RSS counts every
    page two processes share twice; PSS splits a shared page between them, so a worker and its
    children add up to the memory they take. Sampled, it can miss a peak between samples."""

    INTERVAL = 0.25

    def __init__(self, workers: list[int]) -> None:
        self.workers = workers
        self.peak_mb = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            for pid in self.workers:
                self.peak_mb = max(self.peak_mb, await asyncio.to_thread(group_pss_mb, pid))
            await asyncio.sleep(self.INTERVAL)

    async def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.peak_mb


class Service:
    """`notifier serve` and N arq workers, configured by environment as an operator would."""

    def __init__(self, env: dict[str, str], workers: int, logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.api_port = int(env["NOTIFIER_HTTP_PORT"])
        self.api = self._spawn([str(BIN / "notifier"), "serve"], "api")
        self.metrics_ports = [free_port() for _ in range(workers)]
        self.workers = [
            self._spawn(
                [str(BIN / "arq"), "worker.WorkerSettings"],
                f"worker{i}",
                NOTIFIER_WORKER_METRICS_PORT=str(port),
            )
            for i, port in enumerate(self.metrics_ports)
        ]

    def _spawn(self, args: list[str], name: str, **env: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as out:
            return subprocess.Popen(
                args, cwd=ROOT, env=self.env | env, stdout=out, stderr=subprocess.STDOUT
            )

    async def sent_by_metrics(self) -> float:
        """Messages the workers' own /metrics say they sent (a cross-check of the count)."""
        total = 0.0
        async with aiohttp.ClientSession() as http:
            for port in self.metrics_ports:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                    for family in text_string_to_metric_families(await r.text()):
                        for sample in family.samples:
                            if (
                                sample.name == "notifier_messages_total"
                                and sample.labels.get("outcome") == "sent"
                            ):
                                total += sample.value
        return total

    async def ready(self, timeout: float = 60) -> None:  # noqa: ASYNC109
        """The API answers /readyz and every worker has run its first job (after startup)."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                self.check()
                try:
                    async with http.get(f"http://127.0.0.1:{self.api_port}/readyz") as r:
                        api = r.status == 200
                except aiohttp.ClientError:
                    api = False
                started = sum(
                    "worker.started" in (self.logs / f"worker{i}.log").read_text()
                    for i in range(len(self.workers))
                )
                if api and started == len(self.workers):
                    return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the service did not start; see {self.logs}")

    def check(self) -> None:
        for proc in [self.api, *self.workers]:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}; see {self.logs}")

    def pids(self) -> dict[str, list[int]]:
        """The API's, and the workers' with their consumer processes, if any."""
        workers = [w.pid for w in self.workers]
        return {
            "api": [self.api.pid],
            "workers": workers + [c for pid in workers for c in consumer_children(pid)],
        }

    def memory(self) -> dict[str, float]:
        """Peak RSS; a worker's is its own plus its consumer process's, if it has one."""
        return {
            "api_peak_mb": peak_rss_mb(self.api.pid),
            "worker_peak_mb": max(
                peak_rss_mb(w.pid) + sum(peak_rss_mb(c) for c in consumer_children(w.pid))
                for w in self.workers
            ),
        }

    def stop(self) -> None:
        for proc in [self.api, *self.workers]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [self.api, *self.workers]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
