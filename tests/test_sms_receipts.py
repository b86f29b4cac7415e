"""SMS as schools buy it, end to end: delivery receipts from every provider (callbacks, and
SMPP's deliver_sm), the fallback of an undelivered SMS, hostile callbacks, the monthly budget,
and a parent's STOP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from notifier.config import Settings, SmsProvider
from notifier.db.models import AuditEntry, DeliveryAttempt, Notification, Preference, School
from notifier.delivery.budget import alert_admins, spent_this_month
from notifier.delivery.receipts import poll_receipts
from notifier.runtime import Runtime, build_runtime, run_until_idle
from tests.conftest import FakeClock
from tests.factories import cloud_event, mark, post_structured, put, school_with_class
from tests.servers.smpp_server import SmppServer, undelivered
from tests.servers.sms_server import SmsGateway
from tests.servers.smtp_server import SmtpServer

PHONE = "+79161234567"
SECRET = "cb-" + "s3cr3t" * 6
URL = f"/sms/callback/{SECRET}"
# The provider's codes for a delivered and an undelivered SMS.
DELIVERED = {"smsru": 103, "smsc": 1, "http": "delivered"}
UNDELIVERED = {"smsru": 104, "smsc": 20, "http": "undelivered"}


@pytest.fixture(params=["smsru", "smsc", "http"])
def gateway(request: pytest.FixtureRequest) -> Iterator[SmsGateway]:
    with SmsGateway(request.param, api_key="test-key", price=1.5) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, gateway: SmsGateway) -> Settings:
    return settings.model_copy(
        update={
            "sms_provider": SmsProvider(gateway.kind),
            "sms_url": gateway.url,
            "sms_api_key": SecretStr("test-key"),
            "sms_callback_secret": SecretStr(SECRET),
        }
    )


async def _parent(api: httpx.AsyncClient, *, email: str | None = None) -> None:
    await school_with_class(api)
    await put(
        api,
        "/v1/students/st-1",
        {"school_id": "s17", "class_id": "7b", "full_name": "Смирнова Александра Петровна"},
    )
    body = {"full_name": "Смирнов Пётр", "phone": PHONE, "student_ids": ["st-1"]}
    if email:
        body["email"] = email
    await put(api, "/v1/guardians/g-1", body)
    assert (
        await api.post("/v1/guardians/g-1/consent", json={"document": "№ 1"})
    ).status_code == 201


async def _sms_first(api: httpx.AsyncClient) -> None:
    r = await api.put("/v1/guardians/g-1/preferences", json={"channels": ["sms", "email"]})
    assert r.status_code == 200, r.text


async def _provider_id(runtime: Runtime) -> str:
    async with runtime.sessions() as session:
        ids = await session.scalars(
            select(DeliveryAttempt.provider_id).where(
                DeliveryAttempt.channel == "sms", DeliveryAttempt.outcome == "sent"
            )
        )
        [provider_id] = {i for i in ids if i}
    return str(provider_id)


async def _rows(runtime: Runtime) -> list[Notification]:
    async with runtime.sessions() as session:
        return list(await session.scalars(select(Notification).order_by(Notification.id)))


async def _callback(
    api: httpx.AsyncClient, gateway: SmsGateway, **events: object
) -> list[tuple[int, str]]:
    secret = SECRET if gateway.kind == "smsc" else None
    return await gateway.post_callback(URL, client=api, secret=secret, **events)  # type: ignore[arg-type]


async def test_a_receipt_marks_the_sms_delivered_once_whatever_comes_after(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, pump
) -> None:
    await _parent(api)
    await post_structured(api, mark("st-1", value="5"))
    await pump()
    sms_id = await _provider_id(runtime)
    [row] = await _rows(runtime)
    assert row.channel == "sms" and row.segments == 1
    if gateway.kind != "http":  # the generic contract says no price
        assert row.cost is not None and float(row.cost) == 1.5
    assert row.receipt is None
    code = DELIVERED[gateway.kind]
    for status, _ in await _callback(api, gateway, statuses=[(sms_id, code)]):
        assert status == 200
    [row] = await _rows(runtime)
    assert (row.status, row.receipt) == ("sent", "delivered")
    # Twice, late "undelivered", and an id nobody sent: nothing changes, nothing fails.
    await _callback(api, gateway, statuses=[(sms_id, code)])
    await _callback(api, gateway, statuses=[(sms_id, UNDELIVERED[gateway.kind])])
    for status, _ in await _callback(api, gateway, statuses=[("424242", code)]):
        assert status == 200
    [row] = await _rows(runtime)
    assert (row.status, row.receipt) == ("sent", "delivered")
    log = (await api.get("/v1/guardians/g-1/notifications")).json()["items"]
    outcomes = [a["outcome"] for a in log[0]["attempts"]]
    assert outcomes.count("delivered") == 1 and "undelivered" not in outcomes


async def test_an_undelivered_sms_goes_by_the_next_channel(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, smtp: SmtpServer, pump
) -> None:
    await _parent(api, email="petr@parents.example.org")
    await _sms_first(api)
    await post_structured(api, mark("st-1", value="4", subject="Физика"))
    await pump()
    assert len(gateway.messages) == 1 and smtp.messages == []
    sms_id = await _provider_id(runtime)
    await _callback(api, gateway, statuses=[(sms_id, UNDELIVERED[gateway.kind])])
    await pump()
    assert len(smtp.messages) == 1  # by email now
    assert len(gateway.messages) == 1  # and not by SMS again
    [row] = await _rows(runtime)
    assert (row.status, row.channel, row.receipt) == ("sent", "email", "undelivered")
    async with runtime.sessions() as session:  # billed all the same: the month counts it
        school = await session.get(School, "s17")
        assert school is not None
        assert await spent_this_month(session, school, runtime.clock()) == 1
    # The same receipt again reopens nothing.
    await _callback(api, gateway, statuses=[(sms_id, UNDELIVERED[gateway.kind])])
    await pump()
    assert len(smtp.messages) == 1


async def test_an_undelivered_sms_without_another_channel_is_a_failure_for_paper(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, pump
) -> None:
    await _parent(api)
    await post_structured(api, mark("st-1"))
    await pump()
    await _callback(
        api, gateway, statuses=[(await _provider_id(runtime), UNDELIVERED[gateway.kind])]
    )
    await pump()
    [row] = await _rows(runtime)
    assert row.status in ("failed", "skipped") and row.channel is None
    assert len(gateway.messages) == 1


async def test_forged_and_hostile_callbacks_change_nothing(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, pump
) -> None:
    await _parent(api)
    await post_structured(api, mark("st-1"))
    await pump()
    sms_id = await _provider_id(runtime)
    undelivered_code = UNDELIVERED[gateway.kind]
    wrong = await gateway.post_callback(
        "/sms/callback/" + "x" * 40, client=api, statuses=[(sms_id, undelivered_code)]
    )
    assert {status for status, _ in wrong} == {403}
    if gateway.kind in ("smsru", "smsc"):  # a provider's own signature, forged
        forged = await gateway.post_callback(
            URL, client=api, secret="not-the-secret-" * 3, statuses=[(sms_id, undelivered_code)]
        )
        assert {status for status, _ in forged} == {422}  # InvalidInput, with its reason
    for body, content_type in (
        (b"\xff\xfe not json", "application/json"),
        (b'{"id": [1, 2], "status": "undelivered"}', "application/json"),
        (b"data[0]=%00%00&hash=1", "application/x-www-form-urlencoded"),
        (b"x" * 1_100_000, "application/octet-stream"),
    ):
        r = await api.post(URL, content=body, headers={"Content-Type": content_type})
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
        assert r.json()["error"]
    [row] = await _rows(runtime)
    assert (row.status, row.receipt) == ("sent", None)


async def test_callbacks_are_off_until_a_secret_is_set(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"sms_callback_secret": None})
    r = await api.post(URL, json={"id": "1", "status": "delivered"})
    assert r.status_code == 404 and "NOTIFIER_SMS_CALLBACK_SECRET" in r.text


async def test_stop_turns_non_urgent_categories_off_once_with_one_confirmation(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, pump
) -> None:
    await _parent(api)
    for status, _ in await _callback(api, gateway, incoming=[(PHONE, "Стоп!")]):
        assert status == 200
    async with runtime.sessions() as session:
        pref = await session.get(Preference, "g-1")
        assert pref is not None and pref.categories
        assert pref.categories["marks"] == "off" and "announcements" not in pref.categories
        trail = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.subject_id == "g-1"))
        )
        assert any(e.detail and e.detail.get("via") == "sms_stop" for e in trail)
    [confirmation] = gateway.messages_to(PHONE)
    assert "отписаны" in confirmation.text
    await _callback(api, gateway, incoming=[(PHONE, "STOP")])  # again: no second confirmation
    assert len(gateway.messages_to(PHONE)) == 1
    await post_structured(api, mark("st-1"))
    await pump()
    assert len(gateway.messages_to(PHONE)) == 1  # marks are off now
    r = await api.post(
        "/v1/announcements", json={"audience": {"class_ids": ["7b"]}, "text": "Собрание"}
    )
    assert r.status_code == 201
    await pump()
    assert "Собрание" in gateway.messages_to(PHONE)[-1].text  # the school still reaches them


async def test_the_monthly_budget_stops_sms_but_urgent_announcements(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, clock: FakeClock, pump
) -> None:
    await _parent(api)
    await put(api, "/v1/schools/s17", {"name": "Школа № 17", "sms_budget_month": 2})
    for value in ("5", "4", "3"):
        await post_structured(api, mark("st-1", value=value, mark_id=f"b-{value}"))
        await pump()
    assert len(gateway.messages) == 2
    rows = await _rows(runtime)
    assert [(r.status, r.reason) for r in rows][-1] == ("skipped", "over_budget")
    r = await api.post(
        "/v1/announcements",
        json={"audience": {"class_ids": ["7b"]}, "text": "Школа закрыта", "urgent": True},
    )
    assert r.status_code == 201
    await pump()
    assert len(gateway.messages) == 3 and "закрыта" in gateway.messages[-1].text
    # A new month: the budget is whole again.
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await post_structured(api, mark("st-1", value="5", mark_id="b-next"))
    await pump()
    assert len(gateway.messages) == 4


# -- SMPP: receipts and replies come on the bind ---------------------------------------------


@pytest.fixture
def smsc() -> Iterator[SmppServer]:
    with SmppServer() as server:
        yield server


@pytest.fixture
async def smpp_runtime(
    settings: Settings, smsc: SmppServer, clock: FakeClock
) -> AsyncIterator[Runtime]:
    runtime = build_runtime(
        settings.model_copy(
            update={
                "sms_provider": SmsProvider.smpp,
                "smpp_host": smsc.host,
                "smpp_port": smsc.port,
                "smpp_system_id": smsc.system_id,
                "smpp_password": SecretStr(smsc.password),
                "sms_timeout": 5.0,
            }
        ),
        clock=clock,
    )
    yield runtime
    await runtime.close()


async def _until(predicate, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
async def test_smpp_undelivered_receipt_on_the_bind_falls_back_to_email(
    api: httpx.AsyncClient,
    smpp_runtime: Runtime,
    smsc: SmppServer,
    smtp: SmtpServer,
) -> None:
    runtime = smpp_runtime
    await _parent(api, email="petr@parents.example.org")
    await _sms_first(api)
    smsc.outcome(PHONE, undelivered("EXPIRED", "027"))
    await post_structured(
        api,
        cloud_event(
            "journal.comment.created",
            {"student_id": "st-1", "text": "Очень длинный комментарий учителя. " * 5},
        ),
    )
    await run_until_idle(runtime)
    [message] = smsc.messages
    assert message.text.startswith("Смирнова") or "комментарий" in message.text

    async def reopened() -> bool:
        [row] = await _rows(runtime)
        return row.receipt == "undelivered"

    await _until(reopened)
    await run_until_idle(runtime)
    assert len(smtp.messages) == 1
    [row] = await _rows(runtime)
    assert (row.channel, row.status) == ("email", "sent")


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
async def test_smpp_stop_reply_on_the_bind(
    api: httpx.AsyncClient, smpp_runtime: Runtime, smsc: SmppServer
) -> None:
    runtime = smpp_runtime
    await _parent(api)
    sms = runtime.channels["sms"]
    await sms.gateway.start()  # type: ignore[attr-defined]
    await smsc.wait_for_binds(1)
    smsc.send_incoming(PHONE, "СТОП")

    async def stopped() -> bool:
        async with runtime.sessions() as session:
            pref = await session.get(Preference, "g-1")
            return bool(pref and (pref.categories or {}).get("marks") == "off")

    await _until(stopped)
    await smsc.wait_for(1)
    assert "отписаны" in smsc.messages[-1].text


async def test_at_80_percent_the_schools_admins_are_told_once_by_their_channel(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, smtp: SmtpServer, pump
) -> None:
    await _parent(api)
    await put(api, "/v1/schools/s17", {"name": "Школа № 17", "sms_budget_month": 5})
    await put(
        api,
        "/v1/staff/adm-1",
        {"school_id": "s17", "full_name": "Орлова Анна", "role": "admin", "email": "head@s17.ru"},
    )
    for value in ("5", "4", "3"):
        await post_structured(api, mark("st-1", value=value, mark_id=f"a-{value}"))
        await pump()
    assert (
        await alert_admins(
            sessions=runtime.sessions, channels=runtime.channels, now=runtime.clock()
        )
        == 0
    )
    await post_structured(api, mark("st-1", value="2", mark_id="a-2"))
    await pump()  # 4 of 5 segments: 80%
    assert (
        await alert_admins(
            sessions=runtime.sessions, channels=runtime.channels, now=runtime.clock()
        )
        == 1
    )
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["head@s17.ru"]
    body = str(mail.message.get_body(("plain",)).get_content())
    assert "80%" in body and "4 из 5" in body
    assert (
        await alert_admins(
            sessions=runtime.sessions, channels=runtime.channels, now=runtime.clock()
        )
        == 0
    )
    assert len(smtp.messages) == 1


async def test_smsc_status_query_finds_receipts_no_callback_brought(
    api: httpx.AsyncClient,
    runtime: Runtime,
    gateway: SmsGateway,
    smtp: SmtpServer,
    clock: FakeClock,
    pump,
) -> None:
    if gateway.kind != "smsc":
        pytest.skip("smsc.ru's status.php")
    await _parent(api, email="petr@parents.example.org")
    await _sms_first(api)
    await post_structured(api, mark("st-1"))
    await pump()
    sms_id = await _provider_id(runtime)
    sms = runtime.channels["sms"]
    poll = {"sessions": runtime.sessions, "gateway": sms.gateway}  # type: ignore[attr-defined]
    gateway.set_status(sms_id, 20)  # the operator could not deliver it
    assert (await poll_receipts(now=runtime.clock(), **poll)).undelivered == 0  # too early
    clock.advance(11 * 60)
    assert (await poll_receipts(now=runtime.clock(), **poll)).undelivered == 1
    await pump()
    assert len(smtp.messages) == 1
    assert (await poll_receipts(now=runtime.clock(), **poll)).undelivered == 0  # asked once
