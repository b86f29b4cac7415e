"""Long polling: GET /updates with the marker of the last batch, each update fed to the core
in order. Errors (MAX down, a refused token, a webhook subscription in the way) are logged by
class and retried after a growing pause. `stop()` ends a wait or a pause at once, and a batch
in hand once it is answered (the marker commits a batch whole: cut short, all of it would come
again)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from maxapi.enums.update import UpdateType

from bots.max.client import max_bot
from bots.max.feed import feed
from bots.max.updates import TYPES
from notifier.runtime import Runtime

log = logging.getLogger(__name__)

POLL_SECONDS = 20  # under the client's 30 s timeout (make_bot)
MIN_GAP = 0.5  # MAX takes at most 2 GET /updates a second
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0


class MaxPoller:
    def __init__(self, runtime: Runtime, *, poll_seconds: int = POLL_SECONDS) -> None:
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.marker: int | None = None
        self._stopping = asyncio.Event()

    async def prepare(self) -> None:
        """Unsubscribe the bot's webhooks: MAX does not answer GET /updates while one is
        subscribed (as `notifier bot` deletes Telegram's webhook before polling)."""
        try:
            await max_bot(self.runtime).delete_webhook()
        except Exception as exc:  # polling retries and says why; starting goes on
            log.warning("max.unsubscribe_failed", extra={"error": type(exc).__name__})

    async def run(self) -> None:
        """Poll and feed until `stop()`."""
        pause = BACKOFF_FIRST
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            started = loop.time()
            try:
                batch = await self._until_stopped(self._fetch())
            except Exception as exc:
                log.warning(
                    "max.poll_failed",
                    extra={"error": type(exc).__name__, "code": getattr(exc, "code", None)},
                )
                await self._until_stopped(asyncio.sleep(pause))
                pause = min(pause * 2, BACKOFF_MAX)
                continue
            if batch is None:
                break  # stopped while waiting
            pause = BACKOFF_FIRST
            updates = batch.get("updates") or []
            for update in updates if isinstance(updates, list) else []:
                await feed(self.runtime, update)
            marker = batch.get("marker")
            if isinstance(marker, int):
                self.marker = marker  # commits the batch: MAX forgets what came before it
            if not updates:
                await self._until_stopped(asyncio.sleep(MIN_GAP - (loop.time() - started)))

    async def stop(self) -> None:
        self._stopping.set()

    async def _fetch(self) -> dict[str, Any]:
        batch = await max_bot(self.runtime).get_updates(
            timeout=self.poll_seconds,
            marker=self.marker,
            types=[UpdateType(t) for t in TYPES],
        )
        return batch if isinstance(batch, dict) else {}

    async def _until_stopped(self, work: Any) -> Any:
        """`work`'s result, or None when `stop()` came first (then `work` is cancelled)."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()  # the poller's own task was cancelled: leave nothing behind
            raise
        finally:
            stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        return task.result()
