"""A local Telegram Bot API server that answers the way api.telegram.org does.

It is an aiohttp application served from its own thread and event loop (like
aiosmtpd's Controller), so sync and async tests can share it. aiogram reaches it
through ``TelegramAPIServer.from_base(server.base)``: every call arrives as
``POST /bot<TOKEN>/<method>`` with form fields (urlencoded, or multipart when a
file is attached); JSON bodies and query strings are accepted too, as Telegram
does.

What it checks the way Telegram does: the token, HTML markup (a port of TDLib's
``parse_html``, with its error texts and byte offsets), empty and over-long
texts, reply markup, webhook/getUpdates conflicts, editing and deleting known
messages. Tests program faults (``fail_next``, ``block_chat``, ``chat_not_found``,
``set_flood_limits``) and feed updates (``user_message``, ``callback_query``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NoReturn, Self
from urllib.parse import urlsplit

from aiohttp import web

HOST = "127.0.0.1"
MAX_TEXT_LENGTH = 4096

_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND_IN_TEXT = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")

# Update types Telegram sends when allowed_updates was never given (or given as []).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = _DEFAULT_DESCRIPTIONS[409]
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# --- the thread that serves an aiohttp application ---------------------------------


class ThreadedAiohttpServer:
    """Serve `_build_app()` on 127.0.0.1 at a kernel-picked port from a thread of its own.

    Handlers run on that thread's loop; state they share with tests needs a lock.
    `stop()` first calls `_on_stopping()` on the server loop (to wake handlers that
    wait, e.g. long polls), then shuts the runner down.
    """

    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # Subclasses provide these.
    def _build_app(self) -> web.Application:
        raise NotImplementedError

    def _on_stopping(self) -> None:
        """Runs on the server loop when `stop()` begins."""

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(ready, failure), name=type(self).__name__, daemon=True
        )
        thread.start()
        if not ready.wait(10):
            raise TimeoutError(f"{type(self).__name__} did not start within 10s")
        if failure:
            thread.join(5)
            raise failure[0]
        self._thread = thread

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop is already closed
                pass
        thread.join(15)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the server loop, from any thread; nothing if not running."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:
            pass

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready, failure))
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                self._loop = None

    async def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, 0)
            await site.start()
            self.port = int(runner.addresses[0][1])
        except BaseException as exc:
            failure.append(exc)
            await runner.cleanup()
            ready.set()
            return
        ready.set()
        try:
            await stopping.wait()
            self._on_stopping()
        finally:
            await runner.cleanup()


# --- Telegram's HTML -----------------------------------------------------------------


class HtmlParseError(ValueError):
    """What TDLib says about bad markup; the API prefixes "Bad Request: can't parse entities: "."""


_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
        "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SIMPLE_ENTITY = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "u": "underline", "ins": "underline", "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_NAMED_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES = frozenset(b" \t\r\n\f\v")


def _is_alnum(byte: int) -> bool:
    return chr(byte).isascii() and chr(byte).isalnum()


def _decode_html_entity(data: bytes, pos: int) -> tuple[int, int]:
    """TDLib's decode_html_entity: (code point, position after it), or (0, pos) if none."""
    n = len(data)

    def at(i: int) -> int:
        return data[i] if i < n else 0

    end = pos + 1
    value = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while chr(at(end)) in "0123456789abcdefABCDEF":
                value = value * 16 + int(chr(at(end)), 16)
                end += 1
                if value >= 0x10FFFF:
                    return 0, pos
        else:
            while ord("0") <= at(end) <= ord("9"):
                value = value * 10 + at(end) - ord("0")
                end += 1
                if value >= 0x10FFFF:
                    return 0, pos
        if value == 0 or end - pos >= 10:
            return 0, pos
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(data[pos + 1 : end])
        if named is None:
            # Not an error at Telegram: "&nbsp;", "R&D" and a lone "&" stay as they are.
            return 0, pos
        value = ord(named)
    if at(end) == ord(";"):
        end += 1
    return value, end


