"""The day's card (SPEC §8 "Quiet defaults", a school option off by default): a mark that comes
after the day's report went, and before the evening, edits the report's Telegram or MAX
message instead of waiting for the evening's. Nothing sounds twice; nothing is lost when the
card cannot be edited.

The school keeps the quiet defaults; its report goes at 15:30 and its evening at 19:00. The
clock starts on Monday 23.11.2026 at 12:00 in Moscow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.config import Settings
from notifier.db.models import Guardian, JournalEvent, Notification
from notifier.db.states import RowStatus
from notifier.delivery.outbox import claim
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import cloud_event, mark, post_batch, pupil_with_guardian, put, put_school
from tests.servers.max import MaxApiServer
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer
from tests.test_quiet_defaults import at, corrected

CHAT = 7_700_001
MAX_USER = 4_100_077


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer, max_api: MaxApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0,
            "max_token": SecretStr(max_api.token),
            "max_api_base": max_api.base,
            "max_chat_interval_seconds": 0,
        }
    )


async def _family(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    *,
    edit: bool = True,
    messenger: str | None = "telegram",
) -> None:
    """Вера in 7Б, her mother reading Telegram (or MAX, or email only)."""
    body = {"name": "Школа № 17", "timezone": "Europe/Moscow", "edit_day_card": edit}
    await put_school(api, "s17", body, quiet_defaults=True)
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б"})
    await pupil_with_guardian(
        api, "st-1", "g-1", email="mum@parents.example.org", full_name="Орлова Вера Андреевна"
    )
    async with runtime.sessions() as session:
        guardian = await session.get(Guardian, "g-1")
        assert guardian is not None
        if messenger == "telegram":
            guardian.telegram_chat_id, guardian.telegram_bot_id = str(CHAT), str(bot_api.bot_id)
        elif messenger == "max":
            guardian.max_user_id = str(MAX_USER)
        await session.commit()


async def _report_at_1530(api: httpx.AsyncClient, clock: FakeClock, pump) -> None:  # type: ignore[no-untyped-def]
    await post_batch(api, [mark("st-1", subject="Алгебра", value="5", mark_id="algebra-5")])
    await pump()
    at(clock, 15, 30)
    await pump()


def _later_marks() -> list[dict[str, object]]:
    return [mark("st-1", subject="Физика", value="4", mark_id="physics-4")]


async def test_a_mark_after_the_report_edits_its_telegram_card(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api, runtime, bot_api)
    await _report_at_1530(api, clock, pump)
    [report] = bot_api.messages_to(CHAT)
    assert "Итоги дня" in report.plain and "Алгебра: 5" in report.plain
    card = report.message_id
    assert card is not None

    at(clock, 16, 10)
    await post_batch(api, _later_marks())
    await pump()
    at(clock, 16, 40)
    await post_batch(api, [corrected("algebra-5", "4", "5")])
    await pump()

    assert len(bot_api.messages_to(CHAT)) == 1  # no new message: the card was edited, twice
    assert len([c for c in bot_api.calls_to("editMessageText") if c.ok]) == 2
    now = bot_api.message_now(CHAT, card)
    assert now is not None and "edit_date" in now
    text = now["text"]
    assert "Итоги дня" in text and "Физика: 4" in text
    assert "Алгебра: 5 → 4 (исправлено)" in text and "Алгебра: 5\n" not in text, text

    at(clock, 19, 0)
    await pump()
    assert len(bot_api.messages_to(CHAT)) == 1  # the evening has nothing left to say
    assert smtp.messages == []
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(Notification)))
    assert {r.status for r in rows} == {RowStatus.sent}
    assert {r.channel for r in rows} == {"telegram"}


async def test_without_the_option_a_later_mark_waits_for_the_evening(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api, runtime, bot_api, edit=False)
    await _report_at_1530(api, clock, pump)
    at(clock, 16, 10)
    await post_batch(api, _later_marks())
    await pump()
    assert len(bot_api.messages_to(CHAT)) == 1
    assert bot_api.calls_to("editMessageText") == []
    at(clock, 19, 0)
    await pump()
    report, evening = bot_api.messages_to(CHAT)
    assert "Физика: 4" not in report.plain
    assert "Вечерняя сводка" in evening.plain and "Физика: 4" in evening.plain


async def test_a_report_that_went_by_email_cannot_be_edited_so_the_evening_has_it(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api, runtime, bot_api, messenger=None)
    await _report_at_1530(api, clock, pump)
    assert len(smtp.messages) == 1
    at(clock, 16, 10)
    await post_batch(api, _later_marks())
    await pump()
    assert len(smtp.messages) == 1
    at(clock, 19, 0)
    await pump()
    assert len(smtp.messages) == 2
    evening = smtp.messages[1].message.get_body(("plain",)).get_content()
    assert "Физика: 4" in evening


async def test_a_card_the_parent_deleted_sends_its_news_in_the_evening(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api, runtime, bot_api)
    await _report_at_1530(api, clock, pump)
    [report] = bot_api.messages_to(CHAT)
    async with httpx.AsyncClient() as client:  # the Bot API's own call, as a bot would make it
        deleted = await client.post(
            f"{bot_api.base}/bot{bot_api.token}/deleteMessage",
            json={"chat_id": CHAT, "message_id": report.message_id},
        )
    assert deleted.json()["ok"] is True
    at(clock, 16, 10)
    await post_batch(api, _later_marks())
    await pump()
    [refused] = bot_api.calls_to("editMessageText")
    assert not refused.ok
    assert len(bot_api.messages_to(CHAT)) == 1
    at(clock, 19, 0)
    await pump()
    _, evening = bot_api.messages_to(CHAT)
    assert "Вечерняя сводка" in evening.plain and "Физика: 4" in evening.plain


async def test_a_mark_after_the_report_edits_its_max_card_silently(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    max_api: MaxApiServer,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api, runtime, bot_api, messenger="max")
    await _report_at_1530(api, clock, pump)
    [report] = max_api.messages_to(MAX_USER)
    assert report.mid is not None
    at(clock, 16, 10)
    await post_batch(api, _later_marks())
    await pump()
    assert len(max_api.messages_to(MAX_USER)) == 1
    [edit] = max_api.edits_of(report.mid)
    assert edit.body.get("notify") is False
    assert "Алгебра: 5" in edit.plain and "Физика: 4" in edit.plain, edit.plain
    now = max_api.message(report.mid)
    assert now is not None and "Физика: 4" in now["body"]["text"]


async def test_one_edit_of_a_card_at_a_time(runtime: Runtime, clock: FakeClock) -> None:
    """Each edit renders the card from the rows sent so far: a second edit while one is out
    would leave the first one's news off the card, so the claim leaves it for later."""
    now = clock.now
    async with runtime.sessions() as session:
        event = await _stored_event(session)
        for lease in (now + timedelta(seconds=20), None):
            session.add(
                Notification(
                    event_pk=event,
                    guardian_id=f"g-{lease is None}",
                    student_id="st-1",
                    category="marks",
                    kind="mark_created",
                    status=RowStatus.pending,
                    due_at=now - timedelta(seconds=1),
                    lease_until=lease,
                    group_key="c:g-1",
                    mode="report",
                )
            )
        await session.commit()
    async with runtime.sessions() as session:
        assert not await claim(session=session, now=now, limit=10, lease=timedelta(seconds=30))
    clock.now = now + timedelta(seconds=21)  # the first edit's lease ran out: both go together
    async with runtime.sessions() as session:
        taken = await claim(session=session, now=clock.now, limit=10, lease=timedelta(seconds=30))
    assert len(taken.ids) == 2


async def _stored_event(session: AsyncSession) -> int:
    event = JournalEvent(
        source="/test",
        event_id="e-1",
        type="journal.mark.created",
        time=datetime(2026, 11, 23, 9, tzinfo=UTC),
        data=cloud_event("journal.mark.created", {})["data"],
        status="planned",
    )
    session.add(event)
    await session.flush()
    return event.pk
