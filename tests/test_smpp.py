"""The SMPP gateway (notifier/channels/smpp.py) against a local SMSC (tests/servers/smpp_server.py):
encodings and concatenation, receipts in every form, the bind's loss and return, the window,
and the errors mapped to transient or permanent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from notifier.channels.smpp import PartIds, SmppGateway, parse_deliver_sm, parse_receipt
from notifier.channels.sms_provider import Receipt, ReceiptState
from notifier.channels.sms_text import measure
from notifier.config import Settings, SmsProvider
from notifier.errors import PermanentDelivery, TransientDelivery
from tests.servers.smpp_server import (
    ESME_RINVPASWD,
    ESME_RMSGQFUL,
    ESME_RSYSERR,
    ESME_RTHROTTLED,
    NO_RECEIPT,
    Outcome,
    SmppServer,
    deliver_sm_body,
    receipt_body,
    undelivered,
)

PHONE = "+79161234567"
OTHER = "+79167654321"
ESME_RX_T_APPN = 0x64


class Collected:
    """A receipt sink or an incoming-SMS sink that keeps what it gets."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self.fail = 0  # the next `fail` calls raise

    async def __call__(self, *item: object) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("sink is down")
        self.items.append(item[0] if len(item) == 1 else item)

    async def wait_for(self, n: int, timeout: float = 5) -> list[object]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while len(self.items) < n:
                await asyncio.sleep(0.01)
        return list(self.items)


def smpp_settings(server: SmppServer, **more: object) -> Settings:
    values: dict[str, object] = {
        "sms_provider": SmsProvider.smpp,
        "smpp_host": server.host,
        "smpp_port": server.port,
        "smpp_system_id": server.system_id,
        "smpp_password": SecretStr(server.password),
        "smpp_source_addr": "School17",
        "sms_timeout": 5.0,
    }
    values.update(more)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def smsc() -> Iterator[SmppServer]:
    with SmppServer() as server:
        yield server


@pytest.fixture
def receipts() -> Collected:
    return Collected()


@pytest.fixture
def inbox() -> Collected:
    return Collected()


def make_gateway(
    smsc: SmppServer, receipts: Collected, inbox: Collected | None = None, **more: object
) -> SmppGateway:
    return SmppGateway(
        smpp_settings(smsc, **more),
        receipts=receipts,
        incoming=inbox,
        enquire_link_seconds=0.2,
        backoff_seconds=0.05,
        backoff_max_seconds=0.2,
    )


@pytest.fixture
async def gateway(
    smsc: SmppServer, receipts: Collected, inbox: Collected
) -> AsyncIterator[SmppGateway]:
    gw = make_gateway(smsc, receipts, inbox)
    try:
        yield gw
    finally:
        await gw.close()


async def send(gw: SmppGateway, text: str, phone: str = PHONE) -> tuple[str, int]:
    submitted = await gw.submit(phone, text, segments=measure(text).segments, ref="n-1")
    assert submitted.provider_id is not None
    return submitted.provider_id, submitted.segments


# -- What goes out ---------------------------------------------------------------------------


async def test_short_latin_text_one_part_then_unbind(
    gateway: SmppGateway, smsc: SmppServer, receipts: Collected
) -> None:
    provider_id, segments = await send(gateway, "Hello from School 17: Math at 10:00")
    (message,) = await smsc.wait_for(1)
    (part,) = message.parts
    assert (provider_id, segments) == (part.message_id, 1)
    assert message.text == "Hello from School 17: Math at 10:00"
    assert (part.destination, part.destination_ton) == ("79161234567", 1)
    assert (part.source, part.source_ton) == ("School17", 5)  # alphanumeric sender
    assert (part.data_coding, part.esm_class, part.udh) == (0, 0, b"")
    assert part.registered_delivery == 1
    assert [(b.mode, b.status) for b in smsc.binds] == [("transceiver", 0)]
    (receipt,) = await receipts.wait_for(1)
    assert receipt == Receipt("smpp", provider_id, ReceiptState.delivered, "DELIVRD err:000")
    await gateway.close()
    assert smsc.unbinds == 1


