"""create_app(settings): the FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from notifier import __version__
from notifier.api import errors
from notifier.api.deps import clean_parameters
from notifier.api.limits import BodyLimit
from notifier.api.routes import (
    announcements,
    audit,
    choices,
    dead_letters,
    events,
    health,
    notifications,
    roster,
    roster_import,
    settings_page,
    sms_callback,
    summaries,
    summary_page,
    telegram_links,
    unsubscribe,
)
from notifier.config import Settings
from notifier.console import PREFIX as CONSOLE
from notifier.console import create_console
from notifier.runtime import Runtime, build_runtime


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    """The API; it owns (opens and closes) its runtime unless one is handed in."""

    console = create_console()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        app.state.runtime = console.state.runtime = runtime or build_runtime(settings)
        try:
            yield
        finally:
            if own:
                await app.state.runtime.close()

    app = FastAPI(
        title="notifier",
        version=__version__,
        summary="Journal events in, parent messages out",
        lifespan=lifespan,
        dependencies=[Depends(clean_parameters)],  # no NUL, no overlong ids (fuzz fixes)
    )
    if runtime is not None:
        app.state.runtime = console.state.runtime = runtime
    errors.install(app)
    app.add_middleware(BodyLimit)
    for module in (
        health,
        events,
        roster,
        roster_import,
        choices,
        notifications,
        announcements,
        dead_letters,
        audit,
        summaries,
        summary_page,
        settings_page,
        telegram_links,
        unsubscribe,
        sms_callback,
    ):
        app.include_router(module.router)
    app.mount(CONSOLE, console)
    return app
