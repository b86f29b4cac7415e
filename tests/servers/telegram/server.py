"""The local Bot API server: one bot token at ``base``, answering over HTTP the way
api.telegram.org does."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from aiohttp import web

from tests.servers.telegram.controls import Controls
from tests.servers.telegram.methods import Methods
from tests.servers.telegram.records import ApiCall, _ApiError, _Reply

_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")


class BotApiServer(Controls, Methods):
    """The Bot API for one bot token at ``base`` (``http://127.0.0.1:PORT``).

    `sent` records every sendMessage (accepted and rejected, see `accepted` /
    `rejected`); `calls` records every API call. Methods it does not know answer
    404 like Telegram; a wrong token answers 401.
    """

    # Its state and constructor: state.py; the test side: controls.py; the methods: methods.py.

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._closing = False
        super().start()

    def _build_app(self) -> web.Application:
        self._updates_event = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    def _on_stopping(self) -> None:
        with self._lock:
            self._closing = True
        if self._updates_event is not None:
            self._updates_event.set()

    # -- HTTP ------------------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._error_response(_ApiError(404, "Not Found"))

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        if token in self._delegates:
            return await self._delegates[token]._handle(request)
        if token != self.token:
            if not _TOKEN_RE.fullmatch(token):
                return self._error_response(_ApiError(404, "Not Found"))
            return self._error_response(_ApiError(401, "Unauthorized"))
        at = time.monotonic()
        handler = self._methods.get(method.lower())
        if handler is None:
            return self._error_response(_ApiError(404, "Not Found"))
        params: dict[str, Any] = {}
        try:
            params = await self._read_params(request)
            outcome = handler(params)
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
        except _ApiError as err:
            self._record_call(ApiCall(method, params, at, False, err.code, err.description))
            return self._error_response(err)
        self._record_call(ApiCall(method, params, at, True))
        reply = outcome if isinstance(outcome, _Reply) else _Reply(outcome)
        body: dict[str, Any] = {"ok": True, "result": reply.result}
        if reply.description:
            body["description"] = reply.description
        return web.json_response(body)

    def _record_call(self, call: ApiCall) -> None:
        with self._lock:
            self.calls.append(call)

    @staticmethod
    def _error_response(err: _ApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": err.code, "description": err.description}
        if err.retry_after is not None:
            body["parameters"] = {"retry_after": err.retry_after}
        return web.json_response(body, status=err.code)

    @staticmethod
    async def _read_params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                raise _ApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(body, dict):
                raise _ApiError(400, "Bad Request: JSON object expected")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
                elif isinstance(value, bytes | bytearray):
                    params[key] = bytes(value)
                else:  # an uploaded file
                    params[key] = value.file.read()
        return params
