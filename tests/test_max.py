"""MAX as a channel: links, every kind of message, coalescing, corrections, quiet hours,
announcements, the weekly summary, MAX's limits and refusals, and its certificate."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trustme
from pydantic import SecretStr
from sqlalchemy import select

from bots.max.feed import Fed, feed
from notifier.channels.base import Messenger
from notifier.channels.max import TEXT_LIMIT, UNTRUSTED, fit
from notifier.config import Settings
from notifier.db.models import Guardian, LinkCode
from notifier.roster.chat_link import LinkThrottle, create_link_code, link_chat
from notifier.runtime import Runtime, build_runtime, run_until_idle
from notifier.summaries import plan_weekly
from tests.conftest import FakeClock
from tests.factories import (
    EVERYTHING_NOW,
    cloud_event,
    mark,
    post_batch,
    post_structured,
    pupil_with_guardian,
    school_with_class,
)
from tests.servers.max import MaxApiServer, SentMessage
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

USER = 4_100_001


@pytest.fixture
def settings(settings: Settings, max_api: MaxApiServer) -> Settings:
    return settings.model_copy(
        update={
            "max_token": SecretStr(max_api.token),
            "max_api_base": max_api.base,
            "max_chat_interval_seconds": 0.2,
        }
    )


async def link(
    api: httpx.AsyncClient,
    runtime: Runtime,
    max_api: MaxApiServer,
    guardian: str = "g-1",
    user: int = USER,
) -> str:
    """A school makes a MAX link; the parent opens it: MAX sends the bot `bot_started` with the
    code, and the bot links the user and confirms."""
    r = await api.post(f"/v1/guardians/{guardian}/max-link")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"] == f"https://max.ru/{max_api.username}?start={body['code']}"
    assert len(body["code"]) <= 128
    before = len(max_api.messages_to(user))
    assert await feed(runtime, max_api.bot_started(user, body["code"])) is Fed.handled
    [confirmation] = max_api.messages_to(user)[before:]
    assert "подключён" in confirmation.plain, confirmation.plain
    return str(body["code"])


def _after_link(max_api: MaxApiServer, user: int = USER) -> list[SentMessage]:
    """What the user got after the bot's confirmations of linking."""
    return [m for m in max_api.messages_to(user) if "подключён" not in m.plain]


async def _family(api: httpx.AsyncClient, **school: object) -> None:
    await school_with_class(api, **school)  # type: ignore[arg-type]
    await pupil_with_guardian(
        api, "st-1", "g-1", email="mum@parents.example.org", full_name="Соколова Вера Андреевна"
    )


async def _log(api: httpx.AsyncClient, guardian: str = "g-1") -> list[dict]:  # type: ignore[type-arg]
    return (await api.get(f"/v1/guardians/{guardian}/notifications")).json()["items"]


