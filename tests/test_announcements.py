"""Class teachers' announcements: roles, channels, the per-guardian report, scheduling."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from notifier.auth import Role, create_token
from notifier.config import Settings
from notifier.db.models import Guardian
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import put, put_school
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

PUPILS, GUARDIANS = 25, 37


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0,
            "telegram_rate_per_second": 1000,
        }
    )


async def _token(runtime: Runtime, role: Role, **kw: str) -> dict[str, str]:
    async with runtime.sessions() as session:
        token, _ = await create_token(session=session, role=role, **kw)
    return {"Authorization": f"Bearer {token}"}


async def _class_of_25(api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer) -> None:
    await put_school(api, "s17", {"name": "Школа № 17"})
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова Нина Петровна"})
    await put(api, "/v1/staff/t-2", {"school_id": "s17", "full_name": "Петров Пётр"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    await put(api, "/v1/classes/8a", {"school_id": "s17", "name": "8А", "class_teacher_id": "t-2"})
    await put(
        api,
        "/v1/students/other",
        {"school_id": "s17", "class_id": "8a", "full_name": "Чужой Ученик"},
    )
    for p in range(PUPILS):
        await put(
            api,
            f"/v1/students/p{p}",
            {"school_id": "s17", "class_id": "7b", "full_name": f"Ученикова Маша{p}"},
        )
    for g in range(GUARDIANS):
        body: dict[str, object] = {"full_name": f"Родитель {g}", "student_ids": [f"p{g % PUPILS}"]}
        if g % 3 in (0, 1):
            body["email"] = f"g{g}@parents.example.org"
        else:
            body["phone"] = f"+7916{g:07d}"
        await put(api, f"/v1/guardians/g{g}", body)
        if g != 36:  # g36 never gave consent
            r = await api.post(f"/v1/guardians/g{g}/consent", json={"document": "Заявление"})
            assert r.status_code == 201
    r = await api.put(
        "/v1/guardians/g35/preferences", json={"categories": {"announcements": "off"}}
    )
    assert r.status_code == 200
    async with runtime.sessions() as session:  # every third guardian reads Telegram
        for g in range(0, GUARDIANS, 3):
            guardian = await session.get(Guardian, f"g{g}")
            assert guardian is not None
            guardian.telegram_chat_id, guardian.telegram_bot_id = str(5000 + g), str(bot_api.bot_id)
        await session.commit()


async def test_a_class_announcement_reaches_every_reachable_guardian_once(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    settings: Settings,
    pump,
) -> None:
    await _class_of_25(api, runtime, bot_api)
    teacher = await _token(runtime, Role.teacher, staff_id="t-1")
    text = "Завтра родительское собрание в 18:00, кабинет 214. <Приходите> & не опаздывайте!"
    r = await api.post(
        "/v1/announcements", headers=teacher, json={"audience": {"class_ids": ["7b"]}, "text": text}
    )
    assert r.status_code == 201, r.text
    ident = r.json()["id"]
    await pump()
    report = (await api.get(f"/v1/announcements/{ident}", headers=teacher)).json()
    rows = {g["guardian_id"]: g for g in report["guardians"]}
    assert len(rows) == GUARDIANS
    for g in range(GUARDIANS):
        row = rows[f"g{g}"]
        if g == 36:
            assert row["status"] == "no_consent"
        elif g == 35:
            assert row["status"] == "opted_out"
        else:
            expected = {0: "telegram", 1: "email", 2: "sms"}[g % 3]
            assert (row["status"], row["channel"]) == ("sent", expected), row
    tg = [m for m in bot_api.accepted]
    assert len(tg) == len([g for g in range(0, 35, 3)])
    assert all("<Приходите> & не опаздывайте!" in m.plain for m in tg)
    assert len(smtp.messages) == len([g for g in range(35) if g % 3 == 1])
    sms = list((settings.outbox_dir / "sms").glob("*.json"))
    assert len(sms) == len([g for g in range(35) if g % 3 == 2])
    assert report["totals"]["sent"] == 35
    listed = (await api.get("/v1/announcements", headers=teacher)).json()["items"]
    assert [a["id"] for a in listed] == [ident]


async def test_teachers_address_only_their_own_class_and_never_urgently(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _class_of_25(api, runtime, bot_api)
    teacher = await _token(runtime, Role.teacher, staff_id="t-1")
    for audience in (
        {"class_ids": ["8a"]},
        {"student_ids": ["other"]},
        {"class_ids": ["7b", "8a"]},
    ):
        r = await api.post(
            "/v1/announcements", headers=teacher, json={"audience": audience, "text": "Привет"}
        )
        assert r.status_code == 403, r.text
    r = await api.post(
        "/v1/announcements",
        headers=teacher,
        json={"audience": {"class_ids": ["7b"]}, "text": "Срочно!", "urgent": True},
    )
    assert r.status_code == 403 and "admin" in r.json()["error"]
    await pump()
    assert smtp.messages == [] and bot_api.accepted == []
    other = await _token(runtime, Role.teacher, staff_id="t-2")
    r = await api.post(
        "/v1/announcements", headers=other, json={"audience": {"class_ids": ["8a"]}, "text": "Моим"}
    )
    assert r.status_code == 201
    assert (
        await api.get(f"/v1/announcements/{r.json()['id']}", headers=teacher)
    ).status_code == 403


async def test_urgent_from_an_admin_passes_quiet_hours(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    await _class_of_25(api, runtime, bot_api)
    clock.now = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)  # 23:30 in Moscow
    calm = await api.post(
        "/v1/announcements", json={"audience": {"student_ids": ["p1"]}, "text": "Завтра"}
    )
    urgent = await api.post(
        "/v1/announcements",
        json={
            "audience": {"student_ids": ["p1"]},
            "text": "Школа закрыта: прорыв трубы",
            "urgent": True,
        },
    )
    assert calm.status_code == urgent.status_code == 201
    await pump()
    assert [m.rcpt_tos for m in smtp.messages] == [["g1@parents.example.org"]]
    assert "прорыв трубы" in smtp.messages[0].message["Subject"] or "прорыв трубы" in str(
        smtp.messages[0].message.get_body(("plain",)).get_content()
    )
    report = (await api.get(f"/v1/announcements/{calm.json()['id']}")).json()
    assert [g["status"] for g in report["guardians"]] == ["scheduled", "scheduled"]  # g1, g26
    assert report["guardians"][0]["scheduled_for"].startswith("2026-11-24T05:00:00")


async def test_scheduled_announcement_goes_at_its_time_and_a_cancelled_one_never(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    await _class_of_25(api, runtime, bot_api)
    teacher = await _token(runtime, Role.teacher, staff_id="t-1")
    later = (clock.now + timedelta(hours=3)).isoformat()
    kept = await api.post(
        "/v1/announcements",
        headers=teacher,
        json={"audience": {"student_ids": ["p1"]}, "text": "Напоминание", "send_at": later},
    )
    assert kept.status_code == 201
    dropped = await api.post(
        "/v1/announcements",
        headers=teacher,
        json={"audience": {"student_ids": ["p1"]}, "text": "Отменится", "send_at": later},
    )
    await pump()
    assert smtp.messages == []
    r = await api.delete(f"/v1/announcements/{dropped.json()['id']}", headers=teacher)
    assert r.status_code == 200 and r.json()["cancelled_messages"] == 2  # p1's two guardians
    clock.advance(3 * 3600 + 1)
    await pump()
    assert len(smtp.messages) == 1  # g1 by email (g26 by SMS)
    assert "Напоминание" in str(smtp.messages[0].message.get_body(("plain",)).get_content())
    report = (await api.get(f"/v1/announcements/{dropped.json()['id']}", headers=teacher)).json()
    assert report["status"] == "cancelled" and report["guardians"][0]["status"] == "cancelled"
    # Once everything has gone there is nothing to cancel, and the report says it went out.
    gone = await api.delete(f"/v1/announcements/{kept.json()['id']}", headers=teacher)
    assert gone.status_code == 409 and "nothing is left to cancel" in gone.json()["error"]
    report = (await api.get(f"/v1/announcements/{kept.json()['id']}", headers=teacher)).json()
    assert report["status"] != "cancelled"


async def test_idempotency_key_sends_nothing_twice(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    pump,
) -> None:
    await _class_of_25(api, runtime, bot_api)
    teacher = await _token(runtime, Role.teacher, staff_id="t-1")
    body = {"audience": {"student_ids": ["p1", "p4"]}, "text": "Экскурсия в пятницу"}
    key = {"Idempotency-Key": "retry-42", **teacher}
    first = await api.post("/v1/announcements", headers=key, json=body)
    again = await api.post("/v1/announcements", headers=key, json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    conflict = await api.post("/v1/announcements", headers=key, json={**body, "text": "Другое"})
    assert conflict.status_code == 409
    await pump()
    assert Counter(r for m in smtp.messages for r in m.rcpt_tos) == {
        "g1@parents.example.org": 1,
        "g4@parents.example.org": 1,
    }


async def test_a_long_sms_announcement_links_to_the_whole_text(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    settings: Settings,
    pump,
) -> None:
    import json

    from notifier.channels.sms_text import measure

    await _class_of_25(api, runtime, bot_api)
    text = "Уважаемые родители! " + "В пятницу занятия проходят по сокращённому расписанию. " * 5
    r = await api.post(
        "/v1/announcements", json={"audience": {"student_ids": ["p2"]}, "text": text}
    )
    await pump()
    [path] = list((settings.outbox_dir / "sms").glob("*.json"))
    sms = json.loads(path.read_text())
    assert measure(sms["text"]).segments <= 2
    link = f"/a/{r.json()['id']}"
    assert sms["text"].endswith(link)
    page = await api.get(link, headers={"Authorization": ""})
    assert page.status_code == 200 and "сокращённому расписанию" in page.text