def _check_url(url: str) -> str | None:
    """A rough LinkManager::check_link: None when Telegram would drop the link."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    scheme, sep, _ = url.partition("://")
    if not sep:
        if url.startswith(("tg:", "mailto:")):
            return url
        return "http://" + url
    if scheme.lower() not in {"http", "https", "tg", "ton", "ftp"}:
        return None
    return url


def parse_html(text: str, *, strict_entities: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: (plain text, entities with UTF-16 offsets).

    A port of TDLib's ``parse_html``: same tags, same attribute rules, same error
    messages with byte offsets into the UTF-8 text. Unknown named entities stay
    literal, as at Telegram, unless `strict_entities` (then they are an error).
    """
    data = text.encode("utf-8", "surrogatepass")
    n = len(data)

    def at(i: int) -> int:
        return data[i] if i < n else 0

    out = bytearray()
    utf16 = 0
    entities: list[dict[str, Any]] = []
    # (tag, argument, utf16 offset, position in `out`)
    stack: list[tuple[str, str, int, int]] = []
    i = 0
    while i < n:
        c = data[i]
        if c == ord("&"):
            code, after = _decode_html_entity(data, i)
            if code:
                out += chr(code).encode("utf-8", "surrogatepass")
                utf16 += 2 if code > 0xFFFF else 1
                i = after
                continue
            if strict_entities:
                match = re.match(rb"&([A-Za-z]+|#x?[0-9A-Fa-f]*);", data[i:])
                if match:
                    name = match.group(0).decode()
                    raise HtmlParseError(f'Unsupported HTML entity "{name}" at byte offset {i}')
        if c != ord("<"):
            out.append(c)
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            # A start tag.
            while at(i) and at(i) not in _SPACES and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != ord(">"):
                while at(i) and at(i) in _SPACES:
                    i += 1
                if at(i) == ord(">"):
                    break
                attr_begin = i
                while at(i) and at(i) not in _SPACES and at(i) not in b"=>":
                    i += 1
                attr = data[attr_begin:i].decode("utf-8", "replace")
                if not attr:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while at(i) and at(i) in _SPACES:
                    i += 1
                if at(i) != ord("="):
                    if tag == "blockquote" and attr == "expandable" and at(i):
                        argument = "1"
                        continue
                    raise HtmlParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while at(i) and at(i) in _SPACES:
                    i += 1
                if at(i) == 0:
                    raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if at(i) not in b"'\"":
                    # A name token: letters, digits, periods, hyphens; not case sensitive.
                    token_begin = i
                    while at(i) and (_is_alnum(at(i)) or at(i) in b".-"):
                        i += 1
                    value = data[token_begin:i].decode().lower()
                    if at(i) not in _SPACES and at(i) != ord(">"):
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    raw = bytearray()
                    while at(i) and at(i) != quote:
                        if at(i) == ord("&"):
                            code, after = _decode_html_entity(data, i)
                            if code:
                                raw += chr(code).encode("utf-8", "surrogatepass")
                                i = after
                                continue
                        raw.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if at(i) == 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            i += 1  # past ">"
            stack.append((tag, argument, utf16, len(out)))
            continue

        # An end tag.
        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        while at(i) and at(i) not in _SPACES and at(i) != ord(">"):
            i += 1
        end_tag = data[begin + 2 : i].decode("utf-8", "replace")
        while at(i) and at(i) in _SPACES:
            i += 1
        if at(i) != ord(">"):
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        i += 1
        tag, argument, offset, out_pos = stack.pop()
        if end_tag and end_tag != tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        length = utf16 - offset
        if length <= 0:
            continue
        span: dict[str, Any] = {"offset": offset, "length": length}
        last = entities[-1] if entities else None
        same_range = last is not None and (last["offset"], last["length"]) == (offset, length)
        if tag in _SIMPLE_ENTITY:
            entities.append({"type": _SIMPLE_ENTITY[tag], **span})
        elif tag == "a":
            url = argument or out[out_pos:].decode("utf-8", "replace")
            user = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if user:
                mentioned = {"id": int(user.group(1)), "is_bot": False, "first_name": "User"}
                entities.append({"type": "text_mention", **span, "user": mentioned})
            elif (checked := _check_url(url)) is not None:
                entities.append({"type": "text_link", **span, "url": checked})
        elif tag == "pre":
            if same_range and last is not None and last["type"] == "code" and last.get("_lang"):
                last["type"] = "pre"
                last["language"] = last.pop("_lang")
            else:
                entities.append({"type": "pre", **span})
        elif tag == "code":
            if same_range and last is not None and last["type"] == "pre" and argument:
                last["language"] = argument
            else:
                entity = {"type": "code", **span}
                if argument:
                    entity["_lang"] = argument
                entities.append(entity)
        elif tag == "blockquote":
            kind = "expandable_blockquote" if argument else "blockquote"
            entities.append({"type": kind, **span})
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            entities.append({"type": "custom_emoji", **span, "custom_emoji_id": argument})
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    try:
        plain = out.decode("utf-8")
    except UnicodeDecodeError:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    for entity in entities:
        entity.pop("_lang", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, entities


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims whitespace around a message; entities move with the text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    size = _utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# --- records ------------------------------------------------------------------------


@dataclass(frozen=True)
class SentMessage:
    """One sendMessage call, accepted or not."""

    chat_id: str
    text: str  # as sent (raw markup)
    parse_mode: str | None
    plain: str  # what the parent sees: tags stripped, entities decoded, trimmed
    reply_markup: Any | None  # parsed JSON
    at: float  # time.monotonic() when the server handled it
    accepted: bool
    message_id: int | None = None
    error_code: int | None = None
    description: str | None = None  # the error's description when rejected
    entities: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # every field as received


@dataclass(frozen=True)
class ApiCall:
    """Any Bot API call (sendMessage and getUpdates included)."""

    method: str  # as in the URL, e.g. "editMessageText"
    params: dict[str, Any]
    at: float
    ok: bool
    error_code: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None


@dataclass
class _Fault:
    code: int
    times: int
    description: str
    retry_after: int | None
    chat_id: str | None


@dataclass
class _StoredMessage:
    message: dict[str, Any]  # as the API returns it
    from_bot: bool


class _ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass
class _Reply:
    result: Any
    description: str | None = None


# --- reading parameters ---------------------------------------------------------------


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False)


