"""Email delivery: retries, permanent failures, headers, and what a restart must not lose."""

from __future__ import annotations

import email.policy
import json
import logging
import shutil
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import httpx
import pytest

from notifier.rendering import Renderer
from notifier.runtime import Runtime
from notifier.template_set import templates_root
from notifier.worker import DELIVER_JOB, in_process_worker, worker_options
from tests.conftest import FakeClock
from tests.factories import (
    cloud_event,
    consume_all,
    mark,
    post_batch,
    post_structured,
    pupil_with_guardian,
    school_with_class,
)
from tests.servers.smtp_server import SmtpServer


async def _one_parent(api: httpx.AsyncClient, **kw) -> None:  # type: ignore[no-untyped-def]
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", email="parent@parents.example.org", **kw)


async def _log(api: httpx.AsyncClient) -> list[dict]:  # type: ignore[type-arg]
    return (await api.get("/v1/notifications")).json()["items"]


async def test_smtp_451_three_times_still_delivers_exactly_once(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _one_parent(api)
    smtp.fail_next(451, times=3, text="4.3.0 Try again later")
    await post_structured(api, mark("st-1"))
    for _ in range(4):
        await pump()
        clock.advance(3600)  # past any backoff; the budget (24 h) is not spent
    await pump()
    assert len(smtp.messages) == 1
    [entry] = await _log(api)
    assert entry["status"] == "sent"
    assert [a["outcome"] for a in entry["attempts"]] == ["transient"] * 3 + ["sent"]
    assert "451" in entry["attempts"][0]["detail"]


async def test_transient_failure_waits_for_its_backoff(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _one_parent(api)
    smtp.fail_next(451, times=1)
    await post_structured(api, mark("st-1"))
    await pump()
    await pump()
    assert smtp.messages == []  # the retry is not due yet: no hammering of a busy relay
    [entry] = await _log(api)
    assert entry["state"] == "pending" and entry["due_at"] > entry["created_at"]
    clock.advance(60)
    await pump()
    assert len(smtp.messages) == 1


async def test_lost_connection_is_retried(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _one_parent(api)
    smtp.drop_connection_next(1)
    await post_structured(api, mark("st-1"))
    await pump()
    clock.advance(120)
    await pump()
    assert len(smtp.messages) == 1


async def test_smtp_550_is_recorded_as_failed_with_its_reason(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _one_parent(api)
    smtp.reject_recipient("parent@parents.example.org", 550, "5.1.1 Mailbox unavailable")
    await post_structured(api, mark("st-1"))
    await pump()
    clock.advance(24 * 3600)
    await pump()
    assert smtp.messages == []
    [entry] = await _log(api)
    assert entry["status"] == "failed"
    assert "550" in entry["reason"] and "Mailbox unavailable" in entry["reason"]
    assert "parent@" not in entry["reason"]
    assert [a["outcome"] for a in entry["attempts"]] == ["permanent"]


async def test_a_refused_sender_fails_the_message_and_not_the_address(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    """A relay that refuses MAIL FROM refuses the school's address, not the parent's: a 4xx is
    tried again, a 5xx fails the message with the relay's words, and the parent's email stays
    in use for the next one."""
    await _one_parent(api)
    smtp.fail_next(451, stage="MAIL", text="4.7.1 Greylisted, try later")
    smtp.fail_next(550, stage="MAIL", text="5.7.1 Sender not allowed")
    await post_structured(api, mark("st-1"))
    await pump()
    clock.advance(24 * 3600)
    await pump()
    assert smtp.messages == []
    [entry] = await _log(api)
    assert [a["outcome"] for a in entry["attempts"]] == ["transient", "permanent"]
    assert entry["status"] == "failed"
    assert "550" in entry["reason"] and "Sender not allowed" in entry["reason"]
    await post_structured(api, mark("st-1", value="4"))
    await pump()
    assert len(smtp.messages) == 1


async def test_retry_budget_ends_in_failed(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _one_parent(api)
    smtp.fail_next(451, times=1000)
    await post_structured(api, mark("st-1"))
    for _ in range(40):
        await pump()
        clock.advance(3600)
    [entry] = await _log(api)
    assert entry["status"] == "failed"
    assert entry["reason"].startswith("gave up after")
    assert len(entry["attempts"]) < 40


async def test_headers_and_no_header_injection(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(
        api,
        "st-1",
        "g-1",
        email="parent@parents.example.org",
        full_name="Иванов\r\nBcc: thief@evil.example.org Пётр",
        guardian_name="Мама\nCc: x@y.org",
    )
    evil = mark(
        "st-1",
        subject="Алгебра\r\nBcc: thief@evil.example.org\r\n\r\nbody",
        value="5\nX-Injected: 1",
        teacher="<script>alert(1)</script>",
    )
    assert (await post_structured(api, evil)).status_code == 202
    await pump()
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["parent@parents.example.org"]
    msg = message_from_bytes(mail.data, policy=email.policy.default)
    assert msg["Bcc"] is None and msg["Cc"] is None and msg["X-Injected"] is None
    assert (
        msg["Message-ID"].startswith("<notifier-")
        and msg["Message-ID"].endswith("@notifier.example.org>") is False
    )  # domain of NOTIFIER_EMAIL_FROM
    assert msg["Message-ID"].endswith("@notifier.test>")
    assert msg["Date"] is not None
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "Алгебра" in msg["Subject"] and "\n" not in msg["Subject"]
    assert b"=?utf-8?" in mail.data.split(b"\r\n\r\n")[0]  # RFC 2047 encoded UTF-8 subject
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_the_message_is_what_any_relay_takes(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    """7-bit, CRLF line ends only, lines within 78 characters (a link may be one longer
    word), both bodies parsed back exactly as rendered and no MIME defect, with a long
    Cyrillic name, subject and comment."""
    await _one_parent(
        api,
        full_name="Смирнова-Покровская Александра Владимировна",
        guardian_name="Смирнова-Покровская Екатерина Сергеевна",
    )
    comment = "Работа у доски: решила все задачи, объяснила решение классу. " * 12
    subject = "Информатика и информационно-коммуникационные технологии"
    assert (await post_structured(api, mark("st-1", subject=subject, comment=comment))).is_success
    await pump()
    [mail] = smtp.messages
    data = mail.data
    assert (
        data.isascii()
        and b"\n" not in data.replace(b"\r\n", b"")
        and b"\r" not in data.replace(b"\r\n", b"")
    )
    long = [line for line in data.split(b"\r\n") if len(line) > 78]
    assert all(line.startswith(b"List-Unsubscribe: <") and line.count(b" ") == 1 for line in long)
    msg = mail.message
    assert msg.get_content_type() == "multipart/alternative" and msg["MIME-Version"] == "1.0"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert msg.defects == [] and all(p.defects == [] for p in parts)
    text, html = (p.get_content() for p in parts)
    assert " ".join(comment.split()) in " ".join(text.split()) and text.endswith("\n")
    assert subject in text and subject in html and html.rstrip().endswith("</html>")
    # Decoded by RFC 2047's rule, which drops the folding between two encoded words: Python
    # 3.11's modern parser keeps a space there, inside a word of the name.
    raw_to = message_from_bytes(data)["To"]
    to = str(make_header(decode_header(raw_to)))
    assert to == "Смирнова-Покровская Екатерина Сергеевна <parent@parents.example.org>"


async def test_an_address_beyond_ascii_goes_by_smtputf8(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    """An internationalized address (RFC 6531): the envelope and the To header carry it as
    UTF-8, asked for by SMTPUTF8, which the relay offers."""
    await school_with_class(api)
    await pupil_with_guardian(
        api, "st-1", "g-1", email="мама@школа-17.рф", guardian_name="Иванова Мария"
    )
    assert (await post_structured(api, mark("st-1", subject="Алгебра"))).is_success
    await pump()
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["мама@школа-17.рф"]
    msg = message_from_bytes(mail.data, policy=email.policy.SMTPUTF8)
    assert msg["To"] == "Иванова Мария <мама@школа-17.рф>"
    assert "Алгебра" in msg["Subject"]
    assert "Алгебра" in msg.get_body(("plain",)).get_content()
    [entry] = await _log(api)
    assert entry["status"] == "sent"


async def test_an_address_beyond_ascii_without_smtputf8_fails_at_once_saying_why(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    """A relay that does not offer SMTPUTF8 cannot take the address at all: the message
    fails at once, saying why, and so goes by the parent's next channel if there is one,
    instead of being tried for a day."""
    smtp.stop()
    smtp.start(smtp.port, smtputf8=False)
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", email="мама@школа-17.рф")
    assert (await post_structured(api, mark("st-1"))).is_success
    await pump()
    assert smtp.messages == []
    [entry] = await _log(api)
    assert entry["status"] == "failed"
    assert [a["outcome"] for a in entry["attempts"]] == ["permanent"]
    assert "SMTPUTF8" in entry["reason"] and "мама" not in entry["reason"]


async def test_consent_revoked_after_planning_stops_the_message(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, pump
) -> None:
    await _one_parent(api)
    await post_structured(api, mark("st-1"))
    consumer = runtime.consumer(name="test")
    await consumer.run_once()
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 204
    await pump()
    assert smtp.messages == []
    [entry] = await _log(api)
    assert (entry["status"], entry["reason"]) == ("skipped", "no_consent")


async def test_a_crashed_delivery_is_picked_up_after_its_lease(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    """A worker that claimed messages and died holds them only until its lease ends."""
    from datetime import timedelta

    from notifier.delivery.dispatch import claim

    await _one_parent(api)
    await post_structured(api, mark("st-1"))
    await runtime.consumer(name="test").run_once()
    async with runtime.sessions() as session:
        assert await claim(session=session, now=clock(), limit=10, lease=timedelta(seconds=30))
    await pump()
    assert smtp.messages == []  # still leased to the dead worker
    clock.advance(31)
    await pump()
    assert len(smtp.messages) == 1


async def test_the_arq_worker_delivers(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, settings
) -> None:
    """The real arq worker in burst mode runs the `deliver_due` job (enqueued here as anyone may)."""
    await _one_parent(api)
    await post_structured(api, mark("st-1"))
    worker = in_process_worker(
        settings, runtime, run_consumer=False, cron_jobs=[], burst=True, poll_delay=0.05
    )
    options = worker_options(settings)
    await runtime.consumer(name="test", on_planned=None).run_once()
    from arq.connections import create_pool

    pool = await create_pool(options["redis_settings"])
    await pool.enqueue_job(DELIVER_JOB)
    await pool.aclose()
    await worker.main()
    await worker.close()
    assert len(smtp.messages) == 1


async def test_logs_carry_ids_never_personal_data(
    api: httpx.AsyncClient,
    runtime: Runtime,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What the service emits at its default level, and everything of ours at DEBUG.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="notifier")
    await school_with_class(api)
    await pupil_with_guardian(
        api,
        "st-1",
        "g-1",
        email="olga.secret@parents.example.org",
        full_name="Секретов Тимофей Игоревич",
        guardian_name="Секретова Ольга",
    )
    smtp.fail_next(451, times=1)
    event = mark("st-1", comment="Тайный комментарий учителя", subject="Химия")
    await post_structured(api, event)
    await runtime.redis.xadd("notifier:events", {"event": json.dumps({"text": "Тайный мусор"})})
    await pump()
    clock.advance(3600)
    await pump()
    assert len(smtp.messages) == 1
    text = "\n".join(
        f"{r.getMessage()} {vars(r)}"
        for r in caplog.records
        if not r.name.startswith("mail.log")  # the test SMTP server's own log, not ours
    )
    assert "delivery.sent" in text
    for secret in ("olga.secret", "Секрет", "Тимофей", "Тайный", "Химия"):
        assert secret not in text, secret


async def test_a_kick_while_a_run_ends_on_its_time_slice_is_delivered_then(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    """A run past its time slice claims no more. A kick then (the consumer planned new rows)
    waits for it to end and runs after it: taken by the ending run as a "look again", its rows
    would wait for the next tick."""
    import asyncio

    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await pupil_with_guardian(api, "st-2", "g-2")
    dispatcher = runtime.dispatcher()
    await post_structured(api, mark("st-1"))
    await consume_all(runtime)
    smtp.hold()  # the first run's message waits at the relay past the run's time slice
    first = asyncio.create_task(dispatcher.run(time_budget=0.1))
    for _ in range(500):
        if smtp.held:
            break
        await asyncio.sleep(0.01)
    assert smtp.held == 1
    await asyncio.sleep(0.2)
    await post_structured(api, mark("st-2"))
    await consume_all(runtime)
    kick = asyncio.create_task(dispatcher.run())  # as deliver_now does after planning
    await asyncio.sleep(0.1)
    assert not kick.done(), "the kick was taken by a run that claims no more"
    smtp.release()
    first_stats, kick_stats = await asyncio.wait_for(asyncio.gather(first, kick), 30)
    assert (first_stats.sent, kick_stats.sent) == (1, 1)
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
        "g-1@parents.example.org",
        "g-2@parents.example.org",
    ]


async def test_concurrent_delivery_runs_send_each_message_once(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, settings
) -> None:
    """Several delivery runs at once (several workers, or a worker's job and its cron tick)
    claim small batches whose groups interleave: each guardian's group goes once, whole, and
    no run fails (on PostgreSQL two claims taking whole groups used to deadlock)."""
    import asyncio

    from notifier.delivery.dispatch import Dispatcher

    await school_with_class(api)
    pupils = [f"st-{i}" for i in range(30)]
    for i, pupil in enumerate(pupils):
        await pupil_with_guardian(api, pupil, f"g-{i}")
    for round_ in range(5):  # five marks per pupil, interleaved across pupils
        for pupil in pupils:
            await post_structured(api, mark(pupil, mark_id=f"{pupil}-m{round_}"))
    await consume_all(runtime)
    small = settings.model_copy(update={"delivery_batch_size": 7})
    runs = [
        Dispatcher(
            sessions=runtime.sessions,
            channels=runtime.channels,
            renderer=runtime.renderer,
            settings=small,
            clock=runtime.clock,
        ).run()
        for _ in range(6)
    ]
    results = await asyncio.gather(*runs, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(
        f"g-{i}@parents.example.org" for i in range(30)
    )
    assert not [n for n in await _log(api) if n["status"] != "sent"]


async def test_while_the_consumer_stores_a_worker_claims_a_fifth_of_its_batch_size(
    api: httpx.AsyncClient,
    runtime: Runtime,
    smtp: SmtpServer,
    settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The consumer on a worker's thread and its delivery share one GIL: while the consumer
    has events in hand, delivery holds a fifth of NOTIFIER_DELIVERY_BATCH_SIZE; after, the
    whole of it."""
    from notifier.delivery.dispatch import Dispatcher

    await school_with_class(api)
    for i in range(40):
        await pupil_with_guardian(api, f"st-{i}", f"g-{i}")
        await post_structured(api, mark(f"st-{i}", mark_id=f"st-{i}-m"))
    seen_storing: list[bool] = []
    consumer = runtime.consumer(name="test")

    async def planned() -> None:
        seen_storing.append(consumer.storing)

    consumer.on_planned = planned
    while await consumer.run_once():
        assert not consumer.storing  # a batch stored: nothing in hand
    assert seen_storing and all(seen_storing)  # told of planned rows while still storing

    dispatcher = Dispatcher(
        sessions=runtime.sessions,
        channels=runtime.channels,
        renderer=runtime.renderer,
        settings=settings.model_copy(update={"delivery_batch_size": 20}),
        clock=runtime.clock,
    )
    storing = [True]
    dispatcher.consumer_storing = lambda: storing[0]
    with caplog.at_level(logging.INFO, logger="notifier.delivery.dispatch"):
        while_storing = await dispatcher.run()
        claims_storing = [r.claimed for r in caplog.records if r.msg == "delivery.batch"]
    assert while_storing.sent == 40 and len(smtp.messages) == 40
    assert max(claims_storing) == 4 and sum(claims_storing) == 40, claims_storing

    for i in range(40):
        await post_structured(api, mark(f"st-{i}", mark_id=f"st-{i}-m2", value="3"))
    await consume_all(runtime)
    storing[0] = False
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="notifier.delivery.dispatch"):
        after = await dispatcher.run()
        claims = [r.claimed for r in caplog.records if r.msg == "delivery.batch"]
    assert after.sent == 40 and len(smtp.messages) == 80
    assert max(claims) == 20, claims


async def test_a_claim_takes_its_limit_and_the_rest_of_those_groups_only(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    """On PostgreSQL a claim written as `id IN (locking subquery with LIMIT)` could lease the
    whole backlog in one go (the subquery ran again per row, skipping what it had locked)."""
    from datetime import timedelta

    from notifier.delivery.dispatch import claim

    await school_with_class(api)
    for i in range(30):
        await pupil_with_guardian(api, f"st-{i}", f"g-{i}")
    for round_ in range(5):
        for i in range(30):
            await post_structured(api, mark(f"st-{i}", mark_id=f"st-{i}-m{round_}"))
    await consume_all(runtime)
    async with runtime.sessions() as session:
        lease = await claim(session=session, now=clock(), limit=7, lease=timedelta(seconds=60))
    # 7 rows picked, then the rest of their groups: at most 7 guardians' five marks.
    assert 7 <= len(lease.ids) <= 35


async def test_a_template_fault_fails_its_message_and_the_batch_goes_on(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, tmp_path: Path, pump
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(str(templates_root()), templates)
    (templates / "mark_created" / "email.html.j2").write_text("{{ 1 // 0 }}")
    runtime.renderer = Renderer(templates)
    await _one_parent(api)
    homework = cloud_event(
        "journal.homework.assigned",
        {"homework_id": "h-1", "class_id": "7b", "subject": "История", "text": "§ 7"},
    )
    assert (await post_batch(api, [mark("st-1"), homework])).status_code == 202
    await pump()
    await pump()  # nothing comes back: the failed row is not retried at every lease
    assert len(smtp.messages) == 1
    assert "История" in str(smtp.messages[0].message.get_body(("plain",)).get_content())
    entries = {e["category"]: e for e in await _log(api)}
    assert entries["homework"]["status"] == "sent"
    assert entries["marks"]["status"] == "failed"
    assert entries["marks"]["reason"] == "email: cannot render (ZeroDivisionError)"