async def test_long_cyrillic_text_goes_as_ucs2_parts_the_smsc_reassembles(
    gateway: SmppGateway, smsc: SmppServer
) -> None:
    text = "Завтра в 7Б контрольная по алгебре, повторите параграфы 12–14. " * 3
    provider_id, segments = await send(gateway, text.strip())
    (message,) = await smsc.wait_for(1)
    assert message.text == text.strip()
    assert segments == len(message.parts) == measure(text.strip()).segments == 3
    assert provider_id == message.parts[0].message_id
    reference = message.parts[0].reference
    assert reference is not None
    for index, part in enumerate(message.parts, start=1):
        assert (part.data_coding, part.esm_class & 0x40) == (8, 0x40)
        assert part.udh == bytes((5, 0, 3, reference, 3, index))
        assert part.octets <= 140
    assert [len(p.text) for p in message.parts] == [67, 67, len(text.strip()) - 134]


async def test_a_surrogate_pair_is_never_split_between_parts(
    gateway: SmppGateway, smsc: SmppServer
) -> None:
    text = "я" * 66 + "😀" + "ю" * 10  # the emoji's two units would straddle unit 67
    await send(gateway, text)
    (message,) = await smsc.wait_for(1)
    assert message.text == text
    assert [p.text for p in message.parts] == ["я" * 66, "😀" + "ю" * 10]


async def test_long_gsm7_text_in_153_septet_parts_escapes_kept_whole(
    gateway: SmppGateway, smsc: SmppServer
) -> None:
    # "€" takes two septets (escape + code); put one across the 153-septet boundary.
    text = "a" * 152 + "€" + "b" * 100 + " {curly} [square]"
    _, segments = await send(gateway, text)
    (message,) = await smsc.wait_for(1)
    assert message.text == text
    assert segments == 2 == measure(text).segments
    first, second = message.parts
    assert first.data_coding == second.data_coding == 0
    assert first.text == "a" * 152  # the escape pair moved whole into part two
    assert all(p.status == 0 for p in smsc.parts)  # the SMSC checks 160 septets a part


# -- Receipts --------------------------------------------------------------------------------


async def test_receipts_of_every_part_come_under_the_first_parts_id(
    gateway: SmppGateway, smsc: SmppServer, receipts: Collected
) -> None:
    smsc.outcome(OTHER, undelivered("UNDELIV", "001"))
    long_id, _ = await send(gateway, "Длинное сообщение о собрании родителей в пятницу. " * 2)
    failed_id, _ = await send(gateway, "Short one", phone=OTHER)
    got = await receipts.wait_for(3)
    assert sorted(got, key=str) == sorted(
        [
            Receipt("smpp", long_id, ReceiptState.delivered, "DELIVRD err:000"),
            Receipt("smpp", long_id, ReceiptState.delivered, "DELIVRD err:000"),
            Receipt("smpp", failed_id, ReceiptState.undelivered, "UNDELIV err:001"),
        ],
        key=str,
    )
    assert len(gateway.part_ids) == 1  # only later parts are mapped


@pytest.mark.parametrize("form", ["tlv", "both"])
async def test_receipts_in_tlvs(
    gateway: SmppGateway, smsc: SmppServer, receipts: Collected, form: str
) -> None:
    smsc.outcome(PHONE, Outcome(stat="EXPIRED", err="027", form=form))  # type: ignore[arg-type]
    provider_id, _ = await send(gateway, "Hello")
    (receipt,) = await receipts.wait_for(1)
    assert receipt == Receipt("smpp", provider_id, ReceiptState.undelivered, "EXPIRED err:027")


