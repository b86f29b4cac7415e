"""Quiet, correct delivery: coalescing, corrections, quiet hours, digests, preferences."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from notifier.config import Settings
from notifier.db.models import AuditEntry
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import (
    cloud_event,
    mark,
    post_batch,
    post_structured,
    pupil_with_guardian,
    put,
    school_with_class,
)
from tests.servers.smtp_server import SmtpServer

SUBJECTS = [
    "Алгебра",
    "Геометрия",
    "Физика",
    "Химия",
    "Биология",
    "История",
    "Литература",
    "Русский язык",
    "Английский язык",
    "География",
    "Информатика",
    "Музыка",
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"coalesce_seconds": 3})


async def _family(api: httpx.AsyncClient, **school: object) -> None:
    await school_with_class(api, **school)  # type: ignore[arg-type]
    await pupil_with_guardian(
        api, "st-1", "g-1", email="mum@parents.example.org", full_name="Орлова Вера Андреевна"
    )


def _text(mail) -> str:  # type: ignore[no-untyped-def]
    return str(mail.message.get_body(("plain",)).get_content())


async def _log(api: httpx.AsyncClient, guardian: str = "g-1") -> list[dict]:  # type: ignore[type-arg]
    return (await api.get(f"/v1/guardians/{guardian}/notifications")).json()["items"]


async def test_a_burst_of_marks_is_one_message(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    for i, subject in enumerate(SUBJECTS[:10]):
        await post_structured(api, mark("st-1", subject=subject, value=str(2 + i % 4)))
        clock.advance(0.1)
    await pump()
    assert smtp.messages == []  # the window is still open
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    [mail] = smtp.messages
    text = _text(mail)
    assert all(subject in text for subject in SUBJECTS[:10])
    assert "10" in mail.message["Subject"] and "Вера" in mail.message["Subject"]
    assert {e["status"] for e in await _log(api)} == {"sent"}


async def test_two_children_get_one_message_with_a_section_each(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await pupil_with_guardian(
        api,
        "st-2",
        "g-1",
        email="mum@parents.example.org",
        full_name="Орлов Лев Андреевич",
        extra_students=("st-1",),
    )
    await post_batch(
        api,
        [
            mark("st-1", subject="Алгебра"),
            mark("st-2", subject="Физика"),
            mark("st-1", subject="Химия"),
            mark("st-2", subject="История"),
        ],
    )
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    [mail] = smtp.messages
    text = _text(mail)
    vera, lev = text.index("Вера"), text.index("Лев")
    assert vera < text.index("Алгебра") < text.index("Химия") < lev
    assert lev < text.index("Физика") < text.index("История")


async def test_created_then_updated_in_the_window_shows_the_final_value(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, mark("st-1", subject="Алгебра", value="2", mark_id="m-1"))
    clock.advance(1)
    await post_structured(
        api,
        cloud_event(
            "journal.mark.updated",
            {
                "mark_id": "m-1",
                "student_id": "st-1",
                "subject": "Алгебра",
                "value": "4",
                "old_value": "2",
            },
        ),
    )
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    [mail] = smtp.messages
    assert "4" in mail.message["Subject"] and "2" not in mail.message["Subject"]
    assert "→" not in _text(mail)


async def test_created_then_deleted_in_the_window_sends_nothing(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, mark("st-1", value="2", mark_id="m-1"))
    await post_structured(
        api, cloud_event("journal.mark.deleted", {"mark_id": "m-1", "student_id": "st-1"})
    )
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    assert smtp.messages == []
    assert {(e["status"], e["reason"]) for e in await _log(api)} == {("skipped", "superseded")}


async def test_a_mark_changed_after_it_was_sent_gets_a_correction(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, mark("st-1", subject="Алгебра", value="2", mark_id="m-1"))
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    assert len(smtp.messages) == 1
    clock.advance(24 * 3600)  # a day later the teacher corrects it
    await post_structured(
        api,
        cloud_event(
            "journal.mark.updated",
            {
                "mark_id": "m-1",
                "student_id": "st-1",
                "subject": "Алгебра",
                "value": "4",
                "changed_by": "Петрова А. В.",
            },
        ),
    )
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    assert len(smtp.messages) == 2
    text = _text(smtp.messages[1])
    assert "2 → 4" in text and "Петрова А. В." in text
    clock.advance(3600)
    await post_structured(
        api, cloud_event("journal.mark.deleted", {"mark_id": "m-1", "student_id": "st-1"})
    )
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    assert len(smtp.messages) == 3
    assert "удален" in _text(smtp.messages[2]) and "4" in _text(smtp.messages[2])


async def test_quiet_hours_in_vladivostok_defer_to_the_morning(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api, timezone="Asia/Vladivostok")
    clock.now = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)  # 23:30 in Vladivostok
    await post_structured(api, mark("st-1"))
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    assert smtp.messages == []
    [entry] = await _log(api)
    assert entry["status"] == "scheduled"
    assert entry["due_at"].startswith("2026-11-23T22:00:00")  # 08:00 next day, UTC+10
    clock.now = datetime(2026, 11, 23, 21, 59, tzinfo=UTC)
    await pump()
    assert smtp.messages == []
    clock.now = datetime(2026, 11, 23, 22, 0, 1, tzinfo=UTC)
    await pump()
    await pump()
    assert len(smtp.messages) == 1


async def test_a_guardians_own_quiet_hours_win(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    r = await api.put(
        "/v1/guardians/g-1/preferences", json={"quiet_hours": {"start": "11:00", "end": "14:00"}}
    )
    assert r.status_code == 200, r.text
    await post_structured(api, mark("st-1"))  # 12:00 in Moscow: the guardian's quiet time
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    assert smtp.messages == []
    clock.advance(2 * 3600)
    await pump()
    assert len(smtp.messages) == 1


async def test_digest_is_one_message_per_guardian_at_digest_time(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await pupil_with_guardian(
        api,
        "st-2",
        "g-1",
        email="mum@parents.example.org",
        full_name="Орлов Лев Андреевич",
        extra_students=("st-1",),
    )
    await pupil_with_guardian(
        api, "st-2", "g-2", email="dad@parents.example.org", full_name="Орлов Лев Андреевич"
    )
    for guardian in ("g-1", "g-2"):
        r = await api.put(
            f"/v1/guardians/{guardian}/preferences",
            json={"categories": {"marks": "digest", "attendance": "digest", "comments": "digest"}},
        )
        assert r.status_code == 200, r.text
    events = []
    for i, subject in enumerate(SUBJECTS[:6]):
        events.append(mark("st-1" if i % 2 else "st-2", subject=subject))
    for i in range(3):
        events.append(
            cloud_event(
                "journal.attendance.recorded",
                {
                    "student_id": "st-1" if i % 2 else "st-2",
                    "lesson_date": "2026-11-23",
                    "status": "absent",
                    "lesson_number": i + 1,
                    "subject": SUBJECTS[6 + i],
                },
            )
        )
    for i in range(3):
        events.append(
            cloud_event(
                "journal.comment.created",
                {"student_id": "st-1" if i % 2 else "st-2", "text": f"Замечание номер {i + 1}"},
            )
        )
    for event in events:  # through the day
        await post_structured(api, event)
        clock.advance(600)
        await pump()
    assert smtp.messages == []
    clock.now = datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)  # 19:00 in Moscow
    await pump()
    by_guardian = {m.rcpt_tos[0]: _text(m) for m in smtp.messages}
    assert len(smtp.messages) == 2 and set(by_guardian) == {
        "mum@parents.example.org",
        "dad@parents.example.org",
    }
    mum = by_guardian["mum@parents.example.org"]
    for needle in [*SUBJECTS[:9], "Замечание номер 1", "Замечание номер 2", "Замечание номер 3"]:
        assert needle in mum, needle
    assert "Вера" in mum and "Лев" in mum


async def test_preferences_route_the_next_message(
    api: httpx.AsyncClient,
    runtime: Runtime,
    smtp: SmtpServer,
    settings: Settings,
    clock: FakeClock,
    pump,
) -> None:
    await _family(api)
    await put(
        api,
        "/v1/guardians/g-1",
        {
            "full_name": "Орлова Анна",
            "email": "mum@parents.example.org",
            "phone": "+79161234567",
            "student_ids": ["st-1"],
        },
    )
    r = await api.put(
        "/v1/guardians/g-1/preferences",
        json={
            "channels": ["sms", "email"],
            "categories": {"homework": "off"},
            "basis": "Заявление № 12 от 01.09.2026",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["channels"] == ["sms", "email"]
    await post_structured(api, mark("st-1"))
    await post_structured(
        api,
        cloud_event(
            "journal.homework.assigned",
            {"homework_id": "h", "class_id": "7b", "subject": "Физика", "text": "§3"},
        ),
    )
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    log = {e["category"]: e for e in await _log(api)}
    assert log["marks"]["channel"] == "sms"
    assert (log["homework"]["status"], log["homework"]["reason"]) == ("skipped", "opted_out")
    assert list((settings.outbox_dir / "sms").glob("*.json"))
    assert smtp.messages == []
    async with runtime.sessions() as session:
        [entry] = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "preferences.set"))
        )
    assert entry.action == "preferences.set" and entry.actor_role == "admin"
    assert entry.detail and entry.detail["basis"] == "Заявление № 12 от 01.09.2026"


async def test_bad_preferences_get_422_naming_the_field(api: httpx.AsyncClient) -> None:
    await _family(api)
    cases = [
        ({"categories": {"gossip": "instant"}}, "categories.gossip"),
        ({"categories": {"marks": "sometimes"}}, "categories.marks"),
        ({"channels": ["telegram"]}, "channels.0"),
        ({"channels": ["email", "pigeon"]}, "channels.1"),
        ({"quiet_hours": {"start": "22:00", "end": "7am"}}, "quiet_hours.end"),
        ({"per_student": {"stranger": {"marks": "off"}}}, "per_student.stranger"),
    ]
    for body, field in cases:
        r = await api.put("/v1/guardians/g-1/preferences", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"].startswith(field), (body, r.json())


async def test_school_subscriptions_apply_unless_the_guardian_chose(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await pupil_with_guardian(api, "st-2", "g-2", email="dad@parents.example.org")
    r = await api.put("/v1/schools/s17/subscriptions", json={"categories": {"homework": "digest"}})
    assert r.status_code == 200, r.text
    assert r.json()["categories"]["homework"] == "digest"
    r = await api.put("/v1/guardians/g-2/preferences", json={"categories": {"homework": "instant"}})
    assert r.status_code == 200
    await post_structured(
        api,
        cloud_event(
            "journal.homework.assigned",
            {"homework_id": "h", "class_id": "7b", "subject": "Физика", "text": "§3"},
        ),
    )
    await pump()  # the consumer plans at once
    clock.advance(3)
    await pump()
    assert [m.rcpt_tos for m in smtp.messages] == [["dad@parents.example.org"]]
    clock.now = datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)
    await pump()
    assert len(smtp.messages) == 2 and smtp.messages[1].rcpt_tos == ["mum@parents.example.org"]
