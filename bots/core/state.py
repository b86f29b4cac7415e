"""Where a conversation stands between updates (the /announce steps), in Redis so that every
process serving a bot (polling, webhooks behind a balancer) sees it. One key per messenger and
chat, `fsm:<messenger>:<chat>:announce`: the erasure of a guardian finds it by the chat
(roster/erasure.py's BOT_STATE `fsm:*`). It lapses after a TTL: a draft left half-way does
not wait for ever."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from enum import StrEnum

from redis.asyncio import Redis

from bots.core.model import Chat

TTL = timedelta(hours=1)


class Step(StrEnum):
    choosing = "choosing"  # the teacher picks a class
    typing = "typing"  # ...types the text
    confirming = "confirming"  # ...sends or cancels the preview


@dataclass(frozen=True)
class Draft:
    """An announcement being written."""

    step: Step
    class_id: str | None = None
    class_name: str | None = None
    text: str | None = None

    def to(self, step: Step, **changes: str) -> Draft:
        return replace(self, step=step, **changes)


class Drafts:
    def __init__(self, redis: Redis, *, ttl: timedelta = TTL) -> None:
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def key(chat: Chat) -> str:
        return f"fsm:{chat.messenger}:{chat.address}:announce"

    async def get(self, chat: Chat) -> Draft | None:
        raw = await self.redis.get(self.key(chat))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Draft(
                step=Step(data["step"]),
                class_id=data.get("class_id"),
                class_name=data.get("class_name"),
                text=data.get("text"),
            )
        except (ValueError, KeyError, TypeError):
            return None  # written by an older version: as if there were none

    async def put(self, chat: Chat, draft: Draft) -> None:
        await self.redis.set(self.key(chat), json.dumps(asdict(draft)), ex=self.ttl)

    async def drop(self, chat: Chat) -> bool:
        """Forget the draft; whether there was one."""
        return bool(await self.redis.delete(self.key(chat)))
