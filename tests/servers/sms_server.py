"""Local SMS gateways: the generic JSON contract (SPEC §2) and SMS.ru's HTTP API.

One aiohttp server per instance, on its own thread and loop (see
`tests.servers.threaded.ThreadedAiohttpServer`).

``SmsGateway("http")``: ``POST /send`` with ``Authorization: Bearer <key>`` and JSON
``{to, text, sender}`` → ``200 {"id", "status": "accepted"}``; 401 for a wrong key,
400 ``{"error": ...}`` for a bad body.

``SmsGateway("smsru")``: ``GET|POST /sms/send?api_id=&to=&msg=&json=1[&from=]`` as
SMS.ru answers it: always HTTP 200, the outcome in ``status``/``status_code``, per
number under ``sms``; without ``json=1`` the plain-text form (``100\\n<sms_id>\\n
balance=...``). Also ``/my/balance``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import web

from tests.servers.threaded import HOST, ThreadedAiohttpServer

Kind = Literal["http", "smsru"]

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
    kind: Literal["http", "smsru"]
    code: int  # HTTP status, or SMS.ru status_code
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
        if kind not in ("http", "smsru"):
            raise ValueError(f"unknown gateway kind {kind!r}")
        super().__init__(host)
        self.kind: Kind = kind
        self.api_key = api_key
        self.balance = balance
        self.price = price  # taken from `balance` per accepted SMS (smsru)
        self.messages: list[Sms] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._rejected: dict[str, tuple[int, str]] = {}
        self._counter = 0

    @property
    def url(self) -> str:
        """What notifier is configured with: the POST endpoint (http) or the base (smsru)."""
        base = f"http://{self.host}:{self.port}"
        return f"{base}/send" if self.kind == "http" else base

    def _build_app(self) -> web.Application:
        app = web.Application()
        if self.kind == "http":
            app.router.add_route("*", "/send", self._handle_http)
        else:
            app.router.add_route("*", "/sms/send", self._handle_smsru)
            app.router.add_route("*", "/my/balance", self._handle_smsru_balance)
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
            self._faults.append(_Fault("smsru", status_code, times, reason))

    def delay_next(self, seconds: float, times: int = 1, *, deliver: bool = True) -> None:
        """Hold the next `times` requests for `seconds` before answering.

        deliver=True: then handle it normally (the SMS is sent even though a client that
        gave up will not know, which is what a real gateway does). deliver=False: then
        answer 504 and send nothing.
        """
        with self._lock:
            self._delays.append(_Delay(seconds, times, deliver))

    def reject_number(self, number: str, status_code: int = 207, text: str | None = None) -> None:
        """Refuse `number` for good: smsru per-number `status_code`; http 400."""
        reason = text or SMSRU_TEXTS.get(status_code, "Ошибка")
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


__all__ = ["SMSRU_TEXTS", "Sms", "SmsGateway"]
