"""The values of the status-like columns, as enums: what the code passes between layers and
what the database stores (a StrEnum is its string)."""

from __future__ import annotations

from enum import StrEnum


class RowStatus(StrEnum):
    """notifications.status: an outbox row's state."""

    pending = "pending"  # waiting for its due time, or leased by a worker that sends it now
    sent = "sent"
    failed = "failed"  # every reachable channel refused it, or retries ran out
    skipped = "skipped"  # nothing to send (see its Reason)
    cancelled = "cancelled"  # an announcement cancelled, a guardian erased


class Reason(StrEnum):
    """notifications.reason of a row skipped or cancelled (a failure's reason is free text)."""

    no_consent = "no_consent"
    opted_out = "opted_out"
    no_channel = "no_channel"  # no channel reaches the guardian
    paper = "paper"  # the guardian asked for paper
    superseded = "superseded"  # a mark created, then deleted, before anything was sent
    cancelled = "cancelled"
    erased = "erased"
    over_budget = "over_budget"  # the school's SMS budget for the month is spent


class EventStatus(StrEnum):
    """journal_events.status: what became of a stored journal event."""

    planned = "planned"
    unmatched = "unmatched"  # its pupil or class is not on the roster (yet)
    ignored = "ignored"  # an unknown type, or nothing to tell
    refused = "refused"  # a school's token named another school's pupil: never shown


class Outcome(StrEnum):
    """delivery_attempts.outcome: one try of one channel, or what its receipt said later."""

    sent = "sent"
    transient = "transient"
    permanent = "permanent"
    delivered = "delivered"  # the provider's receipt: the phone has it
    undelivered = "undelivered"  # the provider's receipt: it will not arrive (a fallback follows)