async def test_duplicates_late_out_of_order_and_unknown_ids_are_passed_on_as_they_come(
    gateway: SmppGateway, smsc: SmppServer, receipts: Collected
) -> None:
    smsc.outcome(PHONE, Outcome(copies=2, delay=0.2))
    smsc.outcome(OTHER, Outcome(out_of_order=True))
    twice, _ = await send(gateway, "Twice")
    shuffled, _ = await send(gateway, "Порядок " * 10, phone=OTHER)  # two UCS-2 parts
    await receipts.wait_for(6)
    smsc.send_receipt("deadbeef", "DELIVRD")  # an id we never had
    got = await receipts.wait_for(7)
    assert [r for r in got if r.provider_id == twice] == [  # type: ignore[attr-defined]
        Receipt("smpp", twice, ReceiptState.delivered, "DELIVRD err:000")
    ] * 2
    assert [r.state for r in got if r.provider_id == shuffled] == [  # type: ignore[attr-defined]
        ReceiptState.delivered,
        ReceiptState.delivered,
        ReceiptState.pending,  # ENROUTE after the final state: the applier keeps the final
        ReceiptState.pending,
    ]
    assert got[-1] == Receipt("smpp", "deadbeef", ReceiptState.delivered, "DELIVRD err:000")


async def test_malformed_deliver_sm_is_answered_and_the_bind_goes_on(
    gateway: SmppGateway, smsc: SmppServer, receipts: Collected
) -> None:
    await gateway.start()
    cut_short = smsc.send_deliver_sm(b"\x00\x01\x01791")
    no_id = smsc.send_deliver_sm(
        deliver_sm_body("79161234567", "School17", 0x04, 0, b"stat:DELIVRD", b"")
    )
    bad_tlv = smsc.send_deliver_sm(
        receipt_body("1", "DELIVRD", "000", "text", "7916")[:-3] + b"\x04\x27\x00\x09"
    )
    assert cut_short and no_id and bad_tlv
    for sequence in (cut_short, no_id, bad_tlv):
        assert await smsc.wait_for_resp(sequence) == 0
    odd = smsc.send_deliver_sm(receipt_body("77", "D?LIV", "0F3", "text", "7916"))
    assert odd and await smsc.wait_for_resp(odd) == 0
    provider_id, _ = await send(gateway, "Still here")
    got = await receipts.wait_for(2)
    assert got == [
        Receipt("smpp", "77", ReceiptState.pending, "D?LIV err:0F3"),  # unknown state: not final
        Receipt("smpp", provider_id, ReceiptState.delivered, "DELIVRD err:000"),
    ]


async def test_a_failing_sink_asks_the_smsc_to_send_the_receipt_again(
    gateway: SmppGateway, smsc: SmppServer, receipts: Collected
) -> None:
    await gateway.start()
    receipts.fail = 1
    first = smsc.send_receipt("abc", "DELIVRD")
    assert first and await smsc.wait_for_resp(first) == ESME_RX_T_APPN
    again = smsc.send_receipt("abc", "DELIVRD")
    assert again and await smsc.wait_for_resp(again) == 0
    assert await receipts.wait_for(1) == [
        Receipt("smpp", "abc", ReceiptState.delivered, "DELIVRD err:000")
    ]


def test_receipt_text_forms() -> None:
    def fields(text: bytes, tlvs: bytes = b"") -> tuple[str, str | None, str | None] | None:
        return parse_receipt(parse_deliver_sm(deliver_sm_body("7916", "S", 0x04, 0, text, tlvs)))

    assert fields(
        b"id:0A1 sub:001 dlvrd:001 submit date:2511230900 done date:2511230901 "
        b"stat:DELIVRD err:000 Text:id:zzz stat:UNDELIV"
    ) == ("0A1", "DELIVRD", "000")
    assert fields(b"ID:42 STAT:undeliv ERR:5") == ("42", "UNDELIV", "5")
    assert fields(b"stat:DELIVRD err:000") is None
    rid = b"\x00\x1e\x00\x04xyz\x00"
    assert fields(b"stat:ACCEPTD", rid) == ("xyz", "ACCEPTD", None)
    assert fields(b"", rid + b"\x04\x27\x00\x01\x08") == ("xyz", "REJECTD", None)


