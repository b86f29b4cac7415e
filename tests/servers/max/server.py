"""The local MAX Bot API server: one bot token at ``base``, answering over HTTP the way
platform-api2.max.ru does, and POSTing updates to the webhooks subscribed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from tests.servers.max.controls import Controls
from tests.servers.max.methods import ApiRequest, Methods
from tests.servers.max.records import (
    INVALID_TOKEN,
    MALFORMED_TOKEN,
    NO_TOKEN,
    QUERY_TOKEN,
    ApiCall,
    Subscription,
    WebhookDelivery,
    _ApiError,
    bad_request,
)

SECRET_HEADER = "X-Max-Bot-Api-Secret"


class MaxApiServer(Controls, Methods):
    """The MAX Bot API for one bot token at ``base`` (``http://127.0.0.1:PORT``).

    maxapi reaches it by ``bot.set_api_url(server.base)``. `sent` records every
    POST /messages (accepted and rejected, see `accepted` / `rejected`); `calls` records every
    request; `answers`, `edits` and `deliveries` the callback answers, message edits and webhook
    POSTs. Paths it does not know answer 404, a known path with another method 405, a wrong or
    missing token 401 — each with MAX's `{"code", "message"}` body.
    """

    # Its state and constructor: state.py; the test side: controls.py; the methods: methods.py.

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def base(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> None:
        self._closing = False
        super().start()

    def _build_app(self) -> web.Application:
        self._updates_event = asyncio.Event()
        self._route_table = self._routes()
        self._deliveries_queue = asyncio.Queue()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_startup.append(self._start_deliverer)
        app.on_cleanup.append(self._stop_deliverer)
        return app

    def _on_stopping(self) -> None:
        with self._lock:
            self._closing = True
        self._wake_pollers()

    # -- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        query = dict(request.query)
        api = ApiRequest(request.method, request.path, query, None)
        sending = api.method == "POST" and api.path == "/messages"
        handled = False
        try:
            raw = await request.text() if request.body_exists else ""
            self._authorize(request, query)
            handler, parts = self._route(api.method, api.path)
            api.parts = parts
            if raw.strip():
                try:
                    api.body = json.loads(raw)
                except ValueError:
                    raise bad_request("Request body is not valid JSON") from None
            with self._lock:
                self._flood_gate(at)
            handled = True
            outcome = handler(api)
            result = await outcome if asyncio.iscoroutine(outcome) else outcome
        except _ApiError as err:
            with self._lock:
                if sending and not handled:
                    self._record_send(api, at, err.status, err=err)
                self.calls.append(
                    ApiCall(
                        api.method, api.path, query, api.body, err.status, at, err.code, err.message
                    )
                )
            return web.json_response(err.body(), status=err.status)
        with self._lock:
            self.calls.append(ApiCall(api.method, api.path, query, api.body, 200, at))
        return web.json_response(result)

    def _authorize(self, request: web.Request, query: dict[str, str]) -> None:
        if "access_token" in query:
            raise _ApiError(401, "verify.token", QUERY_TOKEN)
        header = request.headers.get("Authorization", "").strip()
        if not header:
            raise _ApiError(401, "verify.token", NO_TOKEN)
        if header.lower().startswith("bearer "):
            raise _ApiError(401, "verify.token", MALFORMED_TOKEN)
        if header != self.token:
            raise _ApiError(401, "verify.token", INVALID_TOKEN)

    def _route(self, method: str, path: str) -> tuple[Any, dict[str, str]]:
        for pattern, handlers in self._route_table:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                raise _ApiError(
                    405,
                    "method.not.allowed",
                    f"Method {method} is not allowed for {path}; it takes "
                    f"{', '.join(sorted(handlers))}",
                )
            return handler, match.groupdict()
        raise _ApiError(404, "not.found", f"Path {path} not found")

    # -- webhooks ------------------------------------------------------------------------------

    def _schedule_delivery(self, subscription: Subscription, update: dict[str, Any]) -> None:
        # Called under the lock from any thread; the POST happens on the server loop, one
        # update after another in the order they came, as MAX delivers them.
        def put() -> None:
            if self._deliveries_queue is not None:
                self._deliveries_queue.put_nowait((subscription, update))

        self._call_soon(put)

    async def _start_deliverer(self, app: web.Application) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._deliverer = asyncio.create_task(self._deliver_forever())

    async def _stop_deliverer(self, app: web.Application) -> None:
        if self._deliverer is not None:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
        if self._http is not None:
            await self._http.close()

    async def _deliver_forever(self) -> None:
        queue = self._deliveries_queue
        assert queue is not None
        while True:
            subscription, update = await queue.get()
            await self._deliver(subscription, update)

    async def _deliver(self, subscription: Subscription, update: dict[str, Any]) -> None:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if subscription.secret is not None:
            headers[SECRET_HEADER] = subscription.secret
        status: int | None = None
        error: str | None = None
        try:
            async with self._http.post(
                subscription.url,
                data=json.dumps(update),
                headers=headers,
                ssl=self.webhook_ssl_context if self.webhook_ssl_context is not None else True,
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(
                WebhookDelivery(
                    subscription.url, update, status, subscription.secret, time.monotonic(), error
                )
            )
            if status != 200 and subscription.url in self._subscriptions:
                self._undelivered.append((subscription, update))
