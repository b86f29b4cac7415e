"""Delivery receipts and incoming SMS as the providers POST them: the parsers and their checks
(notifier/channels/sms_callbacks.py), fed by hand-made bodies and by the bodies the local
providers of tests/servers/sms_server.py send to a real HTTP endpoint."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from notifier.channels.sms_callbacks import (
    MAX_ITEMS,
    SMSRU_ANSWER,
    CallbackBatch,
    IncomingSms,
    http_callback,
    smsc_callback,
    smsc_receipt,
    smsru_callback,
    smsru_state,
)
from notifier.channels.sms_provider import Receipt, ReceiptState
from notifier.errors import InvalidInput
from tests.servers.sms_server import SmsGateway

D, U, P = ReceiptState.delivered, ReceiptState.undelivered, ReceiptState.pending
API_ID = "SMSRU-API-ID"
SECRET = "smsc-callback-secret"


def _smsru_form(entries: list[str], *, key: str = API_ID) -> dict[str, str]:
    form = {f"data[{i}]": entry for i, entry in enumerate(entries)}
    form["hash"] = hashlib.sha256((key + "".join(entries)).encode()).hexdigest()
    return form


def _smsc_form(
    id_: str = "12", phone: str = "79161234567", status: str = "1", **extra: str
) -> dict[str, str]:
    digest = hashlib.md5(f"{id_}:{phone}:{status}:{SECRET}".encode()).hexdigest()
    return {"id": id_, "phone": phone, "status": status, "err": "0", "md5": digest} | extra


def _reason(call: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.reason and ":" in caught.value.reason
    return caught.value


# -- code tables -----------------------------------------------------------------------------


def test_smsru_codes() -> None:
    table = {-1: P, 100: P, 101: P, 102: P, 103: D, 110: D, 150: U, 999: P}
    table |= dict.fromkeys((104, 105, 106, 107, 108), U)
    assert {code: smsru_state(code) for code in table} == table


def test_smsc_codes() -> None:
    table = {-3: P, -2: P, -1: P, 0: P, 1: D, 2: D, 4: D, 3: U, 20: U, 22: U, 23: U, 24: U}
    table |= {25: U, 42: P}
    assert {code: smsc_receipt("1", code, None).state for code in table} == table
    assert smsc_receipt("7", 20, 1) == Receipt("smsc", "7", U, "20 err 1")
    assert smsc_receipt("7", 1, 0).detail == "1"


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("STOP", True),
        ("stop", True),
        ("СТОП", True),
        ("Стоп!", True),
        ("  стоп. больше не присылайте", True),
        ("Stop\nplease", True),
        ("STOPPED", False),
        ("не стоп", False),
        ("", False),
        ("Спасибо", False),
    ],
)
def test_stop_words(text: str, stop: bool) -> None:
    assert IncomingSms("+79161234567", text).is_stop is stop


# -- SMS.ru ----------------------------------------------------------------------------------


def test_smsru_receipts_and_incoming() -> None:
    entries = [
        "sms_status\n000000-10000001\n103\n1700000000",
        "sms_status\n000000-10000002\n104\n1700000001",
        "sms_status\n000000-10000003\n102\n1700000002",
        "callcheck_status\n201937-1000000\n401\n1700000003",  # not ours: skipped
        "callback_receive\n55\n79161234567\nСТОП",
        "sms_incoming\n56\n8 (916) 765-43-21\nДобрый день!\nВторая строка",
    ]
    batch = smsru_callback(_smsru_form(entries), api_key=API_ID)
    assert batch.receipts == (
        Receipt("smsru", "000000-10000001", D, "103"),
        Receipt("smsru", "000000-10000002", U, "104"),
        Receipt("smsru", "000000-10000003", P, "102"),
    )
    assert batch.incoming == (
        IncomingSms("+79161234567", "СТОП"),
        IncomingSms("+79167654321", "Добрый день!\nВторая строка"),
    )
    assert [sms.is_stop for sms in batch.incoming] == [True, False]
    assert SMSRU_ANSWER == "100"


def test_smsru_duplicates_and_order() -> None:
    entries = [f"sms_status\n000000-1\n{code}\n1" for code in (102, 102, 103)]
    entries += ["sms_status\n999999-9\n103\n1"]  # an id we never sent: passes through
    batch = smsru_callback(_smsru_form(entries), api_key=API_ID)
    assert [(r.provider_id, r.state) for r in batch.receipts] == [
        ("000000-1", P),
        ("000000-1", D),
        ("999999-9", D),
    ]
    # data[10] comes after data[9], not after data[1]: the hash is over the numeric order.
    many = [f"sms_status\n000000-{i}\n103\n1" for i in range(12)]
    form = _smsru_form(many)
    shuffled = dict(sorted(form.items(), key=lambda kv: kv[0]))  # data[10] before data[2]
    batch = smsru_callback(shuffled, api_key=API_ID)
    assert [r.provider_id for r in batch.receipts] == [f"000000-{i}" for i in range(12)]


def test_smsru_lists_as_a_form_parser_gives_them() -> None:
    entry = "sms_status\n000000-1\n103\n1"
    form: dict[str, Any] = {"data[0]": [entry], "hash": [_smsru_form([entry])["hash"]]}
    assert smsru_callback(form, api_key=API_ID).receipts[0].state is D


def test_smsru_signature() -> None:
    entries = ["sms_status\n000000-1\n103\n1"]
    forged = _smsru_form(entries, key="someone-else")
    assert _reason(lambda: smsru_callback(forged, api_key=API_ID)).field == "hash"
    # Changing a status after signing breaks the hash.
    tampered = _smsru_form(entries) | {"data[0]": "sms_status\n000000-1\n104\n1"}
    assert "does not match" in _reason(lambda: smsru_callback(tampered, api_key=API_ID)).reason
    unsigned = {"data[0]": entries[0]}
    assert "required" in _reason(lambda: smsru_callback(unsigned, api_key=API_ID)).reason
    assert smsru_callback(unsigned, api_key=API_ID, url_verified=True).receipts
    # A hash we cannot check is not trusted, even with the URL's secret.
    signed = _smsru_form(entries)
    error = _reason(lambda: smsru_callback(signed, api_key=None, url_verified=True))
    assert "NOTIFIER_SMS_API_KEY" in error.reason
    assert smsru_callback(signed | {"hash": signed["hash"].upper()}, api_key=API_ID).receipts


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({}, "data"),
        ({"hash": "x"}, "data"),
        ({"data[0]": ["a", "b"]}, "data[0]"),
        ({"data[0]": b"sms_status\n1\n103"}, "data[0]"),
        ({"data[0]": [object()]}, "data[0]"),
        ({"data[0]": 103}, "data[0]"),
        ({"data[0]": "sms_status\n000000-1"}, "data[0]"),
        ({"data[0]": "sms_status\n000000-1\nOK"}, "data[0] (status code)"),
        ({"data[0]": "sms_status\n000000-1\n1" + "0" * 20}, "data[0] (status code)"),
        ({"data[0]": "sms_status\n'; DROP TABLE x; --\n103"}, "data[0] (sms_id)"),
        ({"data[0]": "sms_status\n" + "1" * 65 + "\n103"}, "data[0] (sms_id)"),
        ({"data[0]": "sms_status\n\n103"}, "data[0] (sms_id)"),
        ({"data[0]": "callback_receive\n1\nnot a number\nСТОП"}, "data[0] (number)"),
        ({"data[0]": "callback_receive\n1\n79161234567"}, "data[0]"),
        ({"data[0]": "callback_receive\n1\n7916123\nСТОП"}, "data[0] (number)"),
        ({"data[0]": "x" * 4001}, "data[0]"),
        ({"data[0]": "callback_receive\n1\n79161234567\n" + "я" * 1601}, "data[0] (text)"),
        ({f"data[{i}]": "sms_status\n1\n103" for i in range(MAX_ITEMS + 1)}, "data"),
        ({"data[]": ["sms_status\n1\n103"] * (MAX_ITEMS + 1)}, "data"),
        ({"hash": ["a", "b"], "data[0]": "sms_status\n1\n103"}, "hash"),
    ],
)
def test_smsru_hostile_bodies(form: dict[str, Any], field: str) -> None:
    error = _reason(lambda: smsru_callback(form, api_key=API_ID, url_verified=True))
    assert error.field == field, error.reason
    assert error.reason.startswith(field)


# -- smsc.ru ---------------------------------------------------------------------------------


def test_smsc_receipts() -> None:
    batch = smsc_callback(_smsc_form(), secret=SECRET)
    assert batch == CallbackBatch(receipts=(Receipt("smsc", "12", D, "1"),))
    failed = _smsc_form(status="20", err="1")
    assert smsc_callback(failed, secret=SECRET).receipts == (Receipt("smsc", "12", U, "20 err 1"),)
    assert smsc_callback(_smsc_form(status="0"), secret=SECRET).receipts[0].state is P
    # An id we never sent passes through; the applier decides.
    assert smsc_callback(_smsc_form(id_="987654"), secret=SECRET).receipts[0].provider_id == (
        "987654"
    )
    sha1 = hashlib.sha1(f"12:79161234567:1:{SECRET}".encode()).hexdigest()
    form = {"id": "12", "phone": "79161234567", "status": "1", "sha1": sha1, "time": "x"}
    assert smsc_callback(form, secret=SECRET).receipts[0].state is D


def test_smsc_signature() -> None:
    assert _reason(lambda: smsc_callback(_smsc_form(), secret="other")).field == "md5"
    tampered = _smsc_form() | {"status": "20"}
    assert "not signed by smsc.ru" in _reason(lambda: smsc_callback(tampered, secret=SECRET)).reason
    unsigned = {k: v for k, v in _smsc_form().items() if k != "md5"}
    assert "md5=1" in _reason(lambda: smsc_callback(unsigned, secret=SECRET)).reason
    assert smsc_callback(unsigned, secret=None, url_verified=True).receipts[0].state is D
    crc_only = unsigned | {"crc32": "12345678"}
    assert _reason(lambda: smsc_callback(crc_only, secret=SECRET)).field == "md5"
    error = _reason(lambda: smsc_callback(_smsc_form(), secret=None, url_verified=True))
    assert "no smsc.ru callback secret" in error.reason
    # md5 and sha1 both given: both must match.
    both = _smsc_form() | {"sha1": "0" * 40}
    assert _reason(lambda: smsc_callback(both, secret=SECRET)).field == "sha1"


def test_smsc_incoming() -> None:
    form = {"sms_id": "5", "phone": "79161234567", "mes": "Стоп", "to": "79990000001"}
    batch = smsc_callback(form, secret=SECRET, url_verified=True)
    assert batch.incoming == (IncomingSms("+79161234567", "Стоп"),) and batch.incoming[0].is_stop
    assert _reason(lambda: smsc_callback(form, secret=SECRET)).field == "mes"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({}, "id"),
        ({"phone": "79161234567", "status": "1"}, "id"),
        ({"id": "12", "status": "1"}, "phone"),
        ({"id": "12", "phone": "79161234567"}, "status"),
        ({"id": "12", "phone": "79161234567", "status": "delivered"}, "status"),
        ({"id": "12", "phone": "79161234567", "status": "1", "err": "x"}, "err"),
        ({"id": "12", "phone": "not a phone", "status": "1"}, "phone"),
        ({"id": "<script>", "phone": "79161234567", "status": "1"}, "id"),
        ({"id": ["12", "13"], "phone": "79161234567", "status": "1"}, "id"),
        ({"id": 12, "phone": "79161234567", "status": "1"}, "id"),
        ({"mes": "СТОП"}, "phone"),
        ({"mes": "я" * 1601, "phone": "79161234567"}, "mes"),
    ],
)
def test_smsc_hostile_bodies(form: dict[str, Any], field: str) -> None:
    error = _reason(lambda: smsc_callback(form, secret=SECRET, url_verified=True))
    assert error.field == field, error.reason


# -- the generic contract --------------------------------------------------------------------


def test_http_receipts_and_incoming() -> None:
    one = http_callback({"id": "a1b2", "status": "delivered"})
    assert one == CallbackBatch(receipts=(Receipt("http", "a1b2", D, None),))
    batch = http_callback(
        [
            {"id": "a1b2", "status": "undelivered", "error": "absent_subscriber", "extra": 1},
            {"id": 42, "status": "pending"},
            {"id": 42, "status": "pending"},  # a repeat: dropped
            {"id": "unknown-to-us", "status": "delivered", "error": 17},
            {"from": "+79161234567", "text": "STOP"},
        ]
    )
    assert batch.receipts == (
        Receipt("http", "a1b2", U, "absent_subscriber"),
        Receipt("http", "42", P, None),
        Receipt("http", "unknown-to-us", D, "17"),
    )
    assert batch.incoming == (IncomingSms("+79161234567", "STOP"),)
    assert http_callback([]) == CallbackBatch()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("delivered", None),
        (None, None),
        (42, None),
        ([1], None),
        ({"status": "delivered"}, "id"),
        ({"id": True, "status": "delivered"}, "id"),
        ({"id": 1.5, "status": "delivered"}, "id"),
        ({"id": "", "status": "delivered"}, "id"),
        ({"id": "x" * 65, "status": "delivered"}, "id"),
        ({"id": "a b", "status": "delivered"}, "id"),
        ({"id": "a1"}, "status"),
        ({"id": "a1", "status": "sent"}, "status"),
        ({"id": "a1", "status": ["delivered"]}, "status"),
        ({"id": "a1", "status": "delivered", "error": "e" * 65}, "error"),
        ({"id": "a1", "status": "delivered", "error": {"code": 1}}, "error"),
        ({"id": "a1", "status": "delivered", "error": False}, "error"),
        ([{"id": "a1", "status": "delivered"}, {"id": "a2"}], "[1].status"),
        ({"from": 79161234567, "text": "STOP"}, "from"),
        ({"from": "+79161234567"}, "text"),
        ({"from": "+7916", "text": "STOP"}, "from"),
        ([{"from": "+79161234567", "text": "я" * 1601}], "[0].text"),
        ([{"id": "a", "status": "pending"}] * (MAX_ITEMS + 1), None),
    ],
)
def test_http_hostile_bodies(body: object, field: str | None) -> None:
    error = _reason(lambda: http_callback(body))
    assert error.field == field, error.reason


def test_garbage_gives_invalid_input_and_nothing_else() -> None:
    """Whatever arrives, a parser answers a batch or InvalidInput."""
    rng = random.Random(18)
    atoms: list[Any] = [
        None,
        True,
        0,
        -1,
        1.5,
        "",
        "103",
        "sms_status",
        "\n",
        "STOP",
        "79161234567",
        "sms_status\n000000-1\n103",
        "callback_receive\n1\n79161234567\nСТОП",
        "\x00",
        "я" * 50,
        b"bytes",
        [],
        {},
    ]
    keys = ["data[0]", "data[1]", "data[]", "hash", "id", "phone", "status", "err", "mes", "md5"]

    def value(depth: int = 0) -> Any:
        if depth < 2 and rng.random() < 0.3:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if depth < 2 and rng.random() < 0.1:
            return {rng.choice(["id", "status", "from", "text"]): value(depth + 1)}
        return rng.choice(atoms)

    parsers: list[Callable[[Any], CallbackBatch]] = [
        lambda f: smsru_callback(f, api_key=API_ID, url_verified=True),
        lambda f: smsru_callback(f, api_key=API_ID),
        lambda f: smsc_callback(f, secret=SECRET, url_verified=True),
        lambda f: smsc_callback(f, secret=None),
    ]
    for _ in range(3000):
        form = {rng.choice(keys): value() for _ in range(rng.randint(0, 5))}
        for parse in parsers:
            try:
                assert isinstance(parse(form), CallbackBatch)
            except InvalidInput:
                pass
        try:
            assert isinstance(http_callback(value()), CallbackBatch)
        except InvalidInput:
            pass


# -- as the local providers send them ----------------------------------------------------------


class Receiver:
    """An HTTP endpoint that parses what it is sent, as the API's callback routes will."""

    def __init__(self, parse: Callable[[bytes, str], CallbackBatch], answer: str) -> None:
        self.parse, self.answer = parse, answer
        self.batches: list[CallbackBatch] = []
        self.errors: list[InvalidInput] = []

    async def handle(self, request: web.Request) -> web.Response:
        try:
            self.batches.append(self.parse(await request.read(), request.content_type))
        except InvalidInput as exc:
            self.errors.append(exc)
            return web.json_response({"error": exc.reason}, status=400)
        return web.Response(text=self.answer)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Receiver], Any]]:
    runners: list[web.AppRunner] = []

    async def start(receiver: Receiver) -> str:
        app = web.Application()
        app.router.add_post("/callback", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/callback"

    yield start
    for runner in runners:
        await runner.cleanup()


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode(), keep_blank_values=True)


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> Iterator[SmsGateway]:
    with SmsGateway(request.param, api_key=API_ID) as server:
        yield server