# -- The bind --------------------------------------------------------------------------------


async def test_a_dropped_bind_is_restored_and_the_next_submit_goes_through(
    gateway: SmppGateway, smsc: SmppServer, receipts: Collected
) -> None:
    await send(gateway, "Before")
    assert smsc.drop_connection() == 1
    await smsc.wait_for_binds(2)
    after, _ = await send(gateway, "After")
    messages = await smsc.wait_for(2)
    assert [m.text for m in messages] == ["Before", "After"]
    got = await receipts.wait_for(2)
    assert got[-1].provider_id == after  # type: ignore[attr-defined]


async def test_enquire_link_keeps_the_bind(gateway: SmppGateway, smsc: SmppServer) -> None:
    await gateway.start()
    await asyncio.sleep(0.7)
    assert smsc.enquire_links >= 2 and gateway.bound


async def test_receipts_due_while_unbound_arrive_on_the_next_bind(
    smsc: SmppServer, receipts: Collected
) -> None:
    assert smsc.send_receipt("early", "DELIVRD") is None  # nothing bound: the SMSC keeps it
    gw = make_gateway(smsc, receipts)
    try:
        await gw.start()
        assert await receipts.wait_for(1) == [
            Receipt("smpp", "early", ReceiptState.delivered, "DELIVRD err:000")
        ]
    finally:
        await gw.close()


async def test_wrong_password_is_transient_names_the_setting_and_logs_once(
    smsc: SmppServer, receipts: Collected, caplog: pytest.LogCaptureFixture
) -> None:
    gw = make_gateway(smsc, receipts, smpp_password=SecretStr("wrong"))
    try:
        with caplog.at_level(logging.INFO, logger="notifier.channels.smpp"):
            for _ in range(3):
                with pytest.raises(TransientDelivery) as caught:
                    await send(gw, "Hello")
                assert "NOTIFIER_SMPP_PASSWORD" in caught.value.reason
                assert "ESME_RINVPASWD" in caught.value.reason
                await asyncio.sleep(0.3)  # the gateway binds again meanwhile, and is refused
    finally:
        await gw.close()
    assert sum(b.status == ESME_RINVPASWD for b in smsc.binds) >= 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["smpp.bind_refused"]
    assert not smsc.parts


async def test_credentials_longer_than_smpp_allows_name_the_settings(
    smsc: SmppServer, receipts: Collected
) -> None:
    gw = make_gateway(smsc, receipts, smpp_password=SecretStr("123456789"))
    try:
        with pytest.raises(TransientDelivery, match="NOTIFIER_SMPP_PASSWORD at most 8"):
            await send(gw, "Hello")
    finally:
        await gw.close()
    assert not smsc.binds


async def test_no_smsc_is_transient(receipts: Collected) -> None:
    server = SmppServer()
    server.start()
    server.stop()  # a port nothing listens on
    gw = make_gateway(server, receipts)
    try:
        with pytest.raises(TransientDelivery, match="NOTIFIER_SMPP_HOST"):
            await send(gw, "Hello")
    finally:
        await gw.close()


# -- Throughput and errors -------------------------------------------------------------------


async def test_the_window_is_honoured(smsc: SmppServer, receipts: Collected) -> None:
    smsc.window, smsc.respond_delay = 3, 0.1
    smsc.default_outcome = NO_RECEIPT
    gw = make_gateway(smsc, receipts, smpp_window=3)
    try:
        results = await asyncio.gather(*(send(gw, f"Message {i}") for i in range(10)))
    finally:
        await gw.close()
    assert len({provider_id for provider_id, _ in results}) == 10
    assert smsc.max_outstanding == 3 and smsc.throttled == 0


