"""notifier/channels/http1.py against a local HTTP/1.1 server that answers as each test scripts
it (kept alive, closed, chunked, cut short, not HTTP, slow, over TLS, redirecting), and the
channels over it: Telegram's and MAX's when the connection drops or the answer is not theirs,
the SMS gateways' requests."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest
import trustme
from pydantic import SecretStr

from notifier.channels import http1
from notifier.channels.base import Recipient
from notifier.channels.http1 import HttpError, JsonClient
from notifier.channels.max import MaxChannel
from notifier.channels.ratelimit import RateLimiter
from notifier.channels.sms_http import HttpGateway
from notifier.channels.smsru import SmsRuGateway
from notifier.channels.telegram import TelegramChannel
from notifier.config import Settings, SmsProvider
from notifier.errors import PermanentDelivery, TransientDelivery
from notifier.runtime import Runtime

OK = b'{"ok":true,"result":{"message_id":7}}'


@dataclass
class Request:
    line: bytes
    headers: dict[bytes, bytes]
    body: bytes


Answer = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    """Counts connections and keeps each request; `answer` writes the reply (kept alive unless
    it closes the writer)."""

    answer: Answer
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    open_writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *rest = head[:-4].split(b"\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (h.partition(b":") for h in rest)}
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                request = Request(line, headers, body)
                self.requests.append(request)
                await self.answer(request, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


def reply(body: bytes = OK, *, status: bytes = b"200 OK", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status,
        len(body),
        extra,
        body,
    )


BAD_GATEWAY = reply(b"<html>Bad gateway</html>", status=b"502 Bad Gateway")  # a proxy's page


async def answer_ok(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(reply())


CUT = object()  # in_turn's step: the start of an answer, then the connection closed


def in_turn(*steps: bytes | object) -> Answer:
    """An `answer` that writes these replies, one a request, in turn (CUT: cut short)."""
    replies = iter(steps)

    async def scripted(request: Request, writer: asyncio.StreamWriter) -> None:
        step = next(replies)
        if step is CUT:
            writer.write(reply()[:20])
            await writer.drain()
            writer.close()
        else:
            assert isinstance(step, bytes)
            writer.write(step)

    return scripted


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[tuple[Server, str]]]]:
    servers: list[tuple[Server, asyncio.Server]] = []

    async def start(answer: Answer, tls: ssl.SSLContext | None = None) -> tuple[Server, str]:
        server = Server(answer)
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
        servers.append((server, listening))
        port = listening.sockets[0].getsockname()[1]
        return server, f"{'https' if tls else 'http'}://127.0.0.1:{port}/api"

    yield start
    for server, listening in servers:
        listening.close()
        for writer in server.open_writers:
            writer.close()
    await asyncio.sleep(0.01)  # the handlers see their connections closed and end


async def two_calls(serve: Callable[..., Awaitable[tuple[Server, str]]], answer: Answer) -> Server:
    """Two calls in turn to a server answering with `answer`, each answered whole; the server,
    to count the connections they took."""
    server, base = await serve(answer)
    client = JsonClient(base)
    for _ in range(2):
        assert await client.request("POST", "/m", b"{}") == (200, OK)
    await client.close()
    return server


async def test_a_call_is_posted_as_json_and_its_connection_kept_for_the_next(serve) -> None:
    server, base = await serve(answer_ok)
    client = JsonClient(base)
    for n in range(3):
        status, body = await client.request("POST", "/sendMessage", json.dumps({"n": n}).encode())
        assert (status, body) == (200, OK)
    await client.close()
    assert server.connections == 1
    first = server.requests[0]
    assert first.line == b"POST /api/sendMessage HTTP/1.1"
    assert first.headers[b"host"] == base.split("/")[2].encode()
    assert first.headers[b"content-type"] == b"application/json"
    assert [json.loads(r.body) for r in server.requests] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_calls_at_once_take_a_connection_each_and_share_them_after(serve) -> None:
    async def slow_ok(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        writer.write(reply(request.body))

    server, base = await serve(slow_ok)
    client = JsonClient(base)
    answers = await asyncio.gather(
        *(client.request("POST", "/m", b'{"n":%d}' % n) for n in range(5))
    )
    assert [body for _, body in answers] == [b'{"n":%d}' % n for n in range(5)]
    await asyncio.gather(*(client.request("POST", "/m", b"{}") for _ in range(5)))
    assert server.connections == 5
    await client.close()


async def test_an_answer_that_closes_the_connection_is_read_and_the_next_call_connects_again(
    serve,
) -> None:
    async def close_after(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(reply(extra=b"Connection: close\r\n"))
        await writer.drain()
        writer.close()

    assert (await two_calls(serve, close_after)).connections == 2


async def test_a_chunked_answer_is_joined(serve) -> None:
    async def chunked(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (OK[:10], OK[10:]):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")

    assert (await two_calls(serve, chunked)).connections == 1


async def test_an_error_status_comes_back_with_its_body(serve) -> None:
    refusal = b'{"ok":false,"error_code":429,"parameters":{"retry_after":3}}'

    async def too_many(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(reply(refusal, status=b"429 Too Many Requests"))

    _, base = await serve(too_many)
    client = JsonClient(base)
    assert await client.request("POST", "/m", b"{}") == (429, refusal)
    await client.close()


async def test_a_connection_cut_before_the_whole_answer_raises_and_is_not_used_again(
    serve,
) -> None:
    calls = 0

    async def cut_first(request: Request, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            writer.write(reply()[:-5])
            await writer.drain()
            writer.close()
        else:
            writer.write(reply())

    server, base = await serve(cut_first)
    client = JsonClient(base)
    with pytest.raises(HttpError, match="before its answer was whole"):
        await client.request("POST", "/m", b"{}")
    assert await client.request("POST", "/m", b"{}") == (200, OK)
    assert server.connections == 2
    await client.close()


async def test_an_idle_connection_the_server_closed_is_left_for_a_new_one(serve) -> None:
    server, base = await serve(answer_ok)
    client = JsonClient(base)
    await client.request("POST", "/m", b"{}")
    for writer in server.open_writers:  # the server's keep-alive timeout
        writer.close()
    await asyncio.sleep(0.05)
    assert await client.request("POST", "/m", b"{}") == (200, OK)
    assert server.connections == 2
    await client.close()


async def test_a_connection_idle_too_long_is_not_used_again(serve, monkeypatch) -> None:
    server, base = await serve(answer_ok)
    client = JsonClient(base)
    await client.request("POST", "/m", b"{}")
    monkeypatch.setattr(http1, "IDLE_SECONDS", 0.0)
    await client.request("POST", "/m", b"{}")
    assert server.connections == 2
    await client.close()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"<html>proxy error</html>\r\n\r\n", "not HTTP"),  # a proxy's page
        (reply(b"x" * (http1.MAX_ANSWER_BYTES + 1)), "over"),  # too large for an API's answer
    ],
    ids=["not-http", "too-large"],
)
async def test_an_answer_not_an_apis_is_a_value_error(serve, answer: bytes, why: str) -> None:
    async def wrong(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)

    _, base = await serve(wrong)
    client = JsonClient(base)
    with pytest.raises(ValueError, match=why):
        await client.request("POST", "/m", b"{}")
    await client.close()


async def test_a_server_too_slow_times_out_and_its_connection_is_closed(serve) -> None:
    async def never(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server, base = await serve(never)
    client = JsonClient(base, timeout=0.2)
    with pytest.raises(TimeoutError):
        await client.request("POST", "/m", b"{}")
    server.answer = answer_ok
    assert await client.request("POST", "/m", b"{}") == (200, OK)
    assert server.connections == 2
    await client.close()


async def test_nothing_listening_is_an_os_error() -> None:
    client = JsonClient("http://127.0.0.1:9")
    with pytest.raises(OSError):
        await client.request("POST", "/m", b"{}")


def test_a_base_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        JsonClient("ftp://example.org")


async def test_https_checks_the_server_by_the_system_s_trusted_authorities(
    serve, monkeypatch, tmp_path: Path
) -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    server, base = await serve(answer_ok, server_tls)

    untrusted = JsonClient(base)
    with pytest.raises(ssl.SSLCertVerificationError):
        await untrusted.request("POST", "/m", b"{}")

    # An operator's own authority, as OpenSSL reads it (SSL_CERT_FILE).
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    trusted = JsonClient(base)
    assert await trusted.request("POST", "/m", b"{}") == (200, OK)
    assert await trusted.request("POST", "/m", b"{}") == (200, OK)
    assert server.connections == 1  # kept alive (the refused handshake never reached it)
    await trusted.close()

    # Or one file trusted by this client alone (NOTIFIER_MAX_CA_FILE: Russian Trusted Root CA).
    monkeypatch.delenv("SSL_CERT_FILE")
    with pytest.raises(ssl.SSLCertVerificationError):
        await JsonClient(base).request("POST", "/m", b"{}")
    own = JsonClient(base, ca_file=tmp_path / "ca.pem")
    assert await own.request("POST", "/m", b"{}") == (200, OK)
    await own.close()


async def test_any_method_goes_with_the_client_s_headers_and_a_body_or_none(serve) -> None:
    server, base = await serve(answer_ok)
    client = JsonClient(base, headers={"Authorization": "t0ken"})
    assert await client.request("PUT", "/messages?message_id=m.1", b'{"text":"x"}') == (200, OK)
    assert await client.request("GET", "/me") == (200, OK)
    await client.close()
    put, get = server.requests
    assert put.line == b"PUT /api/messages?message_id=m.1 HTTP/1.1"
    assert put.body == b'{"text":"x"}'
    assert get.line == b"GET /api/me HTTP/1.1"
    assert (get.headers[b"content-length"], get.body) == (b"0", b"")
    assert {r.headers[b"authorization"] for r in server.requests} == {b"t0ken"}


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        JsonClient("http://127.0.0.1:9", headers={"Authorization": "t\r\nX-Evil: 1"})


async def later_then_dead_then_sent(
    channel: TelegramChannel | MaxChannel,
    to: Recipient,
    runtime: Runtime,
    later: tuple[str, ...],
    *,
    sent_as: str,
) -> None:
    """Sends against a server scripted by in_turn: one TransientDelivery for each reason of
    `later`, then a PermanentDelivery that makes the address unusable, then one sent (its
    provider id `sent_as`); the channel closed after."""
    now = runtime.clock()
    for reason in later:
        with pytest.raises(TransientDelivery) as transient:
            await channel.send(to, "<b>5</b>", ref="r1", now=now)
        assert transient.value.reason == reason
    with pytest.raises(PermanentDelivery) as permanent:
        await channel.send(to, "<b>5</b>", ref="r1", now=now)
    assert permanent.value.unusable
    assert (await channel.send(to, "<b>5</b>", ref="r1", now=now)).provider_id == sent_as
    await channel.close()


@pytest.mark.redis
async def test_telegram_retries_later_what_did_not_get_an_answer_and_drops_a_dead_chat(
    serve, runtime: Runtime
) -> None:
    """Through TelegramChannel: a cut connection and a proxy's page are retried later; Telegram's
    "chat not found" is not."""
    dead = b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}'
    _, base = await serve(
        in_turn(
            CUT,
            BAD_GATEWAY,
            reply(dead, status=b"400 Bad Request"),
            reply(),
        )
    )
    settings = runtime.settings.model_copy(
        update={"telegram_token": SecretStr("123:abc"), "telegram_api_base": base}
    )
    channel = TelegramChannel(settings, RateLimiter(runtime.redis))
    to = Recipient("g1", "Анна", telegram_chat_id="600000001")
    await later_then_dead_then_sent(
        channel, to, runtime, ("telegram HttpError", "telegram JSONDecodeError"), sent_as="7"
    )


@pytest.mark.redis
async def test_max_retries_later_what_did_not_get_an_answer_and_names_a_refused_token(
    serve, runtime: Runtime
) -> None:
    """Through MaxChannel: a cut connection, a proxy's page and a refused token are retried
    later, the token's refusal saying what to check; MAX's "chat.denied" is not. The requests
    are maxapi's: the token in the Authorization header, the text as HTML, no link preview."""
    refused = b'{"code":"verify.token","message":"Invalid access_token"}'
    denied = b'{"code":"chat.denied","message":"dialog.suspended"}'
    server, base = await serve(
        in_turn(
            CUT,
            BAD_GATEWAY,
            reply(refused, status=b"401 Unauthorized"),
            reply(denied, status=b"403 Forbidden"),
            reply(b'{"message":{"body":{"mid":"mid.7","text":"5"}}}'),
        )
    )
    settings = runtime.settings.model_copy(
        update={"max_token": SecretStr("max-t0ken"), "max_api_base": base}
    )
    channel = MaxChannel(settings, RateLimiter(runtime.redis))
    to = Recipient("g1", "Анна", max_user_id="4100001")
    later = (
        "MAX connection failed (HttpError)",
        "MAX 502 error",
        "MAX 401: the token was refused; check NOTIFIER_MAX_TOKEN",
    )
    await later_then_dead_then_sent(channel, to, runtime, later, sent_as="mid.7")
    sent = server.requests[-1]
    assert sent.line == b"POST /api/messages?user_id=4100001&disable_link_preview=true HTTP/1.1"
    assert sent.headers[b"authorization"] == b"max-t0ken"
    assert json.loads(sent.body) == {"attachments": [], "text": "<b>5</b>", "format": "html"}


