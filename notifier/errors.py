"""One error tree; the edges (API, bot, jobs) turn these into answers."""

from __future__ import annotations


class NotifierError(Exception):
    """Base of our errors; `reason` says what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(NotifierError):
    """The caller sent something we cannot accept."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


class NotFound(NotifierError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class Forbidden(NotifierError):
    """The caller's role or scope does not allow this."""


class TooManyRequests(NotifierError):
    """Slow down: `retry_after` seconds."""

    def __init__(self, reason: str, *, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Conflict(NotifierError):
    """The request contradicts what is stored."""


class DeliveryError(NotifierError):
    """A channel could not deliver a message."""


class TransientDelivery(DeliveryError):
    """Try again later; `retry_after` is the channel's own hint in seconds, if it gave one."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentDelivery(DeliveryError):
    """This channel will not deliver this message; do not retry it.

    `unusable` says the address itself is dead (bot blocked, no such mailbox or number): the
    channel is then skipped for this guardian until they fix it."""

    def __init__(self, reason: str, *, unusable: bool = False) -> None:
        super().__init__(reason)
        self.unusable = unusable
