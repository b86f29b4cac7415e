"""What the MAX server records (messages sent, calls, answers, edits, webhook deliveries) and the
errors it answers, with the bodies MAX gives them.

Every MAX error is `{"code": "<key>", "message": "<text>"}` with the HTTP status (the schema's
`Error` object, github.com/max-messenger/api-schema). The keys and texts below are the ones the
real API answers where they are known (its docs and clients that logged them); where MAX's text is
unknown the message says what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TextFormat(StrEnum):
    """`NewMessageBody.format`."""

    MARKDOWN = "markdown"
    HTML = "html"


class ButtonType(StrEnum):
    """The inline keyboard's button types (the schema's `Button` mapping)."""

    CALLBACK = "callback"
    LINK = "link"
    REQUEST_GEO_LOCATION = "request_geo_location"
    REQUEST_CONTACT = "request_contact"
    MESSAGE = "message"
    OPEN_APP = "open_app"
    CLIPBOARD = "clipboard"


class UpdateType(StrEnum):
    """The update types a bot may subscribe to or poll for (the schema's `Update` mapping)."""

    MESSAGE_CREATED = "message_created"
    MESSAGE_CALLBACK = "message_callback"
    MESSAGE_EDITED = "message_edited"
    MESSAGE_REMOVED = "message_removed"
    COMMENT_CREATED = "comment_created"
    COMMENT_EDITED = "comment_edited"
    COMMENT_REMOVED = "comment_removed"
    BOT_ADDED = "bot_added"
    BOT_REMOVED = "bot_removed"
    USER_ADDED = "user_added"
    USER_REMOVED = "user_removed"
    BOT_STARTED = "bot_started"
    BOT_STOPPED = "bot_stopped"
    DIALOG_CLEARED = "dialog_cleared"
    DIALOG_REMOVED = "dialog_removed"
    DIALOG_MUTED = "dialog_muted"
    DIALOG_UNMUTED = "dialog_unmuted"
    CHAT_TITLE_CHANGED = "chat_title_changed"
    BOT_ADMIN_PERMISSIONS_CHANGED = "bot_admin_permissions_changed"
    MESSAGE_CHAT_CREATED = "message_chat_created"


# -- error bodies -----------------------------------------------------------------------------

# 401: the texts MAX answers for a wrong, a missing and a "Bearer …" token.
INVALID_TOKEN = "Invalid access_token"
NO_TOKEN = "No access token"
MALFORMED_TOKEN = "Malformed access token"
# The docs: "Передача токена через query-параметры больше не поддерживается — используйте
# заголовок Authorization: <token>" (every method page of dev.max.ru/docs-api).
QUERY_TOKEN = (
    "Passing the token in the access_token query parameter is no longer supported; "
    "send it in the header Authorization: <token>"
)
# 403 to a user who stopped or blocked the bot: what MAX answers (code chat.denied, the
# schema's example code for this 403; message error.dialog.suspended).
DIALOG_SUSPENDED = "error.dialog.suspended"
TOO_MANY_REQUESTS = "Too many requests"
ANSWER_EMPTY = "Invalid request. `message` or `notification` required"
CALLBACK_INVALID = "callback_id: Callback identifier is invalid"
LINK_BUTTON_URL = "Must have only http/https links format in buttons"
FORWARD_WITH_TEXT = "errors.forward.text.not-empty"
WEBHOOK_ACTIVE = (
    "Long polling is not available while the bot has a webhook subscription; "
    "unsubscribe with DELETE /subscriptions?url=… first"
)

# What fail_next answers by HTTP status unless told otherwise: (code, message).
DEFAULT_FAULTS: dict[int, tuple[str, str]] = {
    400: ("proto.payload", "Invalid request payload"),
    401: ("verify.token", INVALID_TOKEN),
    403: ("chat.denied", DIALOG_SUSPENDED),
    404: ("chat.not.found", "Chat not found"),
    429: ("too.many.requests", TOO_MANY_REQUESTS),
    500: ("internal.error", "Internal server error"),
    502: ("bad.gateway", "Bad gateway"),
    503: ("service.unavailable", "Service unavailable"),
    504: ("gateway.timeout", "Gateway timeout"),
}


class _ApiError(Exception):
    """An answer other than 200: the status and MAX's error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def bad_request(message: str) -> _ApiError:
    """400 with MAX's key for a request it cannot take (`proto.payload`)."""
    return _ApiError(400, "proto.payload", message)


def not_found(message: str, code: str = "not.found") -> _ApiError:
    return _ApiError(404, code, message)


def chat_not_found(chat_id: int) -> _ApiError:
    """What MAX answers for a chat it does not know (logged by clients verbatim)."""
    return _ApiError(404, "chat.not.found", f"Chat {chat_id} not found")


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentMessage:
    """One POST /messages, accepted or not."""

    user_id: int | None  # the ?user_id= of the request
    chat_id: int | None  # the ?chat_id= of the request
    text: str | None  # as sent (raw markup)
    format: str | None
    plain: str  # what the parent reads: markup stripped ("" when rejected)
    attachments: list[dict[str, Any]]
    keyboard: list[list[dict[str, Any]]] | None  # the inline keyboard's rows, if any
    status: int  # the HTTP status answered
    at: float  # time.monotonic() when the server handled it
    mid: str | None = None  # body.mid of the created message
    recipient_user_id: int | None = None  # whose dialog it went to (also for ?chat_id=)
    error: str | None = None  # the error's code when rejected, e.g. "chat.denied"
    description: str | None = None  # the error's message when rejected
    notify: bool | None = None
    disable_link_preview: bool | None = None
    body: dict[str, Any] = field(default_factory=dict)  # the JSON body as received

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class ApiCall:
    """Any request that reached the server (refused ones included)."""

    method: str  # "GET", "POST", …
    path: str  # "/messages", "/messages/mid.…"
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    status: int
    at: float
    error: str | None = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class CallbackAnswer:
    """One POST /answers."""

    callback_id: str
    user_id: int | None  # who pressed (None for an unknown callback id)
    mid: str | None  # the message whose button was pressed
    notification: str | None
    message: dict[str, Any] | None  # the NewMessageBody that replaces the message
    status: int
    at: float
    error: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Edit:
    """A change of a message the bot sent: PUT /messages, or an answer's `message`."""

    mid: str
    body: dict[str, Any]
    status: int
    via: str  # "put" or "answer"
    at: float
    plain: str = ""  # the text the parent reads after the edit
    error: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription (POST /subscriptions)."""

    url: str
    time: int  # ms since the epoch, as MAX gives it
    update_types: list[str] | None
    secret: str | None

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "time": self.time, "update_types": self.update_types}


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of an update to a subscription's URL."""

    url: str
    update: dict[str, Any]
    status: int | None  # what the webhook answered; None when it could not be reached
    secret: str | None  # the X-Max-Bot-Api-Secret header sent
    at: float
    error: str | None = None  # why it could not be reached

    @property
    def delivered(self) -> bool:
        # MAX counts any answer but 200 as a failed delivery.
        return self.status == 200


@dataclass(frozen=True)
class Fault:
    """A programmed failure of the next POST /messages (see `fail_next`)."""

    status: int
    code: str
    message: str
    user_id: int | None
    chat_id: int | None


@dataclass
class _FaultSlot:
    fault: Fault
    times: int


@dataclass
class _StoredMessage:
    """A message as GET /messages/{mid} returns it, and what tests need about it."""

    message: dict[str, Any]
    from_bot: bool
    user_id: int | None  # the dialog's user
    deleted: bool = False