@pytest.mark.parametrize("provider", ["smsru"], indirect=True)
async def test_smsru_as_sent(provider: SmsGateway, serve: Any) -> None:
    receiver = Receiver(lambda body, _: smsru_callback(_form(body), api_key=API_ID), "100")
    url = await serve(receiver)
    answers = await provider.post_callback(
        url,
        statuses=[("000001-10000001", 103), ("000002-10000002", 105)],
        incoming=[("+79161234567", "СТОП")],
    )
    assert answers == [(200, SMSRU_ANSWER)]
    [batch] = receiver.batches
    assert [(r.provider_id, r.state) for r in batch.receipts] == [
        ("000001-10000001", D),
        ("000002-10000002", U),
    ]
    assert batch.incoming == (IncomingSms("+79161234567", "СТОП"),)
    # Signed with another key, or not at all: refused, with the reason.
    [(status, text)] = await provider.post_callback(url, statuses=[("1", 103)], secret="x")
    assert status == 400 and "hash" in json.loads(text)["error"]
    [(status, _)] = await provider.post_callback(url, statuses=[("1", 103)], sign=False)
    assert status == 400 and len(receiver.errors) == 2


@pytest.mark.parametrize("provider", ["smsc"], indirect=True)
async def test_smsc_as_sent(provider: SmsGateway, serve: Any) -> None:
    def parse(body: bytes, _: str) -> CallbackBatch:
        form = _form(body)
        # The test's URL "secret": incoming SMS are accepted under it, receipts are signed.
        return smsc_callback(form, secret=SECRET, url_verified="mes" in form)

    url = await serve(Receiver(parse, "OK"))
    receiver_answers = await provider.post_callback(
        url, statuses=[("12", 1), ("13", 22)], incoming=[("79161234567", "stop")], secret=SECRET
    )
    assert receiver_answers == [(200, "OK")] * 3
    forged = await provider.post_callback(url, statuses=[("12", 1)], secret="guess")
    unsigned = await provider.post_callback(url, statuses=[("12", 1)])
    assert [status for status, _ in forged + unsigned] == [400, 400]


