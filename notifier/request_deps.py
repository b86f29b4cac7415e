"""What every web route of the process depends on, the API's and the console's alike: the
runtime the application holds, a database session for the request, and the check of a shared
secret (the bots' webhooks, the SMS provider's callbacks)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.auth import AuthThrottle
from notifier.runtime import Runtime

log = logging.getLogger(__name__)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def refuse_secret(
    runtime: Runtime, request: Request, *, given: str, expected: str, status: int, what: str
) -> JSONResponse | None:
    """The answer to a request whose shared secret (a webhook's header, a callback URL's part)
    is wrong, or None when it is right. Compared in constant time; wrong ones are counted per
    client address with wrong bearer tokens (AuthThrottle), and past the limit the address is
    refused (429) before its secret is looked at."""
    throttle = AuthThrottle(runtime.redis, runtime.settings.auth_failures_per_minute)
    client = request.client.host if request.client else "unknown"
    if (wait := await throttle.retry_after(client)) is not None:
        return JSONResponse(
            {"error": f"too many wrong secrets; try again in {wait} s"},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    if hmac.compare_digest(given.encode(), expected.encode()):
        return None
    await throttle.failed(client)
    log.warning("secret.denied", extra={"path": request.url.path.split("/")[1]})
    return JSONResponse({"error": f"wrong or missing {what}"}, status_code=status)
