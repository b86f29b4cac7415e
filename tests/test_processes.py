"""The real processes: `notifier up` on embedded defaults, an arq worker killed mid-way,
configuration errors, tokens."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from notifier.embedded import free_port
from notifier.runtime import Runtime
from tests.factories import mark, post_structured, pupil_with_guardian, school_with_class
from tests.processes import BIN, ROOT, env_with, pid_alive, spawn, wait_http, worker_env
from tests.servers.smtp_server import SmtpServer


def test_up_runs_on_embedded_defaults_and_cleans_up(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    proc = spawn(
        [str(BIN / "notifier"), "up"],
        cwd=tmp_path,
        log=log,
        env=env_with(
            http_port=str(port),
            admin_token="up-admin-token-0123456789abcdefghijklmn",
            coalesce_seconds="0",
        ),
    )
    try:
        wait_http(f"{base}/healthz", proc, log)
        assert httpx.get(f"{base}/readyz").json()["ready"] is True
        assert httpx.get(f"{base}/docs").status_code == 200
        auth = {"Authorization": "Bearer up-admin-token-0123456789abcdefghijklmn"}
        with httpx.Client(base_url=base, headers=auth) as api:
            for path, body in [
                # No quiet hours: this test must pass at any hour.
                (
                    "/v1/schools/s1",
                    {"name": "Школа", "quiet_hours": {"start": "00:00", "end": "00:00"}},
                ),
                ("/v1/classes/c1", {"school_id": "s1", "name": "5А"}),
                (
                    "/v1/students/p1",
                    {"school_id": "s1", "class_id": "c1", "full_name": "Сидоров Коля"},
                ),
                (
                    "/v1/guardians/g1",
                    {
                        "full_name": "Сидорова",
                        "email": "g1@mail.example.org",
                        "student_ids": ["p1"],
                    },
                ),
            ]:
                assert api.put(path, json=body).status_code == 200
            assert api.post("/v1/guardians/g1/consent", json={"document": "д"}).status_code == 201
            event = mark("p1", value="2")  # a 2 goes at once (the day's report is at 15:30)
            r = api.post(
                "/v1/events",
                content=json.dumps(event),
                headers={"Content-Type": "application/cloudevents+json"},
            )
            assert r.status_code == 202
        outbox = tmp_path / "var" / "outbox" / "email"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list(outbox.glob("*.eml")):
            time.sleep(0.1)
        [eml] = list(outbox.glob("*.eml"))
        assert b"g1@mail.example.org" in eml.read_bytes()
        redis_pid = int((tmp_path / "var" / "redis" / "embedded.pid").read_text())
        assert (tmp_path / "var" / "notifier.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, log.read_text()[-3000:]
    out = log.read_text()
    assert "docs" in out and "outbox" in out
    assert "worker.started consumer=True loop=uvloop" in out, out[-3000:]
    deadline = time.monotonic() + 5
    while pid_alive(redis_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(redis_pid), "the embedded Redis outlived `notifier up`"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("HTTP_PORT", "eighty"), ("DATABASE_URL", "mysql://x"), ("SMTP_TLS", "maybe")],
)
def test_bad_configuration_stops_with_one_line_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = subprocess.run(
        [str(BIN / "notifier"), "db", "upgrade"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env_with(**{variable.lower(): value}),
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"NOTIFIER_{variable}" in lines[0], result.stderr


def test_token_create_prints_a_token_stored_only_as_a_hash(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    env = env_with(database_url=f"sqlite+aiosqlite:///{db}")
    result = subprocess.run(
        [str(BIN / "notifier"), "token", "create", "--role", "integration"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("ntf_") and len(token) > 40
    assert token.encode() not in db.read_bytes()
    rows = sqlite3.connect(db).execute("SELECT role, token_hash FROM api_tokens").fetchall()
    assert rows[0][0] == "integration" and len(rows[0][1]) == 64
    teacher = subprocess.run(
        [str(BIN / "notifier"), "token", "create", "--role", "teacher"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert teacher.returncode == 2 and "--staff" in teacher.stderr


async def test_killing_the_worker_before_it_sends_loses_nothing(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, settings, tmp_path: Path
) -> None:
    await school_with_class(api, quiet=False)  # the workers run on the real clock
    await pupil_with_guardian(api, "st-1", "g-1")
    smtp.fail_next(451, times=10_000)  # the relay is busy: the worker plans but cannot send
    env = worker_env(
        settings, smtp, retry_base_seconds="0.2", retry_max_seconds="0.5", lease_seconds="2"
    )
    await post_structured(api, mark("st-1"))
    log_a = tmp_path / "worker-a.log"
    worker_a = spawn([str(BIN / "arq"), "worker.WorkerSettings"], cwd=ROOT, env=env, log=log_a)
    try:
        deadline = time.monotonic() + 30
        while smtp.attempts < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert smtp.attempts >= 2, log_a.read_text()[-3000:]
    finally:
        worker_a.kill()  # SIGKILL: no clean shutdown, no chance to finish anything
        worker_a.wait(timeout=10)
    assert smtp.messages == []
    smtp.clear()  # the relay recovers
    log_b = tmp_path / "worker-b.log"
    metrics_port = free_port()
    env["NOTIFIER_WORKER_METRICS_PORT"] = str(metrics_port)
    worker_b = spawn([str(BIN / "arq"), "worker.WorkerSettings"], cwd=ROOT, env=env, log=log_b)
    try:
        await smtp.wait_for(1, timeout=30)
        await asyncio.sleep(1.5)  # a second copy would arrive within this
        # The worker counts what it sent on its own /metrics.
        async with httpx.AsyncClient() as client:
            scrape = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'notifier_messages_total{channel="email",outcome="sent"} 1.0' in scrape
    finally:
        worker_b.send_signal(signal.SIGTERM)
        worker_b.wait(timeout=20)
    assert len(smtp.messages) == 1, log_b.read_text()[-3000:]
    assert "loop=uvloop" in log_b.read_text(), "arq's Worker made a loop of its own"


def test_notifier_bot_links_a_parent_by_long_polling(tmp_path: Path) -> None:
    """`notifier bot` as an operator runs it, against a local Bot API server."""
    import asyncio as aio

    from tests.servers.telegram import BotApiServer

    with BotApiServer() as bot_api:
        db = tmp_path / "n.db"
        env = env_with(
            database_url=f"sqlite+aiosqlite:///{db}",
            telegram_token=bot_api.token,
            telegram_api_base=bot_api.base,
            data_dir=str(tmp_path / "var"),
        )
        log = tmp_path / "bot.log"
        proc = spawn([str(BIN / "notifier"), "bot"], cwd=tmp_path, env=env, log=log)
        try:
            deadline = time.monotonic() + 30
            while bot_api.polls_waiting == 0 and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.05)
            bot_api.user_message(4242, "/help")
            aio.run(bot_api.wait_for_messages(1, timeout=15))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"no exit on SIGINT:\n{log.read_text()[-3000:]}") from None
        assert "/stop" in bot_api.messages_to("4242")[0].plain
        # The command menu, in Russian for everyone and in English for English users.
        menus = {c.params.get("language_code"): c.params for c in bot_api.calls_to("setMyCommands")}
        assert set(menus) == {None, "en"}
        ru, en = json.loads(menus[None]["commands"]), json.loads(menus["en"]["commands"])
        assert {"command": "marks", "description": "Оценки за эту неделю"} in ru
        assert {"command": "marks", "description": "This week's marks"} in en