@pytest.mark.parametrize("provider", ["smsc"], indirect=True)
async def test_smsc_receipt_names_the_sent_number(provider: SmsGateway, serve: Any) -> None:
    receiver = Receiver(lambda body, _: smsc_callback(_form(body), secret=SECRET), "OK")
    url = await serve(receiver)
    [request] = provider.callback_request(statuses=[("12", 1)], secret=SECRET)
    assert _form(request.body)["phone"] == ["79990000000"]  # no such message: a stand-in number
    await provider.post_callback(url, statuses=[("12", 25)], secret=SECRET, err=1)
    assert receiver.batches[0].receipts == (Receipt("smsc", "12", U, "25 err 1"),)


@pytest.mark.parametrize("provider", ["http"], indirect=True)
async def test_http_as_sent(provider: SmsGateway, serve: Any) -> None:
    receiver = Receiver(lambda body, _: http_callback(json.loads(body)), "")
    url = await serve(receiver)
    answers = await provider.post_callback(
        url,
        statuses=[("a1", "delivered"), ("a2", "undelivered")],
        incoming=[("+79161234567", "СТОП")],
    )
    assert answers == [(200, "")]
    [batch] = receiver.batches
    assert [r.state for r in batch.receipts] == [D, U]
    assert batch.incoming[0].is_stop
