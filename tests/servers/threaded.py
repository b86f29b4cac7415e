"""An aiohttp application served from a thread and event loop of its own (like aiosmtpd's
Controller), so sync and async tests can share it: the base of the local Bot API server and
the SMS gateway."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web

HOST = "127.0.0.1"


class ThreadedAiohttpServer:
    """Serve `_build_app()` on 127.0.0.1 at a kernel-picked port from a thread of its own.

    Handlers run on that thread's loop; state they share with tests needs a lock.
    `stop()` first calls `_on_stopping()` on the server loop (to wake handlers that
    wait, e.g. long polls), then shuts the runner down.
    """

    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self.port = 0
        # Set before start() to serve HTTPS (e.g. a certificate from trustme's throwaway CA).
        self.ssl_context: ssl.SSLContext | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # Subclasses provide these.
    def _build_app(self) -> web.Application:
        raise NotImplementedError

    def _on_stopping(self) -> None:
        """Runs on the server loop when `stop()` begins."""

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(ready, failure), name=type(self).__name__, daemon=True
        )
        thread.start()
        if not ready.wait(10):
            raise TimeoutError(f"{type(self).__name__} did not start within 10s")
        if failure:
            thread.join(5)
            raise failure[0]
        self._thread = thread

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop is already closed
                pass
        thread.join(15)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the server loop, from any thread; nothing if not running."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:
            pass

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready, failure))
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                self._loop = None

    async def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, 0, ssl_context=self.ssl_context)
            await site.start()
            self.port = int(runner.addresses[0][1])
        except BaseException as exc:
            failure.append(exc)
            await runner.cleanup()
            ready.set()
            return
        ready.set()
        try:
            await stopping.wait()
            self._on_stopping()
        finally:
            await runner.cleanup()
