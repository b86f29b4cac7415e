"""Annotated dependencies for routes: the session, the runtime, the calling principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.api.limits import AuthThrottle
from notifier.auth import Principal, resolve
from notifier.errors import NotifierError, TooManyRequests
from notifier.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="API token (`notifier token create`)")


class Unauthorized(NotifierError):
    """No valid bearer token."""


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("send `Authorization: Bearer <token>`")
    throttle = AuthThrottle(runtime.redis, runtime.settings.auth_failures_per_minute)
    client = request.client.host if request.client else "unknown"
    if (wait := await throttle.retry_after(client)) is not None:
        raise TooManyRequests(
            f"too many wrong tokens from this address; try again in {wait} s", retry_after=wait
        )
    admin = runtime.settings.admin_token
    principal = await resolve(
        session=session,
        token=credentials.credentials,
        admin_token=admin.get_secret_value() if admin else None,
    )
    if principal is None:
        await throttle.failed(client)
        raise Unauthorized("the token is unknown or revoked")
    request.state.principal = principal  # for the denial log
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
