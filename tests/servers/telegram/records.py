"""What the server records (messages sent, calls, the webhook) and the errors it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