async def test_an_sms_gateway_that_redirects_is_a_setting_to_change_not_a_retry(
    serve, settings: Settings
) -> None:
    """Through the SMS gateways (form and JSON posts): a redirect is not followed (a POST
    redirected by 301 would arrive as a GET without its form), and says what to set; the URL's
    query and user:password go with every request."""
    moved = b"Location: https://gateway.example/send\r\n"
    ok = b'{"status":"OK","sms":{"79161234567":{"status":"OK","sms_id":"1-2"}}}'
    server, base = await serve(
        in_turn(reply(b"", status=b"301 Moved Permanently", extra=moved), reply(ok))
    )
    http = HttpGateway(
        settings.model_copy(
            update={
                "sms_provider": SmsProvider.http,
                "sms_url": f"{base}/send?client=17",
                "sms_api_key": SecretStr("sms-k3y"),
            }
        )
    )
    with pytest.raises(PermanentDelivery) as moved:
        await http.submit("+79161234567", "5", segments=1, ref="r1")
    assert "redirects; set NOTIFIER_SMS_URL" in moved.value.reason
    assert not moved.value.unusable  # the parent's number is fine
    await http.close()

    user, key = "school 17", "p@ss"
    smsru = SmsRuGateway(
        settings.model_copy(
            update={
                "sms_provider": SmsProvider.smsru,
                "sms_url": base.replace("://", f"://{quote(user)}:{quote(key)}@"),
                "sms_api_key": SecretStr("SMSRU-KEY"),
            }
        )
    )
    assert (await smsru.submit("+79161234567", "5", segments=1, ref="r2")).provider_id == "1-2"
    await smsru.close()
    bearer, basic = server.requests[0], server.requests[1]
    assert bearer.line == b"POST /api/send?client=17 HTTP/1.1"
    assert bearer.headers[b"authorization"] == b"Bearer sms-k3y"
    assert basic.line == b"POST /api/sms/send HTTP/1.1"
    assert basic.headers[b"content-type"] == b"application/x-www-form-urlencoded"
    assert basic.headers[b"authorization"] == b"Basic " + base64.b64encode(b"school 17:p@ss")
    assert parse_qs(basic.body.decode()) == {
        "api_id": ["SMSRU-KEY"],
        "to": ["79161234567"],
        "msg": ["5"],
        "json": ["1"],
    }
