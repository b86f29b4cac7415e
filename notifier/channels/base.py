"""What every channel offers the delivery worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class Messenger(StrEnum):
    """The messengers whose bots link a chat to a person; each is also a channel's name."""

    telegram = "telegram"
    max = "max"


@dataclass(frozen=True)
class Recipient:
    guardian_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    telegram_chat_id: str | None = None
    telegram_bot_id: str | None = None
    max_user_id: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None = None
    detail: str | None = None
    segments: int | None = None
    cost: Decimal | None = None  # roubles, when the provider says what the send cost


class Channel(Protocol):
    """Sends one message; raises TransientDelivery or PermanentDelivery when it cannot."""

    name: str

    def reachable(self, recipient: Recipient) -> bool: ...

    async def send(
        self, recipient: Recipient, content: Any, *, ref: str, now: datetime
    ) -> SendResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class CardEditor(Protocol):
    """A messenger that can replace the text of a message its bot sent (the day's card)."""

    name: str

    def reachable(self, recipient: Recipient) -> bool: ...

    async def edit(
        self, recipient: Recipient, message_id: str, content: Any, *, now: datetime
    ) -> SendResult: ...
