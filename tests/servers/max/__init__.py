"""A local MAX Bot API server that answers the way platform-api2.max.ru does.

It is an aiohttp application served from its own thread and event loop (like the Telegram one,
tests/servers/telegram/), so sync and async tests can share it. maxapi reaches it through
``bot.set_api_url(server.base)``: the token travels in the ``Authorization`` header, parameters
in the query string, bodies as JSON — as github.com/max-messenger/api-schema describes.

What it checks the way MAX does: the token (401 verify.token), NewMessageBody (closed: unknown
fields, text over 4000 characters, empty messages, the markdown and html formats, the inline
keyboard's limits and button types), long polling with markers and types, webhook
subscriptions (updates POSTed with X-Max-Bot-Api-Secret; /updates refused meanwhile), callback
answers, edits and deletions of the bot's messages. Tests program faults (``fail_next``,
``block``, ``missing``, ``set_flood_limits``) and feed updates as users cause them
(``bot_started``, ``user_message``, ``press``, ``bot_stopped``).

The package: server.py (MaxApiServer: lifecycle, HTTP, webhook delivery), state.py (its state
and the checks of a NewMessageBody), controls.py (what a test does: program faults, feed
updates, inspect), methods.py (the API methods), markup.py (MAX's markdown and html, `plain`),
params.py (reading parameters), records.py (what it records and the errors it answers).
"""

from tests.servers.max.markup import MarkupElement, MarkupError, parse, plain
from tests.servers.max.records import (
    ApiCall,
    CallbackAnswer,
    Edit,
    Fault,
    SentMessage,
    Subscription,
    WebhookDelivery,
)
from tests.servers.max.server import SECRET_HEADER, MaxApiServer

__all__ = [
    "SECRET_HEADER",
    "ApiCall",
    "CallbackAnswer",
    "Edit",
    "Fault",
    "MarkupElement",
    "MarkupError",
    "MaxApiServer",
    "SentMessage",
    "Subscription",
    "WebhookDelivery",
    "parse",
    "plain",
]
