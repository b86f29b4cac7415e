"""The test side of the Bot API server: programming faults and flood limits, feeding updates
as a user would, inspecting what arrived."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
from typing import Any

from tests.servers.telegram.markup import _utf16_len
from tests.servers.telegram.records import (
    _DEFAULT_DESCRIPTIONS,
    ApiCall,
    SentMessage,
    _Fault,
    _StoredMessage,
)
from tests.servers.telegram.state import BotState

_BOT_COMMAND_IN_TEXT = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")


class Controls(BotState):
    """What a test does to the server (`BotApiServer`); each takes the lock."""

    # -- test side: programming ----------------------------------------------------------

    def clear(self) -> None:
        """Forget records, the messages kept for edits and each chat's message ids, faults,
        queued updates and the webhook. (A bench sends tens of thousands of messages between
        clears: kept, they slow each request after.)"""
        with self._lock:
            self.sent.clear()
            self.calls.clear()
            self._messages.clear()
            self._next_message_id.clear()
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

    def message_now(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """A message as the chat shows it now (after edits: `text` plain, `edit_date`)."""
        with self._lock:
            stored = self._messages.get((str(chat_id), message_id))
            return json.loads(json.dumps(stored.message)) if stored is not None else None

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
