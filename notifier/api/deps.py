"""Annotated dependencies for routes: the session, the runtime, the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from notifier.auth import AuthThrottle, Principal, resolve
from notifier.errors import InvalidInput, NotifierError, TooManyRequests

# Re-exported: the routes take these from here, beside the principal.
from notifier.request_deps import RuntimeDep as RuntimeDep
from notifier.request_deps import SessionDep as SessionDep
from notifier.request_deps import get_runtime as get_runtime

_bearer = HTTPBearer(auto_error=False, description="API token (`notifier token create`)")


class Unauthorized(NotifierError):
    """No valid bearer token."""


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

# The largest row id both databases hold (INTEGER: 32 bits on PostgreSQL): a larger
# `before=` or `pk=` was a 500 (fuzz fix).
MAX_PK = 2**31 - 1
MAX_ID = 64  # the roster's id columns


async def clean_parameters(request: Request) -> None:
    """Every route's path and query parameters (fuzz fixes, both 500s on PostgreSQL): it
    refuses NUL in any text, and a roster id (`…_id` in the path) longer than its column."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in params:
        if "\x00" in name or "\x00" in value:
            raise InvalidInput(f"{name!r}: contains the NUL character (\\u0000)", field=name)
    for name, value in request.path_params.items():
        if name.endswith("_id") and len(value) > MAX_ID:
            raise InvalidInput(f"{name}: at most {MAX_ID} characters", field=name)
