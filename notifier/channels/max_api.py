"""The MAX Bot API calls delivery makes (send a text, edit it, the bot's own name), as JSON over
kept-alive HTTP/1.1 connections (channels/http1.py): https://dev.max.ru/docs-api.

The bots (bots/max/) talk to MAX through maxapi, as the design has it. Delivery does not:
maxapi's request goes through aiohttp's client, and a MAX message cost 272 µs of our CPU against
75 for a Telegram one on these connections (`python -m bench.bot_send --channel max`, the same
machine and day), for an answer of which delivery reads one id; and importing maxapi costs a
process 38 MB (aiohttp's share included). A worker that only delivers never imports maxapi
(channels/max.py makes maxapi's Bot only when a bot asks for it).

The requests are the ones maxapi makes for the same calls: the token in the `Authorization`
header (MAX refuses it in the query), the bot's HTML format, no link previews."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from notifier.channels.http1 import JsonClient

# Seconds a call may take before it counts as a network failure (retried later), and of those
# seconds, how long connecting may take; as the bots' maxapi client (channels/max.make_bot).
TIMEOUT_SECONDS = 30
CONNECT_SECONDS = 10


class MaxRefused(Exception):
    """MAX answered an error: the HTTP status, and MAX's code (`chat.denied`…), never its
    message: that may quote the request."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code


class MaxApiSession:
    """The MAX Bot API's connections for the service's bot (made on first use, in the loop)."""

    def __init__(self, base: str, token: str, ca_file: Path | None) -> None:
        self.base = base.rstrip("/")
        self._token = token
        self._ca_file = ca_file
        self._client: JsonClient | None = None

    async def send_text(self, user_id: int, text: str) -> str | None:
        """POST /messages to a user: the new message's id (None if MAX's answer has none)."""
        answer = await self._call(
            "POST",
            "/messages",
            {"user_id": user_id, "disable_link_preview": "true"},
            {"attachments": [], "text": text, "format": "html"},
        )
        message = answer.get("message") if isinstance(answer, dict) else None
        body = message.get("body") if isinstance(message, dict) else None
        mid = body.get("mid") if isinstance(body, dict) else None
        return mid if isinstance(mid, str) and mid else None

    async def edit_text(self, message_id: str, text: str) -> None:
        """PUT /messages: the message's text replaced, without a notification."""
        await self._call(
            "PUT",
            "/messages",
            {"message_id": message_id},
            {"attachments": [], "text": text, "notify": False, "format": "html"},
        )

    async def username(self) -> str | None:
        """GET /me: the bot's username, if it has one."""
        me = await self._call("GET", "/me")
        name = me.get("username") if isinstance(me, dict) else None
        return name if isinstance(name, str) and name else None

    async def _call(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The answer's JSON; raises MaxRefused when MAX says no, an OSError (the connection
        failed, its certificate untrusted among them), a TimeoutError or a ValueError (an answer
        that is not MAX's JSON: a proxy's page) when the call did not get that far."""
        if self._client is None:
            self._client = JsonClient(
                self.base,
                timeout=TIMEOUT_SECONDS,
                connect_timeout=CONNECT_SECONDS,
                headers={"Authorization": self._token},
                ca_file=self._ca_file,
            )
        target = f"{path}?{urlencode(query)}" if query else path
        payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        status, answered = await self._client.request(method, target, payload)
        try:
            answer = json.loads(answered) if answered.strip() else None
        except ValueError:
            if 200 <= status < 300:
                raise
            answer = None  # a proxy's error page: its status says enough
        if 200 <= status < 300:
            return answer
        code = answer.get("code") if isinstance(answer, dict) else None
        raise MaxRefused(status, str(code)[:80] if code else "error")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
