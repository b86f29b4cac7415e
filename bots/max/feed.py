"""One MAX update into the core, whichever way it came (webhook or long polling): read, answer
through the dialog's port in a database session of its own. A failure is logged by class and
place (never its text: it may quote the update) and stops nothing else."""

from __future__ import annotations

import logging
import traceback
from enum import StrEnum
from typing import Any

from bots.core.bot import handle
from bots.core.model import Press
from bots.max.client import max_bot
from bots.max.conversation import MaxConversation
from bots.max.updates import Ignored, read
from notifier.runtime import Runtime

log = logging.getLogger(__name__)


class Fed(StrEnum):
    handled = "handled"
    failed = "failed"


async def feed(runtime: Runtime, raw: Any) -> Fed | Ignored:
    """Answer one update; what became of it."""
    event = read(raw)
    if isinstance(event, Ignored):
        log.info("max.update_ignored", extra={"why": event.value})
        return event
    try:
        port = MaxConversation(
            max_bot(runtime),
            event.chat,
            callback_id=event.press_id if isinstance(event, Press) else None,
        )
        async with runtime.sessions() as session:
            await handle(event, port, session=session, runtime=runtime)
    except Exception as exc:
        log.error("max.update_failed", extra={"error": type(exc).__name__, "at": _at(exc)})
        return Fed.failed
    return Fed.handled


def _at(exc: BaseException) -> str:
    """file:line where `exc` was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