async def test_a_linked_guardian_gets_every_kind_by_max_only(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    assert (await api.get("/v1/guardians/g-1")).json()["max_linked"] is True
    events = [
        mark("st-1", value="4", subject="Физика"),
        cloud_event(
            "journal.homework.assigned",
            {
                "homework_id": "h1",
                "class_id": "7b",
                "subject": "История",
                "text": "Параграф 7",
                "due_date": "2026-11-25",
            },
        ),
        cloud_event(
            "journal.attendance.recorded",
            {"student_id": "st-1", "lesson_date": "2026-11-23", "status": "absent"},
        ),
        cloud_event(
            "journal.schedule.changed",
            {
                "class_id": "7b",
                "date": "2026-11-24",
                "change": "cancelled",
                "lesson_number": 3,
                "subject": "Музыка",
            },
        ),
        cloud_event(
            "journal.period_mark.created",
            {"student_id": "st-1", "subject": "Химия", "period": "1 четверть", "value": "5"},
        ),
        cloud_event(
            "journal.comment.created",
            {"student_id": "st-1", "text": "Молодец!", "teacher": "Иванова Н. П."},
        ),
        cloud_event(
            "journal.homework.updated",
            {
                "homework_id": "h1",
                "class_id": "7b",
                "subject": "История",
                "text": "Параграф 8",
                "due_date": "2026-11-26",
            },
        ),
    ]
    for event in events:  # one at a time: each is its own message
        assert (await post_batch(api, [event])).status_code == 202
        await pump()
    sent = _after_link(max_api)
    assert len(sent) == len(events) and all(m.accepted for m in sent)
    assert {(m.format, m.disable_link_preview) for m in sent} == {("html", True)}
    texts = "\n".join(m.plain for m in sent)
    for needle in ("Физика", "Параграф 7", "Музыка", "Химия", "Молодец!", "Параграф 8"):
        assert needle in texts
    assert all("Вера" in m.plain for m in sent)
    assert smtp.messages == []
    assert {e["channel"] for e in await _log(api)} == {"max"}


async def test_a_teachers_text_arrives_as_valid_markup_shown_literally(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, pump
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    nasty = "Сказал <b>громко</b> <script>alert(1)</script> & 2 < 3 **не жирно**"
    await post_structured(
        api,
        cloud_event(
            "journal.comment.created",
            {"student_id": "st-1", "text": nasty, "teacher": "<i>Иванова</i>"},
        ),
    )
    await pump()
    [message] = _after_link(max_api)
    assert nasty in message.plain
    assert "<i>Иванова</i>" in message.plain
    assert max_api.rejected == []


async def test_coalescing_and_corrections_reach_max_as_they_reach_email(
    api: httpx.AsyncClient, settings: Settings, max_api: MaxApiServer, clock: FakeClock
) -> None:
    # The consumer of this runtime plans what the API puts on the stream, with a 3 s window.
    runtime = build_runtime(settings.model_copy(update={"coalesce_seconds": 3}), clock=clock)
    try:
        await _family(api)
        await link(api, runtime, max_api)

        async def pump() -> None:
            await run_until_idle(runtime)

        # A burst, then a mark corrected within the window: one message with the final values.
        await post_structured(api, mark("st-1", subject="Алгебра", value="2", mark_id="m-1"))
        await post_structured(api, mark("st-1", subject="Физика", value="5", mark_id="m-2"))
        clock.advance(1)
        await post_structured(
            api,
            cloud_event(
                "journal.mark.updated",
                {"mark_id": "m-1", "student_id": "st-1", "subject": "Алгебра", "value": "4"},
            ),
        )
        await pump()
        assert _after_link(max_api) == []  # the window is still open
        clock.advance(3)
        await pump()
        [burst] = _after_link(max_api)
        assert "Алгебра" in burst.plain and "Физика" in burst.plain and "→" not in burst.plain
        # A day later the teacher corrects a mark already sent: a correction, old → new.
        clock.advance(24 * 3600)
        await post_structured(
            api,
            cloud_event(
                "journal.mark.updated",
                {
                    "mark_id": "m-2",
                    "student_id": "st-1",
                    "subject": "Физика",
                    "value": "3",
                    "changed_by": "Петрова А. В.",
                },
            ),
        )
        await pump()
        clock.advance(3)
        await pump()
        correction = _after_link(max_api)[-1]
        assert "5 → 3" in correction.plain and "Петрова А. В." in correction.plain
    finally:
        await runtime.close()


async def test_quiet_hours_hold_a_max_message_until_morning(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, clock: FakeClock, pump
) -> None:
    await _family(api, timezone="Asia/Vladivostok")
    await link(api, runtime, max_api)
    clock.now = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)  # 23:30 in Vladivostok
    await post_structured(api, mark("st-1"))
    await pump()
    assert _after_link(max_api) == []
    [entry] = await _log(api)
    assert entry["status"] == "scheduled" and entry["due_at"].startswith("2026-11-23T22:00:00")
    clock.now = datetime(2026, 11, 23, 22, 0, 1, tzinfo=UTC)
    await pump()
    await pump()
    assert len(_after_link(max_api)) == 1


async def test_an_announcement_from_the_api_reaches_max(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    r = await api.post(
        "/v1/announcements",
        json={"audience": {"class_ids": ["7b"]}, "text": "Родительское собрание в четверг"},
    )
    assert r.status_code == 201, r.text
    await pump()
    [message] = _after_link(max_api)
    assert "Родительское собрание в четверг" in message.plain
    assert smtp.messages == []
    report = (await api.get(f"/v1/announcements/{r.json()['id']}")).json()
    assert [g["status"] for g in report["guardians"]] == ["sent"]


async def test_the_weekly_summary_comes_to_max(
    api: httpx.AsyncClient,
    runtime: Runtime,
    max_api: MaxApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    events = [
        mark("st-1", mark_id="w1", subject="Химия", value="4", lesson_date="2026-11-23"),
        mark("st-1", mark_id="w2", subject="Химия", value="5", weight=3, lesson_date="2026-11-24"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await run_until_idle(runtime)
    clock.now = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # Saturday 19:00 in Moscow
    async with runtime.sessions() as session:
        assert await plan_weekly(session=session, now=clock.now) == 1
    await run_until_idle(runtime)
    summary = _after_link(max_api)[-1]
    assert "Итоги недели · Вера, 7Б" in summary.plain
    assert "Химия: 4 5 — ср. 4,50, взвеш. 4,75" in summary.plain
    assert smtp.messages == []


async def test_a_blocked_max_bot_falls_back_to_email_until_relinked(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    max_api.block(USER)
    await post_structured(api, mark("st-1", value="5"))
    await pump()
    tried = len(max_api.sent)
    await post_structured(api, mark("st-1", value="4"))
    await pump()
    assert len(smtp.messages) == 2  # that message and the next by email
    assert len(max_api.sent) == tried  # MAX is not tried again
    log = await _log(api)
    assert [e["channel"] for e in log] == ["email", "email"]
    assert log[1]["attempts"][0]["outcome"] == "permanent"
    assert "chat.denied" in log[1]["attempts"][0]["detail"]
    max_api.unblock(USER)
    await link(api, runtime, max_api)
    await post_structured(api, mark("st-1", value="3"))
    await pump()
    assert len(smtp.messages) == 2
    assert "3" in _after_link(max_api)[-1].plain


async def test_a_missing_chat_is_permanent_and_goes_by_the_next_channel(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    max_api.missing(user_id=USER)
    await post_structured(api, mark("st-1"))
    await pump()
    assert len(smtp.messages) == 1
    [entry] = await _log(api)
    assert entry["channel"] == "email"
    assert "chat.not.found" in entry["attempts"][0]["detail"]


async def test_429_and_5xx_are_retried_with_backoff_and_sent_once(
    api: httpx.AsyncClient,
    runtime: Runtime,
    max_api: MaxApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    max_api.fail_next(429)
    max_api.fail_next(503)
    max_api.fail_next(500)
    await post_structured(api, mark("st-1", value="5"))
    for _ in range(8):
        await pump()
        clock.advance(120)
    delivered = [m for m in _after_link(max_api) if m.accepted]
    assert len(delivered) == 1
    assert smtp.messages == []
    [entry] = await _log(api)
    outcomes = [a["outcome"] for a in entry["attempts"]]
    assert outcomes == ["transient", "transient", "transient", "sent"]
    assert entry["channel"] == "max"


async def test_one_chat_gets_at_most_two_messages_a_second(
    api: httpx.AsyncClient, settings: Settings, max_api: MaxApiServer, clock: FakeClock
) -> None:
    default = Settings.model_fields["max_chat_interval_seconds"].default
    runtime = build_runtime(
        settings.model_copy(update={"max_chat_interval_seconds": default}), clock=clock
    )
    try:
        await _family(api)
        await link(api, runtime, max_api)
        max_api.set_flood_limits(per_chat_per_second=2)
        await post_batch(
            api,
            [
                mark("st-1", value="5"),
                cloud_event("journal.comment.created", {"student_id": "st-1", "text": "Молодец"}),
                cloud_event(
                    "journal.attendance.recorded",
                    {"student_id": "st-1", "lesson_date": "2026-11-23", "status": "absent"},
                ),
                cloud_event(
                    "journal.period_mark.created",
                    {"student_id": "st-1", "subject": "Химия", "period": "1", "value": "5"},
                ),
                mark("st-1", value="4", subject="Физика"),
            ],
        )
        started = time.monotonic()
        await run_until_idle(runtime)
        sent = _after_link(max_api)
        assert len(sent) >= 3 and all(m.accepted for m in sent)  # MAX never had to refuse one
        assert time.monotonic() - started >= (len(sent) - 1) * default - 0.05
    finally:
        await runtime.close()


async def test_telegram_comes_first_then_max_unless_the_school_orders_otherwise(
    api: httpx.AsyncClient,
    settings: Settings,
    max_api: MaxApiServer,
    bot_api: BotApiServer,
    clock: FakeClock,
) -> None:
    both = settings.model_copy(
        update={"telegram_token": SecretStr(bot_api.token), "telegram_api_base": bot_api.base}
    )
    runtime = build_runtime(both, clock=clock)
    try:
        await _family(api)
        await link(api, runtime, max_api)
        async with runtime.sessions() as session:
            code, _ = await create_link_code(
                session=session,
                guardian_id="g-1",
                ttl=timedelta(days=1),
                now=clock(),
                by_token=None,
            )
            await link_chat(
                session=session,
                code=code,
                chat_id="700001",
                bot_id=bot_api.token.split(":")[0],
                now=clock(),
            )
        prefs = (await api.get("/v1/guardians/g-1/preferences")).json()
        assert prefs["channels"][:4] == ["telegram", "max", "email", "sms"]
        await post_structured(api, mark("st-1", value="5"))
        await run_until_idle(runtime)
        assert [e["channel"] for e in await _log(api)] == ["telegram"]
        r = await api.put(
            "/v1/schools/s17/subscriptions",
            json={"channels": ["max", "telegram", "email"], **EVERYTHING_NOW},
        )
        assert r.status_code == 200, r.text
        await post_structured(api, mark("st-1", value="4"))
        await run_until_idle(runtime)
        assert (await _log(api))[0]["channel"] == "max"  # the newest first
    finally:
        await runtime.close()


async def test_a_school_unlinks_a_guardians_max_at_once(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    assert (await api.delete("/v1/guardians/g-1/max")).status_code == 204
    assert (await api.get("/v1/guardians/g-1")).json()["max_linked"] is False
    await post_structured(api, mark("st-1"))
    await pump()
    assert _after_link(max_api) == []
    assert len(smtp.messages) == 1
    assert (await api.delete("/v1/guardians/g-1/max")).status_code == 204  # idempotent
    assert (await api.delete("/v1/guardians/nobody/max")).status_code == 404


async def test_a_new_max_code_voids_the_older_one_but_not_the_telegram_one(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer
) -> None:
    await _family(api)
    first = (await api.post("/v1/guardians/g-1/max-link")).json()["code"]
    await api.post("/v1/guardians/g-1/max-link")
    async with runtime.sessions() as session:
        with pytest.raises(Exception, match="newer code"):
            await link_chat(
                session=session,
                code=first,
                chat_id=str(USER),
                bot_id=None,
                now=runtime.clock(),
                messenger=Messenger.max,
            )


async def test_max_link_without_max_configured_says_what_to_set(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _family(api)
    runtime.channels.pop("max")
    r = await api.post("/v1/guardians/g-1/max-link")
    assert r.status_code == 409
    assert "NOTIFIER_MAX_TOKEN" in r.text


def test_a_long_message_fits_maxs_limit_without_broken_markup() -> None:
    short = "<b>Алгебра: 5</b>\nВера"
    assert fit(short) == short
    long = "<b>Объявление</b>\n" + ("Текст &amp; &lt;ещё&gt; " * 400)
    fitted = fit(long)
    assert len(fitted) <= TEXT_LIMIT and fitted.endswith("…")
    assert "<b>" not in fitted and "&amp;" in fitted  # plain text, still escaped for HTML


# -- The certificate (Russian Trusted Root CA) ---------------------------------------------


@pytest.fixture
def tls_max(tmp_path: Path) -> tuple[MaxApiServer, Path]:
    """The local MAX server over HTTPS, its certificate from a CA the system does not know."""
    ca = trustme.CA()
    server = MaxApiServer()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.ssl_context = context
    bundle = tmp_path / "russian-trusted-root.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return server, bundle


async def test_an_untrusted_certificate_says_what_to_install_and_the_ca_file_fixes_it(
    api: httpx.AsyncClient,
    settings: Settings,
    smtp: SmtpServer,
    clock: FakeClock,
    tls_max: tuple[MaxApiServer, Path],
) -> None:
    server, bundle = tls_max
    with server:
        base = f"https://127.0.0.1:{server.port}"
        await _family(api)
        untrusted = settings.model_copy(
            update={"max_token": SecretStr(server.token), "max_api_base": base}
        )
        runtime = build_runtime(untrusted, clock=clock)
        try:
            r = await api.post("/v1/guardians/g-1/max-link")  # the API's runtime: plain http
            assert r.status_code == 201
            async with runtime.sessions() as session:
                await link_chat(
                    session=session,
                    code=r.json()["code"],
                    chat_id=str(USER),
                    bot_id=None,
                    now=clock(),
                    messenger=Messenger.max,
                )
            await post_structured(api, mark("st-1"))
            await run_until_idle(runtime)
            [entry] = await _log(api)
            assert entry["channel"] == "email"  # not a silent retry: the next channel at once
            assert entry["attempts"][0]["detail"].endswith(UNTRUSTED.split(": ")[-1])
            assert server.messages_to(USER) == []
        finally:
            await runtime.close()
        trusted = untrusted.model_copy(update={"max_ca_file": bundle})
        runtime = build_runtime(trusted, clock=clock)
        try:
            await post_structured(api, mark("st-1", value="4"))
            await run_until_idle(runtime)
            assert len(server.messages_to(USER)) == 1
            assert (await _log(api))[0]["channel"] == "max"  # the newest first
        finally:
            await runtime.close()


async def test_erasure_forgets_the_max_user_in_the_roster_codes_and_redis(
    api: httpx.AsyncClient, runtime: Runtime, max_api: MaxApiServer, pump
) -> None:
    await _family(api)
    await link(api, runtime, max_api)
    await post_structured(api, mark("st-1"))
    await pump()
    assert len(_after_link(max_api)) == 1
    await LinkThrottle(runtime.redis, limit=5, messenger=Messenger.max).failed(str(USER))
    keys = [k.decode() async for k in runtime.redis.scan_iter(match="*")]
    assert any(k.endswith(f":{USER}") for k in keys)  # the chat's rate bucket, its failures
    r = await api.delete("/v1/guardians/g-1")
    assert r.status_code == 200, r.text
    keys = [k.decode() async for k in runtime.redis.scan_iter(match="*")]
    assert [k for k in keys if str(USER) in k] == []
    async with runtime.sessions() as session:
        assert (
            await session.scalar(select(Guardian).where(Guardian.max_user_id == str(USER))) is None
        )
        assert (
            await session.scalar(select(LinkCode).where(LinkCode.used_by_chat == str(USER))) is None
        )