async def test_throttled_beyond_the_smscs_window_is_transient(
    smsc: SmppServer, receipts: Collected
) -> None:
    smsc.window, smsc.respond_delay = 1, 0.2
    smsc.default_outcome = NO_RECEIPT
    gw = make_gateway(smsc, receipts, smpp_window=4)
    try:
        results = await asyncio.gather(
            *(send(gw, f"Message {i}") for i in range(4)), return_exceptions=True
        )
    finally:
        await gw.close()
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed and all(isinstance(r, TransientDelivery) for r in failed)
    assert {r.reason for r in failed} == {"smpp ESME_RTHROTTLED"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (ESME_RTHROTTLED, "smpp ESME_RTHROTTLED"),
        (ESME_RMSGQFUL, "smpp ESME_RMSGQFUL"),
        (ESME_RSYSERR, "smpp ESME_RSYSERR"),
        (0x0400, "smpp 0x00000400"),  # a vendor's own code
    ],
)
async def test_smsc_trouble_is_transient(
    gateway: SmppGateway, smsc: SmppServer, status: int, reason: str
) -> None:
    smsc.fail_next(status)
    with pytest.raises(TransientDelivery) as caught:
        await send(gateway, "Hello")
    assert caught.value.reason == reason
    await send(gateway, "Hello again")  # the next one goes


async def test_a_later_part_throttled_is_sent_again_not_the_whole_message(
    gateway: SmppGateway, smsc: SmppServer
) -> None:
    smsc.fail_next(ESME_RTHROTTLED, after=1)
    text = "Родительское собрание в четверг в 18:00, кабинет 214. " * 2
    provider_id, _ = await send(gateway, text)
    (message,) = await smsc.wait_for(1)
    assert message.text == text and provider_id == message.parts[0].message_id
    assert [(p.index, p.status) for p in smsc.parts] == [(1, 0), (2, ESME_RTHROTTLED), (2, 0)]


async def test_a_bad_number_is_permanent_and_unusable(
    gateway: SmppGateway, smsc: SmppServer
) -> None:
    smsc.reject_number(OTHER)
    with pytest.raises(PermanentDelivery) as caught:
        await send(gateway, "Hello", phone=OTHER)
    assert caught.value.unusable and caught.value.reason == "smpp ESME_RINVDSTADR"
    with pytest.raises(PermanentDelivery) as not_a_number:
        await send(gateway, "Hello", phone="+7 (916) abc")
    assert not_a_number.value.unusable


# -- Incoming SMS ----------------------------------------------------------------------------


async def test_a_stop_reply_reaches_incoming(
    gateway: SmppGateway, smsc: SmppServer, inbox: Collected
) -> None:
    await gateway.start()
    smsc.send_incoming(PHONE, "STOP")
    smsc.send_incoming(OTHER, "СТОП")
    long_reply = "Спасибо, мы прочитали сообщение о собрании и обязательно придём! " * 2
    smsc.send_incoming(PHONE, long_reply, parts=3)
    got = await inbox.wait_for(3)
    assert got == [(PHONE, "STOP"), (OTHER, "СТОП"), (PHONE, long_reply)]


# -- The part map ----------------------------------------------------------------------------


def test_part_ids_are_kept_for_their_ttl_and_bounded() -> None:
    now = [0.0]
    ids = PartIds(ttl=3 * 24 * 3600, limit=3, clock=lambda: now[0])
    ids.add("first", ["second", "third"])
    assert ids.first("third") == "first" and ids.first("first") == "first"
    assert ids.first("unknown") == "unknown"
    ids.add("a", ["b", "c"])  # over the bound: the oldest goes
    assert ids.first("second") == "second" and ids.first("c") == "a"
    now[0] += 3 * 24 * 3600 + 1
    assert ids.first("c") == "c" and len(ids) == 0