def _p_str(params: dict[str, Any], name: str) -> str | None:
    return _as_str(params.get(name))


def _p_int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise _ApiError(400, f"Bad Request: invalid {name} specified") from None


def _p_bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1"}


def _p_json(params: dict[str, Any], name: str, error: str | None = None) -> Any:
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise _ApiError(400, error or f"Bad Request: can't parse {name} JSON object") from None


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


# --- the server ---------------------------------------------------------------------------


class BotApiServer(ThreadedAiohttpServer):
    """The Bot API for one bot token at ``base`` (``http://127.0.0.1:PORT``).

    `sent` records every sendMessage (accepted and rejected, see `accepted` /
    `rejected`); `calls` records every API call. Methods it does not know answer
    404 like Telegram; a wrong token answers 401.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        username: str = "notifier_test_bot",
        *,
        first_name: str = "Школа: уведомления",
        strict_entities: bool = False,
        host: str = HOST,
    ) -> None:
        super().__init__(host)
        self.token = token
        self.username = username
        self.first_name = first_name
        self.strict_entities = strict_entities
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456
        self.sent: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.webhook: Webhook | None = None
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._blocked: dict[str, str] = {}
        self._missing: set[str] = set()
        self._flood_per_second: int | None = None
        self._flood_chat_interval: float | None = None
        self._flood_retry_after = 1
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 100_000_001
        self._allowed_updates: list[str] | None = None
        self._next_message_id: dict[str, int] = {}
        self._messages: dict[tuple[str, int], _StoredMessage] = {}
        self._chats: dict[str, dict[str, Any]] = {}
        self._queries: set[str] = set()
        self._next_query = 4_611_686_018_427_387_905
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._poll_generation = 0
        self._polls_waiting = 0
        self._closing = False
        self._delegates: dict[str, BotApiServer] = {}
        self._updates_event: asyncio.Event | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], Awaitable[Any] | Any]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "deletemessage": self._delete_message,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "close": lambda params: True,
            "logout": lambda params: True,
        }

    def serve_also(self, other: BotApiServer) -> None:
        """Answer `other`'s token here too (a second bot on the same API base), recording
        its calls in `other` (which need not be started; long polling is not delegated)."""
        self._delegates[other.token] = other

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

    # -- test side: programming ----------------------------------------------------------

    def clear(self) -> None:
        """Forget records, faults, queued updates and the webhook."""
        with self._lock:
            self.sent.clear()
            self.calls.clear()
            self._faults.clear()
            self._blocked.clear()
            self._missing.clear()
            self._flood_per_second = self._flood_chat_interval = None
            self._updates.clear()
            self._allowed_updates = None
            self._queries.clear()
            self._commands.clear()
            self.webhook = None

    def fail_next(
        self,
        code: int,
        times: int = 1,
        *,
        retry_after: int | None = None,
        chat_id: int | str | None = None,
        description: str | None = None,
    ) -> None:
        """The next `times` sendMessage calls (to `chat_id` only, if given) fail with `code`.

        429 always carries ``parameters.retry_after`` (`retry_after`, else 1) and the
        description "Too Many Requests: retry after N", as Telegram's does.
        """
        if code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(code, f"Error {code}")
        fault = _Fault(
            code=code,
            times=times,
            description=description,
            retry_after=retry_after,
            chat_id=None if chat_id is None else str(chat_id),
        )
        with self._lock:
            self._faults.append(fault)

    def block_chat(
        self, chat_id: int | str, description: str = "Forbidden: bot was blocked by the user"
    ) -> None:
        """Every sendMessage to `chat_id` answers 403 until `unblock_chat`."""
        with self._lock:
            self._blocked[str(chat_id)] = description

    def unblock_chat(self, chat_id: int | str) -> None:
        with self._lock:
            self._blocked.pop(str(chat_id), None)

    def chat_not_found(self, chat_id: int | str) -> None:
        """sendMessage to `chat_id` answers 400 "Bad Request: chat not found" from now on."""
        with self._lock:
            self._missing.add(str(chat_id))

    def set_flood_limits(
        self,
        per_second: int | None = 30,
        per_chat_interval: float | None = 1.0,
        *,
        retry_after: int = 1,
    ) -> None:
        """Answer 429 as Telegram's flood control would (off until called).

        A sendMessage is refused when `per_second` messages were already accepted in
        the last second, or when the chat got one less than `per_chat_interval` ago.
        None switches that limit off.
        """
        with self._lock:
            self._flood_per_second = per_second
            self._flood_chat_interval = per_chat_interval
            self._flood_retry_after = retry_after

    # -- test side: updates ---------------------------------------------------------------

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        first_name: str = "Мама",
        username: str | None = None,
        language_code: str = "ru",
    ) -> dict[str, Any]:
        """Queue a private-chat message from the user `chat_id`; return the Update."""
        user: dict[str, Any] = {
            "id": chat_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if username:
            user["username"] = username
        with self._lock:
            chat = self._remember_chat(chat_id, first_name, username)
            message: dict[str, Any] = {
                "message_id": self._new_message_id(str(chat_id)),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            command = _BOT_COMMAND_IN_TEXT.match(text)
            if command:
                length = _utf16_len(command.group(0))
                message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
            key = (str(chat_id), message["message_id"])
            self._messages[key] = _StoredMessage(message=message, from_bot=False)
            update = self._queue_update({"message": message})
        return update

    def callback_query(
        self, chat_id: int, data: str, message_id: int, *, first_name: str = "Мама"
    ) -> dict[str, Any]:
        """Queue a press on an inline button of message `message_id`; return the Update."""
        with self._lock:
            chat = self._remember_chat(chat_id, first_name, None)
            stored = self._messages.get((str(chat_id), message_id))
            if stored is not None:
                message = json.loads(json.dumps(stored.message))
            else:
                # What Telegram sends for a message it can no longer show.
                message = {"chat": chat, "message_id": message_id, "date": 0}
            query_id = str(self._next_query)
            self._next_query += 1
            self._queries.add(query_id)
            update = self._queue_update(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": {
                            "id": chat_id,
                            "is_bot": False,
                            "first_name": chat.get("first_name", first_name),
                            "language_code": "ru",
                        },
                        "message": message,
                        "chat_instance": str(7_300_000_000_000_000_000 + abs(chat_id)),
                        "data": data,
                    }
                }
            )
        return update

    @property
    def polls_waiting(self) -> int:
        """getUpdates calls now holding a long poll open (the bot is polling)."""
        with self._lock:
            return self._polls_waiting

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed."""
        with self._lock:
            return list(self._updates)

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """What setMyCommands stored for that scope and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        with self._lock:
            return list(self._commands.get(key, []))

    # -- test side: inspecting -----------------------------------------------------------

    @property
    def accepted(self) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.accepted]

    @property
    def rejected(self) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if not m.accepted]

    @property
    def attempts(self) -> int:
        """sendMessage calls, rejected ones included."""
        with self._lock:
            return len(self.sent)

    def messages_to(self, chat_id: int | str) -> list[SentMessage]:
        """Accepted messages to `chat_id`, oldest first."""
        key = str(chat_id)
        with self._lock:
            return [m for m in self.sent if m.accepted and m.chat_id == key]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Calls of `method` (case-insensitive), failed ones included."""
        wanted = method.lower()
        with self._lock:
            return [c for c in self.calls if c.method.lower() == wanted]

    async def wait_for_messages(self, n: int, timeout: float = 10) -> list[SentMessage]:  # noqa: ASYNC109
        """Wait until at least `n` messages were accepted; return the accepted ones."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.accepted
            if len(got) >= n:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {n} accepted messages within {timeout}s, got {len(got)} "
                    f"({self.attempts} attempts)"
                )
            await asyncio.sleep(0.02)

    async def wait_for_calls(
        self,
        method: str,
        n: int = 1,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[ApiCall]:
        """Wait until `method` was called at least `n` times."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.calls_to(method)
            if len(got) >= n:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {n} {method} calls within {timeout}s, got {len(got)}")
            await asyncio.sleep(0.02)

    def max_per_second(self) -> int:
        """The most accepted sendMessage calls in any sliding 1-second window."""
        times = sorted(m.at for m in self.accepted)
        best = start = 0
        for end, t in enumerate(times):
            while t - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def min_gap_per_chat(self) -> float:
        """The shortest time between two accepted messages to one chat (inf if none)."""
        by_chat: dict[str, list[float]] = {}
        for m in self.accepted:
            by_chat.setdefault(m.chat_id, []).append(m.at)
        gap = math.inf
        for times in by_chat.values():
            times.sort()
            for a, b in itertools.pairwise(times):
                gap = min(gap, b - a)
        return gap

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

    # -- helpers on shared state (caller holds the lock) ---------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def _remember_chat(self, chat_id: int, first_name: str, username: str | None) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "first_name": first_name, "type": "private"}
        if username:
            chat["username"] = username
        self._chats[str(chat_id)] = chat
        return chat

    def _chat(self, chat_id: int) -> dict[str, Any]:
        known = self._chats.get(str(chat_id))
        if known is not None:
            return dict(known)
        if chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "title": "Родители 5А", "type": kind}
        return {"id": chat_id, "first_name": "Мама", "type": "private"}

    def _new_message_id(self, chat_key: str) -> int:
        self._next_message_id[chat_key] = self._next_message_id.get(chat_key, 0) + 1
        return self._next_message_id[chat_key]

    def _queue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._call_soon(self._wake_pollers)
        return update

    def _wake_pollers(self) -> None:
        if self._updates_event is not None:
            self._updates_event.set()

    def _take_fault(self, chat_key: str) -> _Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.chat_id in (None, chat_key):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _flood_check(self, chat_key: str, now: float) -> None:
        accepted = [m for m in self.sent if m.accepted]
        if self._flood_per_second is not None:
            recent = sum(1 for m in accepted if now - m.at < 1.0)
            if recent >= self._flood_per_second:
                retry = self._flood_retry_after
                raise _ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        if self._flood_chat_interval is not None:
            last = max((m.at for m in accepted if m.chat_id == chat_key), default=None)
            if last is not None and now - last < self._flood_chat_interval:
                retry = self._flood_retry_after
                raise _ApiError(429, f"Too Many Requests: retry after {retry}", retry)

    def _chat_id(self, params: dict[str, Any]) -> int:
        raw = (_p_str(params, "chat_id") or "").strip()
        if not raw:
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if raw in self._missing:
            raise _ApiError(400, "Bad Request: chat not found")
        try:
            return int(raw)
        except ValueError:
            # "@username" works for public channels only; none exist here.
            raise _ApiError(400, "Bad Request: chat not found") from None

    def _formatted(
        self, params: dict[str, Any]
    ) -> tuple[str, str | None, str, list[dict[str, Any]]]:
        """(raw text, parse_mode, plain text, entities), validated as Telegram does."""
        text = _p_str(params, "text") or ""
        parse_mode = _p_str(params, "parse_mode") or None
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                plain, entities = parse_html(text, strict_entities=self.strict_entities)
            except HtmlParseError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not checked; the text is taken as it is.
            plain, entities = text, []
        else:
            raise _ApiError(400, "Bad Request: unsupported parse_mode")
        plain, entities = _strip_text(plain, entities)
        if not plain:
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        return text, parse_mode, plain, entities

    # -- methods ---------------------------------------------------------------------------

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        at = time.monotonic()
        chat_key = (_p_str(params, "chat_id") or "").strip()
        raw_text = _p_str(params, "text") or ""
        parse_mode = _p_str(params, "parse_mode") or None
        markup: Any = None
        with self._lock:

            def reject(err: _ApiError) -> NoReturn:
                self.sent.append(
                    SentMessage(
                        chat_id=chat_key,
                        text=raw_text,
                        parse_mode=parse_mode,
                        plain="",
                        reply_markup=markup,
                        at=at,
                        accepted=False,
                        error_code=err.code,
                        description=err.description,
                        params=params,
                    )
                )
                raise err

            try:
                if not chat_key:
                    raise _ApiError(400, "Bad Request: chat_id is empty")
                fault = self._take_fault(chat_key)
                if fault is not None:
                    raise _ApiError(fault.code, fault.description, fault.retry_after)
                self._flood_check(chat_key, at)
                blocked = self._blocked.get(chat_key)
                if blocked is not None:
                    raise _ApiError(403, blocked)
                chat_id = self._chat_id(params)
                markup = self._reply_markup(params)
                _, _, plain, entities = self._formatted(params)
            except _ApiError as err:
                reject(err)
            message_id = self._new_message_id(chat_key)
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": self._bot_user(),
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": plain,
            }
            if entities:
                message["entities"] = entities
            preview = _p_json(params, "link_preview_options")
            if isinstance(preview, dict) and preview:
                message["link_preview_options"] = preview
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._messages[(chat_key, message_id)] = _StoredMessage(message, from_bot=True)
            self.sent.append(
                SentMessage(
                    chat_id=chat_key,
                    text=raw_text,
                    parse_mode=parse_mode,
                    plain=plain,
                    reply_markup=markup,
                    at=at,
                    accepted=True,
                    message_id=message_id,
                    entities=entities,
                    params=params,
                )
            )
            return message

    @staticmethod
    def _reply_markup(params: dict[str, Any]) -> Any:
        markup = _p_json(
            params, "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
        )
        if markup is None:
            return None
        if not isinstance(markup, dict) or not (
            {"inline_keyboard", "keyboard", "remove_keyboard", "force_reply"} & markup.keys()
        ):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                "must be an Array of Arrays",
            )
        actions = {
            "url", "callback_data", "web_app", "login_url", "switch_inline_query",
            "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
            "copy_text", "callback_game", "pay",
        }  # fmt: skip
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _ApiError(400, 'Bad Request: can\'t find field "text"')
                if not actions & button.keys():
                    raise _ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and _check_url(str(url)) is None:
                    raise _ApiError(
                        400,
                        f"Bad Request: inline keyboard button URL '{url}' is invalid: "
                        "Wrong HTTP URL",
                    )
        return markup

    def _stored_for_edit(self, params: dict[str, Any]) -> tuple[str, _StoredMessage]:
        chat_id = self._chat_id(params)
        message_id = _p_int(params, "message_id")
        if message_id is None:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        stored = self._messages.get((str(chat_id), message_id))
        if stored is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return str(chat_id), stored

    def _edit_message_text(self, params: dict[str, Any]) -> Any:
        with self._lock:
            markup = self._reply_markup(params)
            _, _, plain, entities = self._formatted(params)
            if _p_str(params, "inline_message_id"):
                return True
            _, stored = self._stored_for_edit(params)
            old = stored.message
            new_markup = (
                markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
            )
            if (
                old.get("text") == plain
                and old.get("entities", []) == entities
                and old.get("reply_markup") == new_markup
            ):
                raise _ApiError(400, NOT_MODIFIED)
            message = {**old, "text": plain, "edit_date": int(time.time())}
            message.pop("entities", None)
            message.pop("reply_markup", None)
            if entities:
                message["entities"] = entities
            if new_markup is not None:
                message["reply_markup"] = new_markup
            stored.message = message
            return message

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        with self._lock:
            markup = self._reply_markup(params)
            if _p_str(params, "inline_message_id"):
                return True
            _, stored = self._stored_for_edit(params)
            old = stored.message
            new_markup = (
                markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
            )
            if old.get("reply_markup") == new_markup:
                raise _ApiError(400, NOT_MODIFIED)
            message = {**old, "edit_date": int(time.time())}
            message.pop("reply_markup", None)
            if new_markup is not None:
                message["reply_markup"] = new_markup
            stored.message = message
            return message

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = _p_str(params, "callback_query_id") or ""
        with self._lock:
            if query_id not in self._queries:
                raise _ApiError(400, QUERY_TOO_OLD)
            self._queries.discard(query_id)
        return True

    def _delete_message(self, params: dict[str, Any]) -> bool:
        with self._lock:
            chat_id = self._chat_id(params)
            message_id = _p_int(params, "message_id")
            if self._messages.pop((str(chat_id), message_id or 0), None) is None:
                raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _p_int(params, "offset", 0) or 0
        limit = min(max(_p_int(params, "limit", 100) or 100, 1), 100)
        timeout = max(_p_int(params, "timeout", 0) or 0, 0)
        allowed = _p_json(params, "allowed_updates")
        with self._lock:
            if self.webhook is not None:
                raise _ApiError(409, WEBHOOK_CONFLICT)
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed] or None
            self._confirm(offset)
            self._poll_generation += 1
            generation = self._poll_generation
            batch = self._take(limit)
        # A newer poll ends an older one that still waits, with 409 (see below).
        self._wake_pollers()
        if batch or timeout == 0:
            return batch
        event = self._updates_event
        assert event is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self._lock:
            self._polls_waiting += 1
        try:
            while True:
                event.clear()
                with self._lock:
                    if self._poll_generation != generation:
                        raise _ApiError(409, POLL_CONFLICT)
                    if self._closing or self.webhook is not None:
                        return []
                    batch = self._take(limit)
                if batch:
                    return batch
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    pass
        finally:
            with self._lock:
                self._polls_waiting -= 1

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def _take(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        kept: deque[dict[str, Any]] = deque()
        for update in self._updates:
            kind = _update_type(update)
            if (kind in allowed) if allowed is not None else (kind not in _NOT_BY_DEFAULT):
                kept.append(update)
        # Telegram never stores updates of types the bot did not ask for.
        self._updates = kept
        return [json.loads(json.dumps(u)) for u in list(kept)[:limit]]

    def _set_webhook(self, params: dict[str, Any]) -> _Reply:
        url = (_p_str(params, "url") or "").strip()
        if not url:
            return self._delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if parts.port not in (None, 80, 88, 443, 8443):
            raise _ApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
            )
        secret = _p_str(params, "secret_token") or None
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = min(max(_p_int(params, "max_connections", 40) or 40, 1), 100)
        allowed = _p_json(params, "allowed_updates")
        hook = Webhook(
            url=url,
            secret_token=secret,
            max_connections=max_connections,
            allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None,
            ip_address=_p_str(params, "ip_address") or "127.0.0.1",
        )
        with self._lock:
            same = self.webhook == hook
            self.webhook = hook
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed] or None
            if _p_bool(params, "drop_pending_updates"):
                self._updates.clear()
        # A long poll in progress ends (empty) when a webhook is set.
        self._wake_pollers()
        return _Reply(True, "Webhook is already set" if same else "Webhook was set")

    def _delete_webhook(self, params: dict[str, Any]) -> _Reply:
        with self._lock:
            had = self.webhook is not None
            self.webhook = None
            if _p_bool(params, "drop_pending_updates"):
                self._updates.clear()
        return _Reply(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            hook = self.webhook
            info: dict[str, Any] = {
                "url": hook.url if hook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if hook is not None:
                info["max_connections"] = hook.max_connections
                if hook.ip_address:
                    info["ip_address"] = hook.ip_address
                if hook.allowed_updates:
                    info["allowed_updates"] = hook.allowed_updates
        return info

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = _p_json(params, "scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), _p_str(params, "language_code") or ""

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = _p_json(params, "commands")
        if commands is None:
            raise _ApiError(400, 'Bad Request: parameter "commands" is required')
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise _ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not _COMMAND_RE.fullmatch(command):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._commands_key(params)
        with self._lock:
            if cleaned:
                self._commands[key] = cleaned
            else:
                self._commands.pop(key, None)
        return True

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = self._commands_key(params)
        with self._lock:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        key = self._commands_key(params)
        with self._lock:
            return list(self._commands.get(key, []))


__all__ = [
    "ApiCall",
    "BotApiServer",
    "HtmlParseError",
    "SentMessage",
    "ThreadedAiohttpServer",
    "Webhook",
    "parse_html",
]
