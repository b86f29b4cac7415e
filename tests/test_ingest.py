"""Journal events in: every way in reaches the parent once; bad input is refused with a reason."""

from __future__ import annotations

import json

import httpx
import pytest
from redis.asyncio import Redis

from notifier.delivery import intake
from notifier.events.stream import DEAD_STREAM, STREAM
from notifier.runtime import Runtime
from tests.factories import (
    cloud_event,
    mark,
    post_batch,
    post_binary,
    post_structured,
    pupil_with_guardian,
    school_with_class,
)
from tests.servers.smtp_server import SmtpServer


async def _family(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-mum", email="mum@parents.example.org")
    # The second guardian of the same pupil never gave consent: nothing may reach them.
    await pupil_with_guardian(api, "st-1", "g-dad", email="dad@parents.example.org", consent=False)


def _bodies(mail) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    msg = mail.message
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


@pytest.mark.parametrize("mode", ["structured", "binary", "batch", "xadd"])
async def test_mark_reaches_consenting_parent_once(
    mode: str, api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    event = mark("st-1", value="4", subject="Геометрия", work_type="Самостоятельная работа")
    if mode == "xadd":
        await runtime.redis.xadd(STREAM, {"event": json.dumps(event)})
    else:
        post = {
            "structured": post_structured,
            "binary": post_binary,
            "batch": lambda a, e: post_batch(a, [e]),
        }[mode]
        response = await post(api, event)
        assert response.status_code == 202, response.text
        assert response.json() == {"accepted": [event["id"]], "rejected": []}
    await pump()

    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail.rcpt_tos == ["mum@parents.example.org"]
    text, html = _bodies(mail)
    for body in (text, html):
        assert "Геометрия" in body and "4" in body and "Иван" in body
    assert "Геометрия" in mail.message["Subject"]
    log = (await api.get("/v1/guardians/g-dad/notifications")).json()["items"]
    assert [(n["status"], n["reason"]) for n in log] == [("skipped", "no_consent")]


async def test_duplicate_event_gives_one_email(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    event = mark("st-1")
    assert (await post_structured(api, event)).status_code == 202
    await pump()
    assert (await post_batch(api, [event, event])).status_code == 202
    await runtime.redis.xadd(STREAM, {"event": json.dumps(event)})
    await pump()
    assert len(smtp.messages) == 1


async def test_homework_reaches_every_consenting_guardian_of_the_class_once(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    await school_with_class(api)
    await school_with_class(api, klass="8a")
    await pupil_with_guardian(api, "st-1", "g-1", full_name="Орлова Мария Ильинична")
    # g-2 has two children in 7Б: one message, not two.
    await pupil_with_guardian(api, "st-2", "g-2", full_name="Зайцев Пётр Олегович")
    await pupil_with_guardian(
        api, "st-3", "g-2", full_name="Зайцева Ольга Олеговна", extra_students=("st-2",)
    )
    await pupil_with_guardian(api, "st-4", "g-3", consent=False)
    await pupil_with_guardian(api, "st-5", "g-4", klass="8a")
    event = cloud_event(
        "journal.homework.assigned",
        {
            "homework_id": "hw-1",
            "class_id": "7b",
            "subject": "Литература",
            "text": "Выучить стихотворение «Бородино»",
            "due_date": "2026-11-25",
        },
    )
    assert (await post_structured(api, event)).status_code == 202
    await pump()
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == [
        "g-1@parents.example.org",
        "g-2@parents.example.org",
    ]
    text, html = _bodies(smtp.messages[0])
    assert "Бородино" in text and "Литература" in html


async def test_individual_homework_reaches_only_named_pupils(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await pupil_with_guardian(api, "st-2", "g-2")
    event = cloud_event(
        "journal.homework.assigned",
        {
            "homework_id": "hw-2",
            "class_id": "7b",
            "subject": "Алгебра",
            "text": "№ 12",
            "student_ids": ["st-2"],
        },
    )
    assert (await post_structured(api, event)).status_code == 202
    await pump()
    assert [m.rcpt_tos for m in smtp.messages] == [["g-2@parents.example.org"]]


async def test_malformed_events_are_rejected_with_reasons_and_valid_ones_pass(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    good = mark("st-1", value="5")
    no_id = mark("st-1")
    del no_id["id"]
    old_spec = {**mark("st-1"), "specversion": "0.3"}
    bad_types = cloud_event(
        "journal.mark.created",
        {"mark_id": "m-x", "student_id": {"id": 1}, "subject": ["Алгебра"], "value": None},
    )
    missing_field = cloud_event("journal.attendance.recorded", {"student_id": "st-1"})
    huge = mark("st-1", comment="я" * 1_000_000)
    response = await post_batch(api, [good, no_id, old_spec, bad_types, missing_field, huge, 7])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == [good["id"]]
    errors = [r["error"] for r in body["rejected"]]
    assert len(errors) == 6
    assert "missing required attribute(s): id" in errors[0]
    assert "specversion" in errors[1]
    assert "data.student_id" in errors[2] and "data.subject" in errors[2]
    assert "data.lesson_date: required field is missing" in errors[3]
    assert "bytes; the limit is" in errors[4]
    assert "JSON object" in errors[5]

    invalid_json = await api.post(
        "/v1/events",
        content=b'{"specversion": "1.0", "id": ',
        headers={"Content-Type": "application/cloudevents+json"},
    )
    assert invalid_json.status_code == 400
    assert "not valid JSON" in invalid_json.json()["rejected"][0]["error"]
    only_bad = await post_structured(api, old_spec)
    assert only_bad.status_code == 422
    assert only_bad.json()["accepted"] == []
    wrong_type = await api.post("/v1/events", content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415

    await pump()
    assert len(smtp.messages) == 1


async def test_events_need_an_integration_or_admin_token(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/events",
        content=json.dumps(mark("st-1")),
        headers={"Content-Type": "application/cloudevents+json", "Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401


async def test_garbage_in_the_stream_is_dead_lettered_and_the_next_entry_delivered(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    redis: Redis = runtime.redis
    await redis.xadd(STREAM, {"event": b"\xff\xfe not json"})
    await redis.xadd(STREAM, {"something": "else"})
    await redis.xadd(STREAM, {"event": json.dumps({"specversion": "1.0", "id": "x"})})
    await redis.xadd(STREAM, {"event": json.dumps(mark("st-1", value="3"))})
    await pump()
    assert len(smtp.messages) == 1
    dead = await redis.xrange(DEAD_STREAM)
    reasons = [fields[b"reason"].decode() for _, fields in dead]
    assert len(reasons) == 3
    assert "not valid JSON" in reasons[0]
    assert "no 'event' field" in reasons[1]
    assert "missing required attribute(s): source, type" in reasons[2]
    pending = await redis.xpending(STREAM, "notifier")
    assert pending["pending"] == 0


async def test_unknown_pupil_is_recorded_and_listed_as_unmatched(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    await _family(api)
    stray = mark("st-404")
    unknown_type = cloud_event("journal.lesson.topic", {"topic": "Дроби"})
    assert (await post_batch(api, [stray, unknown_type])).status_code == 202
    await pump()
    items = (await api.get("/v1/events/unmatched")).json()["items"]
    assert [(i["id"], i["student_id"]) for i in items] == [(stray["id"], "st-404")]
    assert "unknown pupil" in items[0]["reason"]
    assert smtp.messages == []


async def test_a_batch_planning_more_rows_than_one_insert_takes_stores_them_all(
    api: httpx.AsyncClient, smtp: SmtpServer, pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "INSERT_CHUNK", 2)  # 5 rows: inserts of 2, 2 and 1
    await school_with_class(api)
    for n in range(1, 5):
        await pupil_with_guardian(api, f"st-{n}", f"g-{n}")
    await pupil_with_guardian(api, "st-5", "g-5", consent=False)  # a row too: skipped
    homework = cloud_event(
        "journal.homework.assigned",
        {"homework_id": "hw-9", "class_id": "7b", "subject": "Физика", "text": "§ 12"},
    )
    assert (await post_structured(api, homework)).status_code == 202
    await pump()
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == [
        f"g-{n}@parents.example.org" for n in range(1, 5)
    ]
    report = (await api.get("/v1/guardians/g-5/notifications")).json()
    assert [(row["status"], row["reason"]) for row in report["items"]] == [
        ("skipped", "no_consent")
    ]
