"""What an SMS provider gives the SMS channel: a submitted message (its id at the provider, its
segments and cost) and, later, delivery receipts for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class ReceiptState(StrEnum):
    """A provider's report on a submitted SMS, reduced to what delivery needs."""

    delivered = "delivered"  # final: the phone has it
    undelivered = "undelivered"  # final: it will not arrive (expired, rejected, unknown number)
    pending = "pending"  # not final (queued, sent to the operator): nothing changes


@dataclass(frozen=True)
class Submitted:
    """A message the provider accepted: its id there (receipts name it), the segments billed,
    and the cost in roubles when the provider says it."""

    provider_id: str | None
    segments: int
    cost: Decimal | None = None


@dataclass(frozen=True)
class Receipt:
    """One delivery report. `detail` is the provider's status or error code (never a text that
    may quote the number or the message)."""

    provider: str  # "smsru", "smsc", "smpp", "http"
    provider_id: str
    state: ReceiptState
    detail: str | None = None


# Where a provider that receives receipts itself (an SMPP bind's deliver_sm) hands them on.
ReceiptSink = Callable[[Receipt], Awaitable[None]]


class SmsGateway(Protocol):
    """Submits one SMS; raises TransientDelivery or PermanentDelivery when it cannot."""

    name: str

    async def submit(self, phone: str, text: str, *, segments: int, ref: str) -> Submitted: ...

    async def close(self) -> None: ...
