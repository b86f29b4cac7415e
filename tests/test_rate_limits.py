"""Two worker processes share Telegram's limits through Redis: per bot token and per chat."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from notifier.config import Settings
from notifier.db.models import Consent, Guardian, GuardianStudent, School, SchoolClass, Student
from notifier.runtime import Runtime
from tests.factories import REAL_CLOCK, cloud_event, mark, post_batch
from tests.processes import BIN, ROOT, env_with, spawn
from tests.servers.telegram import BotApiServer

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
FAMILIES = 300


async def _linked_families(runtime: Runtime, bot_id: str) -> None:
    async with runtime.sessions() as s:
        s.add(
            School(
                id="s1",
                name="Школа",
                quiet_start="00:00",
                quiet_end="00:00",
                subscriptions=REAL_CLOCK,  # the workers run on the real clock
                # Nor a day's report: in the two hours before it, a guardian's news goes in one
                # message with it (delivery/policy), and p0's four would be one.
                day_report_time="00:00",
            )
        )
        s.add(SchoolClass(id="c1", school_id="s1", name="5А"))
        await s.flush()
        for i in range(FAMILIES):
            s.add(Student(id=f"p{i}", school_id="s1", class_id="c1", full_name=f"Ученик {i}"))
            s.add(
                Guardian(
                    id=f"g{i}",
                    full_name=f"Родитель {i}",
                    telegram_chat_id=str(900000 + i),
                    telegram_bot_id=bot_id,
                    locale="ru",
                )
            )
        await s.flush()
        for i in range(FAMILIES):
            s.add(GuardianStudent(guardian_id=f"g{i}", student_id=f"p{i}"))
            s.add(Consent(guardian_id=f"g{i}", document="Заявление"))
        await s.commit()


async def test_two_workers_never_exceed_the_bot_rate_nor_one_message_per_chat_second(
    api: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    bot_api: BotApiServer,
    tmp_path: Path,
) -> None:
    await _linked_families(runtime, bot_api.token.split(":")[0])
    # 300 chats once each, and three more messages (other categories) to one chat at once.
    events = [mark(f"p{i}") for i in range(FAMILIES)] + [
        cloud_event(
            "journal.attendance.recorded",
            {"student_id": "p0", "lesson_date": "2026-11-23", "status": "late"},
        ),
        cloud_event("journal.comment.created", {"student_id": "p0", "text": "Молодец"}),
        cloud_event(
            "journal.period_mark.created",
            {"student_id": "p0", "subject": "Химия", "period": "1", "value": "5"},
        ),
    ]
    assert (await post_batch(api, events)).status_code == 202
    env = env_with(
        database_url=settings.database_url,
        redis_url=str(settings.redis_url),
        telegram_token=bot_api.token,
        telegram_api_base=bot_api.base,
        telegram_rate_per_second="25",
        telegram_chat_interval_seconds="1",
        coalesce_seconds="0",
    )
    workers = [
        spawn(
            [str(BIN / "arq"), "worker.WorkerSettings"],
            cwd=ROOT,
            env=env,
            log=tmp_path / f"worker-{n}.log",
        )
        for n in range(2)
    ]
    try:
        await bot_api.wait_for_messages(len(events), timeout=90)
        await asyncio.sleep(1)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            proc.wait(timeout=30)
    logs = "\n".join((tmp_path / f"worker-{n}.log").read_text()[-2000:] for n in range(2))
    accepted = [m for m in bot_api.sent if m.accepted]
    assert len(accepted) == len(events), logs
    assert bot_api.max_per_second() <= 25
    assert bot_api.min_gap_per_chat() >= 1.0
    started = min(m.at for m in accepted)
    assert time.monotonic() - started > 0  # sanity: timestamps are monotonic seconds
