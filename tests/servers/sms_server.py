"""Local SMS gateways: the generic JSON contract (SPEC §2), SMS.ru's and smsc.ru's HTTP APIs,
and the callbacks each of them POSTs back (delivery receipts, incoming SMS).

One aiohttp server per instance, on its own thread and loop (see
`tests.servers.threaded.ThreadedAiohttpServer`).

``SmsGateway("http")``: ``POST /send`` with ``Authorization: Bearer <key>`` and JSON
``{to, text, sender}`` → ``200 {"id", "status": "accepted"}``; 401 for a wrong key,
400 ``{"error": ...}`` for a bad body.

``SmsGateway("smsru")``: ``GET|POST /sms/send?api_id=&to=&msg=&json=1[&from=]`` as
SMS.ru answers it: always HTTP 200, the outcome in ``status``/``status_code``, per
number under ``sms``; without ``json=1`` the plain-text form (``100\\n<sms_id>\\n
balance=...``). Also ``/my/balance``.

``SmsGateway("smsc")``: ``GET|POST /sys/send.php?apikey=&phones=&mes=&fmt=3[&sender=][&cost=3]``
and ``/sys/status.php?apikey=&phone=&id=&fmt=3`` as smsc.ru answers them: HTTP 200 with
``{"id", "cnt"[, "cost", "balance"]}`` or ``{"error", "error_code"}``. Segments are counted
like smsc.ru (160/153 for plain ASCII, 70/67 otherwise) and ``price`` is per segment.
A message's status is 0 (passed to the operator) until a test calls ``set_status``.

Callbacks: ``callback_request(...)`` builds the body a provider would POST (SMS.ru: form
``data[0..n]`` + ``hash``; smsc.ru: one form per event, ``md5`` of ``id:phone:status:secret``;
http: JSON), and ``post_callback(url, ...)`` sends it, over HTTP or through a test's httpx
client (an ASGI app).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
import httpx
from aiohttp import web

from tests.servers.threaded import HOST, ThreadedAiohttpServer

Kind = Literal["http", "smsru", "smsc"]

E164 = re.compile(r"\+[1-9]\d{7,14}")

# SMS.ru's status codes and texts (https://sms.ru/api/send).
SMSRU_TEXTS = {
    200: "Неправильный api_id",
    201: "Не хватает средств на лицевом счету",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    203: "Нет текста сообщения",
    204: "Имя отправителя не согласовано с администрацией",
    205: "Сообщение слишком длинное (превышает 8 СМС)",
    206: "Будет превышен или уже превышен дневной лимит на отправку сообщений",
    207: "На этот номер (или один из номеров) нельзя отправлять сообщения, "
    "либо указано более 100 номеров в списке получателей",
    208: "Параметр time указан неправильно",
    209: "Вы добавили этот номер (или один из номеров) в стоп-лист",
    210: "Используется GET, где необходимо использовать POST",
    211: "Метод не найден",
    212: "Текст сообщения необходимо передать в кодировке UTF-8",
    213: "Указано более 100 номеров в списке получателей",
    220: "Сервис временно недоступен, попробуйте чуть позже",
    230: "Превышен общий лимит количества сообщений на этот номер в день",
    231: "Превышен лимит одинаковых сообщений на этот номер в минуту",
    232: "Превышен лимит одинаковых сообщений на этот номер в день",
    300: "Неправильный token (возможно истек срок действия, либо ваш IP был изменен)",
    301: "Неправильный api_id, либо логин/пароль",
    302: "Пользователь авторизован, но аккаунт не подтвержден",
}

# smsc.ru's send.php/status.php error codes (https://smsc.ru/api/http/, "ответ сервера и коды
# ошибок"). The texts of 2, 4 and 9 are those its JSON answers carry; the others stand in.
SMSC_ERRORS = {
    1: "parameters error",
    2: "authorise error",
    3: "no money",
    4: "ip is blocked",
    5: "invalid date format",
    6: "message is denied",
    7: "invalid number",
    8: "can't deliver sms",
    9: "duplicate request, wait a minute",
}


@dataclass(frozen=True)
class CallbackRequest:
    """A callback as the provider sends it: POST `body` with `content_type`."""

    content_type: str
    body: bytes


def smsc_segments(text: str) -> int:
    """smsc.ru's count: 160/153 characters when the text is plain ASCII, else 70/67."""
    single, multi = (160, 153) if text.isascii() else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


