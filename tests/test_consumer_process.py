"""`NOTIFIER_CONSUMER=process`: an arq worker runs its stream consumer in a child process.
Events still reach the parent, the worker's /metrics still counts them, a child that dies is
started again, and no child outlives its worker, stopped or killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from bench.region.processes import consumer_children
from notifier.embedded import free_port
from tests.factories import mark, post_structured, pupil_with_guardian, school_with_class
from tests.processes import BIN, ROOT, pid_alive, spawn, worker_env
from tests.servers.smtp_server import SmtpServer

T = TypeVar("T")


async def _eventually(check: Callable[[], T], seconds: float = 60) -> T:
    """`check()` once it is truthy, polled for up to `seconds`; else its last value."""
    deadline = time.monotonic() + seconds
    while not (found := check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return found


async def _one_consumer(worker: subprocess.Popen[bytes], log: Path, *, besides: int = 0) -> int:
    """The worker's consumer process (besides one that was killed)."""

    def found() -> list[int]:
        assert worker.poll() is None, log.read_text()[-3000:]
        return [pid for pid in consumer_children(worker.pid) if pid != besides]

    children = await _eventually(found)
    assert len(children) == 1, children
    return children[0]


async def test_events_consumed_in_a_child_process_reach_the_parent_and_are_counted(
    api: httpx.AsyncClient, smtp: SmtpServer, settings, tmp_path: Path
) -> None:
    await school_with_class(api, quiet=False)  # the worker runs on the real clock
    await pupil_with_guardian(api, "st-1", "g-1")
    metrics_port = free_port()
    env = worker_env(settings, smtp, consumer="process", worker_metrics_port=str(metrics_port))
    log = tmp_path / "worker.log"
    worker = spawn([str(BIN / "arq"), "worker.WorkerSettings"], cwd=ROOT, env=env, log=log)
    try:
        child = await _one_consumer(worker, log)
        await post_structured(api, mark("st-1", value="5"))
        await smtp.wait_for(1, timeout=30)
        # The child's counts, on the worker's /metrics (the child serves none).
        wanted = (
            "notifier_events_in_total"
            '{outcome="accepted",type="journal.mark.created",via="stream"} 1.0'
        )
        scrape = ""
        deadline = time.monotonic() + 10
        async with httpx.AsyncClient() as client:
            while wanted not in scrape and time.monotonic() < deadline:
                scrape = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                await asyncio.sleep(0.2)
        assert wanted in scrape, [line for line in scrape.splitlines() if "events_in" in line]
        assert "notifier_notifications_planned_total{" in scrape
        assert 'notifier_messages_total{channel="email",outcome="sent"} 1.0' in scrape
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert worker.returncode == 0, log.read_text()[-3000:]
    assert await _eventually(lambda: not pid_alive(child), 30), (
        "the consumer outlived its stopped worker"
    )
    assert len(smtp.messages) == 1
    assert "consumer.process_started" in log.read_text()


async def test_a_dead_consumer_child_is_replaced_and_none_outlives_a_killed_worker(
    api: httpx.AsyncClient, smtp: SmtpServer, settings, tmp_path: Path
) -> None:
    await school_with_class(api, quiet=False)
    await pupil_with_guardian(api, "st-1", "g-1")
    log = tmp_path / "worker.log"
    worker = spawn(
        [str(BIN / "arq"), "worker.WorkerSettings"],
        cwd=ROOT,
        env=worker_env(settings, smtp, consumer="process"),
        log=log,
    )
    try:
        first = await _one_consumer(worker, log)
        os.kill(first, signal.SIGKILL)  # an OOM kill, say
        second = await _one_consumer(worker, log, besides=first)
        assert "consumer.process_exited" in log.read_text()
        await post_structured(api, mark("st-1", value="4"))
        await smtp.wait_for(1, timeout=30)
    finally:
        worker.kill()  # SIGKILL: the worker gets no chance to stop its child
        worker.wait(timeout=10)
    assert await _eventually(lambda: not pid_alive(second), 30), (
        "the consumer outlived its killed worker"
    )
    assert len(smtp.messages) == 1
