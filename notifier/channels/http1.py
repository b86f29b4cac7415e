"""Requests to one API origin over kept-alive HTTP/1.1 connections, answered in JSON: delivery's
calls to the messengers (the Telegram Bot API's, channels/bot_api.py; MAX's,
channels/max_api.py) and to the SMS gateways (channels/sms_http.py).

aiohttp's client spent about 118 µs of CPU on a call against the local Bot API server (20 at a
time, uvloop), most of it in its request and response objects, its timers and its stream
reader, for an answer of which delivery reads one number. This sends the request's bytes and
reads the answer with llhttp (httptools, the parser uvicorn uses): about 31 µs, the same
server, in the same run (2026-12-07). What it leaves out, because none of these APIs needs
it: redirects (one comes back as its status), cookies, proxies, compression (it asks for
none), and requests sent before the last answer came (one request at a time on a
connection).

Each connection carries one call at a time, and goes back to the pool when its answer came
whole and both sides keep it alive. One idle longer than IDLE_SECONDS is closed instead: a
server may close an idle connection at any moment, and a request written just then is lost
without an answer (a ConnectionError, which delivery retries later, as with any dropped
connection)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import httptools

from notifier.channels.tls import ssl_context

IDLE_SECONDS = 15.0  # aiohttp's keep-alive timeout too; nginx's default is 75 s
MAX_ANSWER_BYTES = 1 << 20  # a Bot API answer is under a kilobyte; more is not an API's
MAX_CONNECTIONS = 100  # at once to the origin, as aiohttp's default
JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"


class HttpError(ConnectionError):
    """The connection failed or closed before the whole answer came."""


class _Connection(asyncio.Protocol):
    """One kept-alive connection: a request written, its answer parsed as it arrives."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._close = False  # the answer said "Connection: close"
        self.lost = False
        self.idle_since = 0.0

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ValueError(f"the server's answer is not HTTP ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(HttpError("the server closed the connection before its answer was whole"))

    # -- httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"connection" and value.strip().lower() == b"close":
            self._close = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_ANSWER_BYTES:
            self._fail(ValueError(f"the server's answer is over {MAX_ANSWER_BYTES} bytes"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer, body = self._answer, b"".join(self._body)
        keep = not self._close and self._parser.should_keep_alive()
        self._answer, self._body, self._size, self._close = None, [], 0, False
        if answer is not None and not answer.done():
            answer.set_result((self._parser.get_status_code(), body, keep))

    # -- ours

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Write a request; its answer's status, body, and whether the connection stays."""
        if self._transport is None or self.lost:
            raise HttpError("the connection is closed")
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._answer

    def _fail(self, error: Exception) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)

    def close(self) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.close()


class JsonClient:
    """Requests (JSON bodies, or an SMS gateway's form) to one origin (`base`: http or https,
    with an optional path prefix), over at most MAX_CONNECTIONS kept-alive connections;
    `headers` go with every request (MAX's token), and `ca_file` is trusted besides the
    system's roots. A call raises TimeoutError past `timeout` seconds (connecting:
    `connect_timeout`), OSError (HttpError among them, ssl's certificate errors too) when the
    connection fails, and ValueError for an answer that is not HTTP."""

    def __init__(
        self,
        base: str,
        *,
        timeout: float = 30,
        connect_timeout: float = 10,
        headers: Mapping[str, str] | None = None,
        ca_file: Path | None = None,
    ) -> None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an API base must be an http:// or https:// URL, not {base!r}")
        extra = dict(headers or {})
        if any(c in text for item in extra.items() for text in item for c in "\r\n"):
            raise ValueError("a header name or value may not hold a line break")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.tls = ssl_context(ca_file) if parts.scheme == "https" else None
        self._head = (
            f"Host: {parts.netloc.rpartition('@')[2]}\r\n"
            "User-Agent: notifier\r\nAccept: application/json\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in extra.items())
        ).encode()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._closed = False

    async def request(
        self, method: str, path: str, body: bytes = b"", *, content_type: bytes = JSON
    ) -> tuple[int, bytes]:
        """`method` (POST, PUT, GET…) of the base's prefix + `path` (with its query), `body`
        JSON (or of `content_type`: an SMS gateway's form) or empty: the answer's status and
        body. A redirect comes back as its status: we follow none (an API that moved is a
        setting to change)."""
        request = b"%s %s HTTP/1.1\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
            method.encode(),
            (self.prefix + path or "/").encode(),
            self._head,
            content_type,
            len(body),
            body,
        )
        async with self._slots, asyncio.timeout(self.timeout):
            connection = self._take() or await self._connect()
            try:
                status, answer, keep = await connection.exchange(request)
            except BaseException:
                connection.close()  # a cancelled or failed exchange leaves it mid-answer
                raise
        if keep and not self._closed:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return status, answer

    def _take(self) -> _Connection | None:
        """The most recently used idle connection still open and fresh; older ones closed."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.lost and time.monotonic() - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        if self._closed:
            raise HttpError("the client is closed")
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout):
            _, connection = await loop.create_connection(
                _Connection, self.host, self.port, ssl=self.tls
            )
        return connection

    async def close(self) -> None:
        """Close the idle connections; those out close when their answer came."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
