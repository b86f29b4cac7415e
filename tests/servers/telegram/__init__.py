"""A local Telegram Bot API server that answers the way api.telegram.org does.

It is an aiohttp application served from its own thread and event loop (like
aiosmtpd's Controller), so sync and async tests can share it. aiogram reaches it
through ``TelegramAPIServer.from_base(server.base)``: every call arrives as
``POST /bot<TOKEN>/<method>`` with form fields (urlencoded, or multipart when a
file is attached); JSON bodies and query strings are accepted too, as Telegram
does.

What it checks the way Telegram does: the token, HTML markup (a port of TDLib's
``parse_html``, with its error texts and byte offsets), empty and over-long
texts, reply markup, webhook/getUpdates conflicts, editing and deleting known
messages. Tests program faults (``fail_next``, ``block_chat``, ``chat_not_found``,
``set_flood_limits``) and feed updates (``user_message``, ``callback_query``).

The package: server.py (BotApiServer: lifecycle and HTTP), state.py (its state and the
helpers on it), controls.py (what a test does: program faults, feed updates, inspect),
methods.py (the Bot API methods), markup.py (Telegram's HTML), records.py (what it records
and the errors it answers), params.py (reading parameters). The thread it serves from is
tests/servers/threaded.py.
"""

from tests.servers.telegram.markup import HtmlParseError, parse_html
from tests.servers.telegram.records import ApiCall, SentMessage, Webhook
from tests.servers.telegram.server import BotApiServer

__all__ = [
    "ApiCall",
    "BotApiServer",
    "HtmlParseError",
    "SentMessage",
    "Webhook",
    "parse_html",
]
