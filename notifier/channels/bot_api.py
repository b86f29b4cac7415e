"""The Telegram Bot API calls delivery makes (sendMessage, editMessageText, getMe), as JSON over
kept-alive HTTP/1.1 connections (channels/http1.py): https://core.telegram.org/bots/api#making-requests.

The bots (bots/telegram/) talk to Telegram through aiogram, as the design has it. Delivery does
not: importing aiogram costs a process 131 MB (its types are pydantic models, built at import)
and a sent message went through its request models and response validation, 5.5 % of the
worker's busy time in the region benchmark's profile, for an answer of which delivery reads
one number. A worker that only delivers never imports aiogram (channels/telegram.py makes
aiogram's Bot only when a bot is asked for)."""

from __future__ import annotations

import json
from typing import Any

from notifier.channels.http1 import JsonClient

# Seconds a call may take before it counts as a network failure (retried later), and of those
# seconds, how long connecting may take.
TIMEOUT_SECONDS = 30
CONNECT_SECONDS = 10


class BotApiError(Exception):
    """Telegram refused a call: its error_code, description and, for 429, retry_after."""

    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after


class BotApiSession:
    """The Bot API's connections for every bot token of a process (made on first use, in its
    loop)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._client: JsonClient | None = None

    async def call(self, token: str, method: str, params: dict[str, Any]) -> Any:
        """The call's `result`; raises BotApiError when Telegram says no, an OSError (the
        connection failed), a TimeoutError or a ValueError (an answer that is not the Bot API's
        JSON: a proxy's page) when the call did not get that far."""
        if self._client is None:
            self._client = JsonClient(
                self.base, timeout=TIMEOUT_SECONDS, connect_timeout=CONNECT_SECONDS
            )
        body = json.dumps(params, ensure_ascii=False).encode()
        status, answered = await self._client.request("POST", f"/bot{token}/{method}", body)
        answer = json.loads(answered)
        if not isinstance(answer, dict):
            raise ValueError("the Bot API answered something else than a JSON object")
        if answer.get("ok") is True:
            return answer.get("result")
        parameters = answer.get("parameters") or {}
        raise BotApiError(
            int(answer.get("error_code") or status),
            str(answer.get("description") or ""),
            parameters.get("retry_after") if isinstance(parameters, dict) else None,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