@dataclass(frozen=True)
class Sms:
    """An accepted message. `to` as the gateway keys it: "+7916..." (http), "7916..." (smsru)."""

    to: str
    text: str
    sender: str | None
    at: float  # time.monotonic()
    id: str


@dataclass
class _Fault:
    kind: Literal["http", "provider"]
    code: int  # HTTP status, or the provider's error code (SMS.ru status_code, smsc error_code)
    times: int
    text: str


@dataclass
class _Delay:
    seconds: float
    times: int
    deliver: bool


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


class SmsGateway(ThreadedAiohttpServer):
    """An SMS gateway at `url`; `messages` holds what it accepted.

    `requests` counts every request to the send endpoint, failed ones included, so a
    test can see how often the client retried.
    """

    def __init__(
        self,
        kind: Kind = "http",
        api_key: str = "test-key",
        *,
        balance: float = 4122.56,
        price: float = 0.0,
        host: str = HOST,
    ) -> None:
        if kind not in ("http", "smsru", "smsc"):
            raise ValueError(f"unknown gateway kind {kind!r}")
        super().__init__(host)
        self.kind: Kind = kind
        self.api_key = api_key
        self.balance = balance
        self.price = price  # taken from `balance` per accepted SMS (smsru), per segment (smsc)
        self.messages: list[Sms] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._rejected: dict[str, tuple[int, str]] = {}
        self._forbidden_senders: set[str] = set()
        self._statuses: dict[str, tuple[int, int]] = {}  # smsc: id -> (status, err)
        self.last_params: dict[str, str] = {}  # smsc: the fields of the latest send.php request
        self._counter = 0

    @property
    def url(self) -> str:
        """What notifier is configured with: the POST endpoint (http) or the base (smsru, smsc)."""
        base = f"http://{self.host}:{self.port}"
        return f"{base}/send" if self.kind == "http" else base

    def _build_app(self) -> web.Application:
        app = web.Application()
        if self.kind == "http":
            app.router.add_route("*", "/send", self._handle_http)
        elif self.kind == "smsru":
            app.router.add_route("*", "/sms/send", self._handle_smsru)
            app.router.add_route("*", "/my/balance", self._handle_smsru_balance)
        else:
            app.router.add_route("*", "/sys/send.php", self._handle_smsc_send)
            app.router.add_route("*", "/sys/status.php", self._handle_smsc_status)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    # -- programming ----------------------------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.requests = 0
            self._faults.clear()
            self._delays.clear()
            self._rejected.clear()
            self._forbidden_senders.clear()
            self._statuses.clear()
            self.last_params = {}

    def fail_next(self, status: int, times: int = 1, text: str | None = None) -> None:
        """The next `times` requests answer HTTP `status` with ``{"error": text}``.

        Faults come before any checking, as from a proxy in front of the gateway.
        """
        reason = text or HTTPStatus(status).phrase
        with self._lock:
            self._faults.append(_Fault("http", status, times, reason))

    def fail_next_smsru(self, status_code: int, times: int = 1, text: str | None = None) -> None:
        """SMS.ru only: the next `times` requests answer HTTP 200 with an SMS.ru error.

        E.g. 220 (service unavailable, transient), 201 (no funds), 204 (sender not approved).
        """
        if self.kind != "smsru":
            raise ValueError("fail_next_smsru is for the smsru gateway")
        reason = text or SMSRU_TEXTS.get(status_code, "Ошибка")
        with self._lock:
            self._faults.append(_Fault("provider", status_code, times, reason))

    def fail_next_smsc(self, error_code: int, times: int = 1, text: str | None = None) -> None:
        """smsc.ru only: the next `times` requests answer HTTP 200 with ``{"error",
        "error_code"}``: e.g. 9 (flood, transient), 3 (no money), 6 (sender forbidden)."""
        if self.kind != "smsc":
            raise ValueError("fail_next_smsc is for the smsc gateway")
        with self._lock:
            self._faults.append(
                _Fault("provider", error_code, times, text or SMSC_ERRORS.get(error_code, "error"))
            )

    def forbid_sender(self, sender: str) -> None:
        """smsc.ru only: sends from `sender` get error 6 (message forbidden by sender name)."""
        with self._lock:
            self._forbidden_senders.add(sender)

    def set_status(self, message_id: str, status: int, err: int = 0) -> None:
        """smsc.ru only: what status.php says of `message_id` from now on (1 delivered, 20
        undeliverable, ...; https://smsc.ru/api/http/status_messages/statuses/)."""
        with self._lock:
            self._statuses[message_id] = (status, err)

    def delay_next(self, seconds: float, times: int = 1, *, deliver: bool = True) -> None:
        """Hold the next `times` requests for `seconds` before answering.

        deliver=True: then handle it normally (the SMS is sent even though a client that
        gave up will not know, which is what a real gateway does). deliver=False: then
        answer 504 and send nothing.
        """
        with self._lock:
            self._delays.append(_Delay(seconds, times, deliver))

    def reject_number(self, number: str, status_code: int = 207, text: str | None = None) -> None:
        """Refuse `number` for good: smsru per-number `status_code`; http 400; smsc error 8
        (a `status_code` of 7 or 8 chooses smsc's code)."""
        if self.kind == "smsc" and status_code not in (7, 8):
            status_code = 8
        texts = SMSC_ERRORS if self.kind == "smsc" else SMSRU_TEXTS
        reason = text or texts.get(status_code, "Ошибка")
        with self._lock:
            self._rejected[_digits(number)] = (status_code, reason)

    # -- inspecting --------------------------------------------------------------------------

    def messages_to(self, number: str) -> list[Sms]:
        """Accepted messages to `number`, in any notation ("+7 916 ...", "7916...")."""
        wanted = _digits(number)
        with self._lock:
            return [m for m in self.messages if _digits(m.to) == wanted]

    async def wait_for(self, n: int, timeout: float = 10) -> list[Sms]:  # noqa: ASYNC109
        """Wait until at least `n` messages were accepted; return all of them."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
                got, requests = len(self.messages), self.requests
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {n} SMS within {timeout}s, got {got} ({requests} requests)"
                )
            await asyncio.sleep(0.02)

    # -- shared machinery ------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "not found"}, status=404)

    def _take(self, items: list[Any]) -> Any:
        # Caller holds the lock.
        for item in items:
            if item.times > 0:
                item.times -= 1
                if item.times == 0:
                    items.remove(item)
                return item
        return None

    async def _pre(self) -> tuple[bool, _Fault | None]:
        """Count the request, apply a programmed delay; (go on?, fault to answer).

        Called once the request body is read, so a client that gives up during the
        delay does not stop a delivered one from being handled.
        """
        with self._lock:
            self.requests += 1
            delay: _Delay | None = self._take(self._delays)
        if delay is not None:
            stopping = self._stopping
            assert stopping is not None
            try:
                await asyncio.wait_for(stopping.wait(), delay.seconds)
            except TimeoutError:
                pass
            if not delay.deliver:
                return False, None
        with self._lock:
            fault: _Fault | None = self._take(self._faults)
        return True, fault

    def _accept(self, to: str, text: str, sender: str | None, message_id: str) -> None:
        # Caller holds the lock.
        self.messages.append(Sms(to, text, sender, time.monotonic(), message_id))

    # -- the generic JSON gateway ---------------------------------------------------------------

    async def _handle_http(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return web.json_response({"error": "method not allowed"}, status=405)
        raw = await request.text()
        go_on, fault = await self._pre()
        if not go_on:
            return web.json_response({"error": "gateway timeout"}, status=504)
        if fault is not None:
            return web.json_response({"error": fault.text}, status=fault.code)
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return web.json_response({"error": "invalid API key"}, status=401)
        try:
            body = json.loads(raw)
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        to, text, sender = body.get("to"), body.get("text"), body.get("sender")
        if not isinstance(to, str) or not E164.fullmatch(to):
            return web.json_response(
                {"error": "to: an E.164 number is required, like +79161234567"}, status=400
            )
        if not isinstance(text, str) or not text.strip():
            return web.json_response({"error": "text: required"}, status=400)
        if sender is not None and (not isinstance(sender, str) or not 1 <= len(sender) <= 11):
            return web.json_response({"error": "sender: 1 to 11 characters"}, status=400)
        with self._lock:
            rejected = self._rejected.get(_digits(to))
            if rejected is not None:
                return web.json_response({"error": f"to: {rejected[1]}"}, status=400)
            message_id = str(uuid.uuid4())
            self._accept(to, text, sender, message_id)
        return web.json_response({"id": message_id, "status": "accepted"})

    # -- SMS.ru ----------------------------------------------------------------------------------

    @staticmethod
    async def _smsru_params(request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    @staticmethod
    def _smsru_reply(as_json: bool, body: dict[str, Any]) -> web.Response:
        if as_json:
            return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))
        lines = [str(body["status_code"])]
        for result in (body.get("sms") or {}).values():
            if result.get("sms_id"):
                lines.append(result["sms_id"])
        if "balance" in body:
            lines.append(f"balance={body['balance']}")
        return web.Response(text="\n".join(lines))

    @staticmethod
    def _smsru_error(code: int, text: str | None = None) -> dict[str, Any]:
        return {
            "status": "ERROR",
            "status_code": code,
            "status_text": text or SMSRU_TEXTS.get(code, "Ошибка"),
        }

    async def _handle_smsru(self, request: web.Request) -> web.Response:
        params = await self._smsru_params(request)
        go_on, fault = await self._pre()
        if not go_on:
            return web.json_response({"error": "gateway timeout"}, status=504)
        as_json = params.get("json") == "1"
        if fault is not None:
            if fault.kind == "http":
                return web.json_response({"error": fault.text}, status=fault.code)
            return self._smsru_reply(as_json, self._smsru_error(fault.code, fault.text))
        if params.get("api_id") != self.api_key:
            return self._smsru_reply(as_json, self._smsru_error(200))
        text = params.get("msg", "")
        if not text.strip():
            return self._smsru_reply(as_json, self._smsru_error(203))
        numbers = [n.strip() for n in params.get("to", "").split(",") if n.strip()]
        if not numbers:
            return self._smsru_reply(as_json, self._smsru_error(202))
        if len(numbers) > 100:
            return self._smsru_reply(as_json, self._smsru_error(213))
        sender = params.get("from") or None
        test_only = params.get("test") == "1"
        results: dict[str, dict[str, Any]] = {}
        with self._lock:
            if self.price and self.balance < self.price * len(numbers):
                return self._smsru_reply(as_json, self._smsru_error(201))
            for number in numbers:
                digits = _digits(number)
                if len(digits) == 11 and digits.startswith("8"):
                    digits = "7" + digits[1:]
                valid = re.fullmatch(r"\+?[\d\s()-]+", number) and 11 <= len(digits) <= 15
                key = digits if valid else number
                if not valid:
                    results[key] = self._smsru_error(202)
                    continue
                if digits in self._rejected:
                    code, reason = self._rejected[digits]
                    results[key] = self._smsru_error(code, reason)
                    continue
                self._counter += 1
                sms_id = f"{self._counter:06d}-1{self._counter:07d}"
                results[key] = {"status": "OK", "status_code": 100, "sms_id": sms_id}
                if self.price:
                    results[key]["cost"] = self.price
                if not test_only:  # test=1: SMS.ru answers as usual and sends nothing
                    self.balance -= self.price
                    self._accept(digits, text, sender, sms_id)
            balance = round(self.balance, 2)
        body = {"status": "OK", "status_code": 100, "sms": results, "balance": balance}
        return self._smsru_reply(as_json, body)

    async def _handle_smsru_balance(self, request: web.Request) -> web.Response:
        params = await self._smsru_params(request)
        as_json = params.get("json") == "1"
        if params.get("api_id") != self.api_key:
            return self._smsru_reply(as_json, self._smsru_error(200))
        with self._lock:
            balance = round(self.balance, 2)
        if not as_json:
            return web.Response(text=f"100\n{balance}")
        return self._smsru_reply(as_json, {"status": "OK", "status_code": 100, "balance": balance})

    # -- smsc.ru ---------------------------------------------------------------------------------

    @staticmethod
    def _smsc_error(code: int, text: str | None = None) -> web.Response:
        return web.json_response(
            {"error": text or SMSC_ERRORS.get(code, "error"), "error_code": code}
        )

    async def _handle_smsc_send(self, request: web.Request) -> web.Response:
        params = await self._smsru_params(request)  # the same GET-or-form reading
        go_on, fault = await self._pre()
        if not go_on:
            return web.json_response({"error": "gateway timeout"}, status=504)
        if fault is not None:
            if fault.kind == "http":
                return web.json_response({"error": fault.text}, status=fault.code)
            return self._smsc_error(fault.code, fault.text)
        with self._lock:
            self.last_params = dict(params)
        if params.get("apikey") != self.api_key:
            return self._smsc_error(2)
        if params.get("charset") != "utf-8":  # smsc.ru would read the text as windows-1251
            return self._smsc_error(1, "this fake reads utf-8 only: charset=utf-8")
        if params.get("fmt") != "3":
            return web.Response(text="ERROR = 1 (this fake answers fmt=3 only)")
        text = params.get("mes", "")
        if not text.strip():
            return self._smsc_error(1)
        sender = params.get("sender") or None
        numbers = [n.strip() for n in re.split(r"[,;]", params.get("phones", "")) if n.strip()]
        if len(numbers) != 1:
            return self._smsc_error(1, "this fake takes one number per request")
        number = numbers[0]
        digits = _digits(number)
        if not re.fullmatch(r"\+?\d{11,15}", number):
            return self._smsc_error(7)
        segments = smsc_segments(text)
        with self._lock:
            if sender is not None and sender in self._forbidden_senders:
                return self._smsc_error(6)
            if digits in self._rejected:
                code, reason = self._rejected[digits]
                return self._smsc_error(code, reason)
            cost = round(self.price * segments, 2)
            if self.price and self.balance < cost:
                return self._smsc_error(3)
            self._counter += 1
            message_id = str(self._counter)
            self.balance -= cost
            self._accept(number, text, sender, message_id)
            self._statuses[message_id] = (0, 0)
            balance = round(self.balance, 2)
        body: dict[str, Any] = {"id": int(message_id), "cnt": segments}
        if params.get("cost") in ("2", "3"):
            body["cost"] = f"{cost:.2f}"
        if params.get("cost") == "3":
            body["balance"] = f"{balance:.2f}"
        return web.json_response(body)

    async def _handle_smsc_status(self, request: web.Request) -> web.Response:
        params = await self._smsru_params(request)
        if params.get("apikey") != self.api_key:
            return self._smsc_error(2)
        message_id, phone = params.get("id", ""), params.get("phone", "")
        if not message_id or not phone:
            return self._smsc_error(1)
        with self._lock:
            known = any(
                m.id == message_id and _digits(m.to) == _digits(phone) for m in self.messages
            )
            status, err = self._statuses.get(message_id, (-3, 0)) if known else (-3, 0)
        now = int(time.time())
        return web.json_response(
            {
                "status": status,
                "last_date": time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(now)),
                "last_timestamp": now,
                "err": err,
            }
        )

    # -- callbacks ---------------------------------------------------------------------------

    def callback_request(
        self,
        *,
        statuses: Sequence[tuple[str, int | str]] = (),
        incoming: Sequence[tuple[str, str]] = (),
        secret: str | None = None,
        sign: bool = True,
        err: int = 0,
    ) -> list[CallbackRequest]:
        """The POSTs the provider would make for these events: `statuses` as (message id,
        provider's status code: SMS.ru 103, smsc.ru 1, http "delivered"), `incoming` as
        (sender's number, text).

        smsru: one form for all, signed with `secret` (default: the api key) unless
        `sign` is False. smsc: one form per event; statuses signed with md5 of
        id:phone:status:`secret` when a secret is given and `sign` is True. http: one JSON list.
        """
        if self.kind == "smsru":
            return [self._smsru_callback(statuses, incoming, secret, sign)]
        if self.kind == "smsc":
            return self._smsc_callbacks(statuses, incoming, secret, sign, err)
        items: list[dict[str, str]] = [{"id": i, "status": str(s)} for i, s in statuses]
        items += [{"from": phone, "text": text} for phone, text in incoming]
        return [CallbackRequest("application/json", json.dumps(items, ensure_ascii=False).encode())]

    def _smsru_callback(
        self,
        statuses: Sequence[tuple[str, int | str]],
        incoming: Sequence[tuple[str, str]],
        secret: str | None,
        sign: bool,
    ) -> CallbackRequest:
        now = int(time.time())
        entries = [f"sms_status\n{sms_id}\n{code}\n{now}" for sms_id, code in statuses]
        for phone, text in incoming:
            with self._lock:
                self._counter += 1
                sms_id = self._counter
            entries.append(f"callback_receive\n{sms_id}\n{_digits(phone)}\n{text}")
        fields = [(f"data[{i}]", entry) for i, entry in enumerate(entries)]
        if sign:
            key = self.api_key if secret is None else secret
            fields.append(("hash", hashlib.sha256((key + "".join(entries)).encode()).hexdigest()))
        return CallbackRequest("application/x-www-form-urlencoded", urlencode(fields).encode())

    def _smsc_callbacks(
        self,
        statuses: Sequence[tuple[str, int | str]],
        incoming: Sequence[tuple[str, str]],
        secret: str | None,
        sign: bool,
        err: int,
    ) -> list[CallbackRequest]:
        requests = []
        now = int(time.time())
        for message_id, status in statuses:
            with self._lock:
                phone = next(
                    (_digits(m.to) for m in self.messages if m.id == message_id), "79990000000"
                )
            fields = {
                "id": message_id,
                "phone": phone,
                "status": str(status),
                "time": time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(now)),
                "ts": str(now),
                "err": str(err),
                "cnt": "1",
            }
            if sign and secret is not None:
                signed = f"{message_id}:{phone}:{status}:{secret}".encode()
                fields["md5"] = hashlib.md5(signed).hexdigest()
            requests.append(
                CallbackRequest("application/x-www-form-urlencoded", urlencode(fields).encode())
            )
        for phone, text in incoming:
            with self._lock:
                self._counter += 1
                sms_id = str(self._counter)
            fields = {"sms_id": sms_id, "phone": _digits(phone), "mes": text, "to": "79990000001"}
            requests.append(
                CallbackRequest("application/x-www-form-urlencoded", urlencode(fields).encode())
            )
        return requests

    async def post_callback(
        self,
        url: str,
        *,
        statuses: Sequence[tuple[str, int | str]] = (),
        incoming: Sequence[tuple[str, str]] = (),
        secret: str | None = None,
        sign: bool = True,
        err: int = 0,
        client: httpx.AsyncClient | None = None,
    ) -> list[tuple[int, str]]:
        """POST the callbacks of `callback_request` to `url` (a path, with `client`: a test's
        httpx client of an ASGI app); (HTTP status, body) of each answer."""
        answers = []
        for request in self.callback_request(
            statuses=statuses, incoming=incoming, secret=secret, sign=sign, err=err
        ):
            headers = {"Content-Type": request.content_type}
            if client is not None:
                response = await client.post(url, content=request.body, headers=headers)
                answers.append((response.status_code, response.text))
                continue
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=request.body, headers=headers) as answer,
            ):
                answers.append((answer.status, await answer.text()))
        return answers


__all__ = ["SMSC_ERRORS", "SMSRU_TEXTS", "CallbackRequest", "Sms", "SmsGateway", "smsc_segments"]
