"""SMS through smsc.ru's HTTP API: the gateway on its own, through SmsChannel, and end to end
(journal event in, SMS out) against the local smsc.ru of tests/servers/sms_server.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from notifier.channels.base import Recipient
from notifier.channels.ratelimit import RateLimiter
from notifier.channels.sms import SmsChannel, gateway_for
from notifier.channels.sms_provider import ReceiptState
from notifier.channels.smsc import SmscGateway
from notifier.config import Settings, SmsProvider
from notifier.errors import PermanentDelivery, TransientDelivery
from tests.factories import cloud_event, post_structured, put, school_with_class
from tests.servers.sms_server import SmsGateway

PHONE = "+79161234567"
KEY = "smsc-key"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CYRILLIC_2 = "Домашнее задание по литературе: прочитать главы 5–9 и ответить на вопросы."


@pytest.fixture
def smsc() -> Iterator[SmsGateway]:
    with SmsGateway("smsc", api_key=KEY, price=2.5, balance=100.0) as server:
        yield server


def _settings(tmp_path: Path, redis_url: str, smsc: SmsGateway, **update: object) -> Settings:
    fields: dict[str, object] = {
        "redis_url": redis_url,
        "data_dir": tmp_path / "var",
        "sms_provider": SmsProvider.smsc,
        "sms_url": smsc.url,
        "sms_api_key": SecretStr(KEY),
        "sms_sender": "School17",
        "sms_timeout": 2.0,
    }
    return Settings(**(fields | update))


@pytest.fixture
async def channel(tmp_path: Path, redis_clean: str, smsc: SmsGateway) -> AsyncIterator[SmsChannel]:
    redis = Redis.from_url(redis_clean)
    sms = SmsChannel(_settings(tmp_path, redis_clean, smsc), RateLimiter(redis))
    try:
        yield sms
    finally:
        await sms.close()
        await redis.aclose()


@pytest.fixture
async def gateway(tmp_path: Path, redis_clean: str, smsc: SmsGateway) -> AsyncIterator[SmscGateway]:
    own = SmscGateway(_settings(tmp_path, redis_clean, smsc))
    try:
        yield own
    finally:
        await own.close()


def _to(phone: str = PHONE) -> Recipient:
    return Recipient(guardian_id="g-1", name="Смирнов Пётр", phone=phone)


async def test_send_reads_id_segments_and_cost(channel: SmsChannel, smsc: SmsGateway) -> None:
    assert isinstance(channel.gateway, SmscGateway)
    result = await channel.send(_to(), "Оценка: 5 по английскому", ref="r-1", now=NOW)
    [sms] = smsc.messages
    assert (sms.to, sms.text, sms.sender) == (PHONE, "Оценка: 5 по английскому", "School17")
    assert result.provider_id == sms.id and result.segments == 1
    assert result.cost == Decimal("2.50")
    # What smsc.ru was asked: JSON answers in utf-8, the price with the send, the "+" kept.
    assert {k: smsc.last_params[k] for k in ("fmt", "charset", "cost", "phones", "sender")} == {
        "fmt": "3",
        "charset": "utf-8",
        "cost": "3",
        "phones": PHONE,
        "sender": "School17",
    }
    result = await channel.send(_to(), CYRILLIC_2, ref="r-2", now=NOW)
    assert result.segments == 2 and result.cost == Decimal("5.00")
    assert smsc.balance == pytest.approx(100 - 7.5)


async def test_sender_unset_is_not_sent(tmp_path: Path, redis_clean: str, smsc: SmsGateway) -> None:
    own = SmscGateway(_settings(tmp_path, redis_clean, smsc, sms_sender=None))
    try:
        submitted = await own.submit(PHONE, "Hello", segments=1, ref="r-1")
    finally:
        await own.close()
    assert "sender" not in smsc.last_params and smsc.messages[0].sender is None
    assert submitted.segments == 1 and submitted.cost == Decimal("2.50")


@pytest.mark.parametrize(
    ("code", "permanent", "unusable"),
    [
        (1, True, False),  # parameters
        (2, True, False),  # our key
        (3, True, False),  # no money: our account's, the number is fine
        (4, False, False),  # our IP blocked for a while
        (5, True, False),  # date format
        (6, True, False),  # forbidden text or sender: our account's
        (7, True, True),  # bad number
        (8, True, True),  # cannot be delivered to this number
        (9, False, False),  # flood
        (77, True, False),  # a code we do not know: not retried for ever
    ],
)
async def test_error_codes(
    channel: SmsChannel, smsc: SmsGateway, code: int, permanent: bool, unusable: bool
) -> None:
    smsc.fail_next_smsc(code)
    expected = PermanentDelivery if permanent else TransientDelivery
    with pytest.raises(expected) as caught:
        await channel.send(_to(), "Оценка: 5", ref="r-1", now=NOW)
    assert caught.value.reason.startswith(f"smsc.ru {code}")
    if isinstance(caught.value, PermanentDelivery):
        assert caught.value.unusable is unusable
    else:
        assert caught.value.retry_after == (60.0 if code == 9 else None)
    assert smsc.messages == []
    await channel.send(_to(), "Оценка: 5", ref="r-1", now=NOW)  # the fault was one-off
    assert len(smsc.messages) == 1


async def test_errors_the_fake_finds_itself(
    tmp_path: Path, redis_clean: str, smsc: SmsGateway
) -> None:
    """The same classes when smsc.ru (here its fake) decides, not a programmed fault."""

    async def outcome(gateway: SmscGateway, phone: str = PHONE) -> tuple[str, bool]:
        with pytest.raises(PermanentDelivery) as caught:
            await gateway.submit(phone, "Оценка: 5", segments=1, ref="r")
        return caught.value.reason.split()[1], caught.value.unusable

    wrong_key = SmscGateway(_settings(tmp_path, redis_clean, smsc, sms_api_key=SecretStr("x")))
    right = SmscGateway(_settings(tmp_path, redis_clean, smsc))
    try:
        assert await outcome(wrong_key) == ("2", False)
        smsc.reject_number("+79160000000")
        assert await outcome(right, "+79160000000") == ("8", True)
        assert await outcome(right, "+7916") == ("7", True)
        smsc.forbid_sender("School17")
        assert await outcome(right) == ("6", False)
        smsc.clear()
        smsc.balance = 1.0
        assert await outcome(right) == ("3", False)
    finally:
        await wrong_key.close()
        await right.close()
    assert smsc.messages == []


async def test_http_trouble(channel: SmsChannel, smsc: SmsGateway) -> None:
    smsc.fail_next(503)
    with pytest.raises(TransientDelivery, match="HTTP 503"):
        await channel.send(_to(), "x", ref="r", now=NOW)
    smsc.fail_next(429)
    with pytest.raises(TransientDelivery, match="HTTP 429"):
        await channel.send(_to(), "x", ref="r", now=NOW)
    smsc.fail_next(404)  # a wrong NOTIFIER_SMS_URL: retrying will not help
    with pytest.raises(PermanentDelivery, match="NOTIFIER_SMS_URL") as caught:
        await channel.send(_to(), "x", ref="r", now=NOW)
    assert caught.value.unusable is False
    smsc.delay_next(3.0, deliver=False)  # longer than sms_timeout
    with pytest.raises(TransientDelivery, match="TimeoutError"):
        await channel.send(_to(), "x", ref="r", now=NOW)
    assert smsc.messages == []


async def test_server_gone_is_transient(tmp_path: Path, redis_clean: str, smsc: SmsGateway) -> None:
    settings = _settings(tmp_path, redis_clean, smsc)
    smsc.stop()
    own = SmscGateway(settings)
    try:
        with pytest.raises(TransientDelivery, match=r"smsc\.ru: ConnectionRefusedError"):
            await own.submit(PHONE, "x", segments=1, ref="r")
        with pytest.raises(TransientDelivery):
            await own.status("1", PHONE)
    finally:
        await own.close()


async def test_status_query(gateway: SmscGateway, smsc: SmsGateway) -> None:
    submitted = await gateway.submit(PHONE, "Оценка: 5", segments=1, ref="r-1")
    assert submitted.provider_id is not None
    message_id = submitted.provider_id
    receipt = await gateway.status(message_id, PHONE)
    assert (receipt.provider, receipt.provider_id, receipt.state, receipt.detail) == (
        "smsc",
        message_id,
        ReceiptState.pending,
        "0",
    )
    smsc.set_status(message_id, 1)
    assert (await gateway.status(message_id, PHONE)).state is ReceiptState.delivered
    smsc.set_status(message_id, 20, err=1)
    receipt = await gateway.status(message_id, PHONE)
    assert (receipt.state, receipt.detail) == (ReceiptState.undelivered, "20 err 1")
    # A message smsc.ru does not know (-3) changes nothing.
    assert (await gateway.status("999", PHONE)).state is ReceiptState.pending
    assert (await gateway.status(message_id, "+79990000000")).detail == "-3"


async def test_status_query_with_a_wrong_key(
    tmp_path: Path, redis_clean: str, smsc: SmsGateway
) -> None:
    own = SmscGateway(_settings(tmp_path, redis_clean, smsc, sms_api_key=SecretStr("x")))
    try:
        with pytest.raises(PermanentDelivery, match=r"smsc\.ru 2") as caught:
            await own.status("1", PHONE)
    finally:
        await own.close()
    assert caught.value.unusable is False


async def test_gateway_for_builds_the_providers_gateway_and_none_for_file(
    tmp_path: Path, redis_clean: str, smsc: SmsGateway
) -> None:
    settings = _settings(tmp_path, redis_clean, smsc)
    gateway = gateway_for(settings)
    assert isinstance(gateway, SmscGateway)
    await gateway.submit(PHONE, "x", segments=1, ref="r")
    await gateway.submit(PHONE, "y", segments=1, ref="r")
    await gateway.close()
    assert len(smsc.messages) == 2
    assert gateway_for(settings.model_copy(update={"sms_provider": SmsProvider.file})) is None


def test_smsc_needs_no_url(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, sms_provider=SmsProvider.smsc, sms_api_key=SecretStr(KEY)
    )
    gateway = SmscGateway(settings)
    assert gateway.base == "https://smsc.ru"  # the documented default


# -- end to end ------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings, smsc: SmsGateway) -> Settings:
    return settings.model_copy(
        update={
            "sms_provider": SmsProvider.smsc,
            "sms_url": smsc.url,
            "sms_api_key": SecretStr(KEY),
            "sms_sender": "School17",
        }
    )


async def _phone_only_parent(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await put(
        api,
        "/v1/students/st-1",
        {"school_id": "s17", "class_id": "7b", "full_name": "Смирнова Александра Петровна"},
    )
    await put(
        api,
        "/v1/guardians/g-1",
        {"full_name": "Смирнов Пётр", "phone": PHONE, "student_ids": ["st-1"]},
    )
    r = await api.post("/v1/guardians/g-1/consent", json={"document": "Заявление"})
    assert r.status_code == 201


def _homework(homework_id: str = "hw-1") -> dict[str, object]:
    return cloud_event(
        "journal.homework.assigned",
        {
            "homework_id": homework_id,
            "class_id": "7b",
            "subject": "Литература",
            "text": "Прочитать главы 5–9 романа «Капитанская дочка», ответить письменно на "
            "вопросы 1–12 на странице 134.",
            "due_date": "2026-11-25",
        },
    )


async def test_homework_reaches_the_parent_through_smsc(
    api: httpx.AsyncClient, smsc: SmsGateway, pump
) -> None:
    await _phone_only_parent(api)
    await post_structured(api, _homework())
    await pump()
    [sms] = smsc.messages
    assert sms.to == PHONE and "Литература" in sms.text and sms.sender == "School17"
    [entry] = (await api.get("/v1/guardians/g-1/notifications")).json()["items"]
    assert entry["status"] == "sent" and entry["channel"] == "sms" and entry["segments"] == 2


async def test_no_money_fails_the_message_not_the_number(
    api: httpx.AsyncClient, smsc: SmsGateway, pump
) -> None:
    await _phone_only_parent(api)
    smsc.fail_next_smsc(3)
    await post_structured(api, _homework("hw-1"))
    await pump()
    await post_structured(api, _homework("hw-2"))
    await pump()
    entries = (await api.get("/v1/guardians/g-1/notifications")).json()["items"]
    assert sorted(e["status"] for e in entries) == ["failed", "sent"]
    [failed] = [e for e in entries if e["status"] == "failed"]
    assert failed["reason"].startswith("sms: smsc.ru 3")
    assert smsc.requests == 2 and len(smsc.messages) == 1  # the number was tried again
