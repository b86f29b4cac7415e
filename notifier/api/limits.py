"""Limits at the door: request bodies no larger than their route needs (413), and bearer-token
guessing slowed to a few tries a minute per client address (429)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest body each route takes; everything else (JSON records, preferences) is small.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("/v1/events", 16 * 1024 * 1024),  # a batch of CloudEvents
    ("/v1/roster/import", 20 * 1024 * 1024),  # a school's CSV
    ("/console/setup/roster/check", 20 * 1024 * 1024),  # the same CSV, from the console
    ("/telegram/webhook", 1024 * 1024),  # one Telegram update
)
DEFAULT_BODY_LIMIT = 256 * 1024


class BodyLimit:
    """ASGI middleware: 413 when Content-Length says too much, or when a body without one
    (chunked) grows past the limit."""

    def __init__(
        self,
        app: ASGIApp,
        limits: Sequence[tuple[str, int]] = BODY_LIMITS,
        default: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        if declared:
            # The server holds a body to its declared length: nothing more to count.
            await self.app(scope, receive, send)
            return
        # A chunked body: read it here, up to the limit, then hand it on. (Counting while the
        # route reads would not do: FastAPI turns any error while reading into a 400.)
        body: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the route sees an empty body and answers it
            size += len(message.get("body", b""))
            if size > limit:
                await _refuse(send, limit)
                return
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, limit: int) -> None:
    size = f"{limit // 2**20} MB" if limit % 2**20 == 0 else f"{limit // 1024} KB"
    body = json.dumps({"error": f"the request body is larger than {size}"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
