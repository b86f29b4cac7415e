"""The Telegram Bot API calls delivery makes (sendMessage, editMessageText, getMe), as JSON over
one aiohttp session: https://core.telegram.org/bots/api#making-requests.

The bots (bots/telegram/) talk to Telegram through aiogram, as the design has it. Delivery does
not: importing aiogram costs a process 131 MB (its types are pydantic models, built at import)
and a sent message went through its request models and response validation, 5.5 % of the
worker's busy time in the region benchmark's profile, for an answer of which delivery reads
one number. A worker that only delivers never imports aiogram (channels/telegram.py makes
aiogram's Bot only when a bot is asked for)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

# Seconds a call may take before it counts as a network failure (retried later).
TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)


class BotApiError(Exception):
    """Telegram refused a call: its error_code, description and, for 429, retry_after."""

    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after


class BotApiSession:
    """One HTTP session for every bot token of a process (made on first use, in its loop)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def call(self, token: str, method: str, params: dict[str, Any]) -> Any:
        """The call's `result`; raises BotApiError when Telegram says no, aiohttp's errors, a
        TimeoutError or a ValueError (an answer that is not the Bot API's JSON: a proxy's page)
        when the call did not get that far."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        url = f"{self.base}/bot{token}/{method}"
        async with self._session.post(url, json=params) as response:
            body = await response.read()
        answer = json.loads(body)
        if not isinstance(answer, dict):
            raise ValueError("the Bot API answered something else than a JSON object")
        if answer.get("ok") is True:
            return answer.get("result")
        parameters = answer.get("parameters") or {}
        raise BotApiError(
            int(answer.get("error_code") or response.status),
            str(answer.get("description") or ""),
            parameters.get("retry_after") if isinstance(parameters, dict) else None,
        )

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
