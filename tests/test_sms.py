"""SMS through the generic `http` gateway and SMS.ru: segments, retries, fallback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from notifier.channels.sms_text import fit, measure
from notifier.config import Settings, SmsProvider
from notifier.db.models import Preference
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import (
    attendance,
    cloud_event,
    mark,
    post_structured,
    put,
    school_with_class,
)
from tests.servers.sms_server import SmsGateway
from tests.servers.smtp_server import SmtpServer

PHONE = "+79161234567"


@pytest.fixture(params=["http", "smsru"])
def gateway(request: pytest.FixtureRequest) -> Iterator[SmsGateway]:
    server = SmsGateway(request.param, api_key="test-key")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(settings: Settings, gateway: SmsGateway) -> Settings:
    return settings.model_copy(
        update={
            "sms_provider": SmsProvider(gateway.kind),
            "sms_url": gateway.url,
            "sms_api_key": SecretStr("test-key"),
            "sms_sender": "School17",
        }
    )


async def _phone_only_parent(
    api: httpx.AsyncClient, *, email: str | None = None, quiet_defaults: bool = False
) -> None:
    await school_with_class(api, quiet_defaults=quiet_defaults)
    await put(
        api,
        "/v1/students/st-1",
        {"school_id": "s17", "class_id": "7b", "full_name": "Смирнова Александра Петровна"},
    )
    body = {"full_name": "Смирнов Пётр", "phone": PHONE, "student_ids": ["st-1"]}
    if email:
        body["email"] = email
    await put(api, "/v1/guardians/g-1", body)
    r = await api.post("/v1/guardians/g-1/consent", json={"document": "Заявление"})
    assert r.status_code == 201


async def _log(api: httpx.AsyncClient) -> list[dict]:  # type: ignore[type-arg]
    return (await api.get("/v1/guardians/g-1/notifications")).json()["items"]


def test_segment_arithmetic() -> None:
    assert measure("Hello").segments == 1 and measure("a" * 160).segments == 1
    assert measure("a" * 161).segments == 2 and measure("a" * 306).segments == 2
    assert measure("{" * 80).units == 160  # extension characters take two septets
    assert measure("я" * 70).segments == 1 and measure("я" * 71).segments == 2
    assert measure("я" * 134).segments == 2 and measure("я" * 135).segments == 3
    cut = fit("Домашнее задание " * 30, 2)
    assert measure(cut).segments == 2 and cut.endswith("…")


async def test_cyrillic_sms_within_two_segments_and_counted(
    api: httpx.AsyncClient, gateway: SmsGateway, smtp: SmtpServer, pump
) -> None:
    await _phone_only_parent(api)
    await post_structured(api, mark("st-1", value="5", subject="Английский язык"))
    long_homework = cloud_event(
        "journal.homework.assigned",
        {
            "homework_id": "hw-1",
            "class_id": "7b",
            "subject": "Литература",
            "text": "Прочитать главы 5–9 романа «Капитанская дочка», ответить письменно на вопросы "
            "1–12 на странице 134, выучить наизусть отрывок и подготовить пересказ.",
            "due_date": "2026-11-25",
        },
    )
    await post_structured(api, long_homework)
    await pump()
    assert len(gateway.messages) == 2
    for sms in gateway.messages:
        assert sms.to.lstrip("+") == PHONE.lstrip("+")
        assert measure(sms.text).segments <= 2
    assert "Александра" in gateway.messages[0].text and "5" in gateway.messages[0].text
    segments = sorted(n["segments"] for n in await _log(api))
    assert segments == [1, 2]
    assert smtp.messages == []


async def test_gateway_5xx_is_retried(
    api: httpx.AsyncClient, gateway: SmsGateway, clock: FakeClock, pump
) -> None:
    await _phone_only_parent(api)
    gateway.fail_next(503, times=2)
    await post_structured(api, mark("st-1"))
    for _ in range(3):
        await pump()
        clock.advance(3600)
    assert len(gateway.messages) == 1
    [entry] = await _log(api)
    assert entry["status"] == "sent"
    assert [a["outcome"] for a in entry["attempts"]] == ["transient", "transient", "sent"]


async def test_gateway_4xx_fails_without_another_channel(
    api: httpx.AsyncClient, gateway: SmsGateway, pump
) -> None:
    await _phone_only_parent(api)
    if gateway.kind == "http":
        gateway.fail_next(400, times=1)
    else:
        gateway.fail_next_smsru(202, times=1, text="Неправильно указан номер телефона")
    await post_structured(api, mark("st-1"))
    await pump()
    [entry] = await _log(api)
    assert entry["status"] == "failed" and entry["reason"].startswith("sms:")
    assert gateway.messages == []


async def test_gateway_4xx_falls_back_to_the_next_channel(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, smtp: SmtpServer, pump
) -> None:
    await _phone_only_parent(api, email="petr@parents.example.org")
    async with runtime.sessions() as session:  # the parent asked for SMS first, then email
        session.add(Preference(guardian_id="g-1", channels={"order": ["sms", "email"]}))
        await session.commit()
    if gateway.kind == "http":
        gateway.fail_next(400, times=1)
    else:
        gateway.fail_next_smsru(202, times=1, text="Неправильно указан номер телефона")
    await post_structured(api, mark("st-1"))
    await pump()
    await post_structured(api, mark("st-1", value="3"))
    await pump()
    assert len(smtp.messages) == 2  # the first by fallback, the second straight to email
    assert gateway.requests == 1  # the dead number is not tried again
    entries = await _log(api)
    assert {e["channel"] for e in entries} == {"email"}


async def test_an_sms_parent_gets_two_sms_on_a_busy_day(
    api: httpx.AsyncClient, gateway: SmsGateway, clock: FakeClock, pump
) -> None:
    """At default settings: the absence at once; the marks (the 2 too), the comment and the
    homework in one evening SMS naming each."""
    await _phone_only_parent(api, quiet_defaults=True)
    await post_structured(api, mark("st-1", value="5", subject="Алгебра"))
    await post_structured(api, mark("st-1", value="2", subject="Физика"))
    comment = {"student_id": "st-1", "text": "Забыла тетрадь", "subject": "Физика"}
    await post_structured(api, cloud_event("journal.comment.created", comment))
    await pump()
    assert gateway.messages == []
    clock.advance(2 * 3600)  # 14:00 in Moscow
    await post_structured(api, attendance("st-1", "2026-11-23", "absent"))
    homework = {
        "homework_id": "hw-1",
        "class_id": "7b",
        "subject": "Русский язык",
        "text": "Упр. 112",
        "due_date": "2026-11-24",
    }
    await post_structured(api, cloud_event("journal.homework.assigned", homework))
    await pump()
    [absence] = gateway.messages
    assert "отсутствовал" in absence.text
    clock.advance(5 * 3600)  # 19:00
    await pump()
    assert len(gateway.messages) == 2
    evening = gateway.messages[1].text
    assert "Александра" in evening
    for words in ("алг 5", "физ 2", "Забыла тетрадь", "ДЗ рус"):
        assert words in evening, evening
    assert measure(evening).segments <= 2


async def test_by_sms_a_timetable_change_for_today_waits_for_the_mornings_absence(
    api: httpx.AsyncClient, gateway: SmsGateway, clock: FakeClock, pump
) -> None:
    """One SMS for both, at the absence's time; alone, the change goes half an hour later."""
    await _phone_only_parent(api, quiet_defaults=True)
    change = {
        "class_id": "7b",
        "date": "2026-11-23",
        "change": "cancelled",
        "lesson_number": 4,
        "subject": "Физика",
    }
    await post_structured(api, cloud_event("journal.schedule.changed", change))
    await pump()
    clock.advance(20 * 60)
    await pump()
    assert gateway.messages == []
    await post_structured(api, attendance("st-1", "2026-11-23", "absent"))
    await pump()
    [sms] = gateway.messages
    assert "отсутствовал" in sms.text and "физ" in sms.text and "отмена" in sms.text
    await post_structured(
        api, cloud_event("journal.schedule.changed", {**change, "lesson_number": 5})
    )
    await pump()
    clock.advance(29 * 60)
    await pump()
    assert len(gateway.messages) == 1
    clock.advance(60)
    await pump()
    assert len(gateway.messages) == 2 and "5" in gateway.messages[1].text
