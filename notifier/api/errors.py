"""Our error tree → HTTP answers with a reason a person can act on."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from notifier.api.deps import Unauthorized
from notifier.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NotifierError,
    TooManyRequests,
)

log = logging.getLogger(__name__)

STATUS: dict[type[NotifierError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Unauthorized: 401,
    TooManyRequests: 429,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(NotifierError)
    async def _ours(request: Request, exc: NotifierError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        body: dict[str, object] = {"error": exc.reason}
        if isinstance(exc, InvalidInput) and exc.field:
            body["field"] = exc.field
        if status in (401, 403):
            who = getattr(request.state, "principal", None)
            log.info(
                "api.denied",
                extra={
                    "path": request.url.path,
                    "method": request.method,
                    "status": status,
                    "token_id": getattr(who, "token_id", None),
                    "role": getattr(who, "role", None),
                },
            )
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        # Fuzz fix: FastAPI's own answers (a body that is not JSON, an unknown path, a method
        # not allowed) said {"detail": ...}; every 4xx carries `error`.
        return JSONResponse(
            {"error": str(exc.detail), "detail": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body"),
                "error": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "error": "invalid request"}
        return JSONResponse(
            {
                # (fuzzing: a body that is not an object, or a bad field name, has no field)
                "error": f"{first['field'] or 'body'}: {first['error']}",
                "field": first["field"],
                "errors": errors,
            },
            status_code=422,
        )

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Redis or the database is away (a restart, a failover): nothing was accepted, and the
        # caller should try again, not read it as our bug (the fault suite saw a 500 here).
        what = "Redis" if isinstance(exc, RedisConnectionError | RedisTimeoutError) else "database"
        log.warning(
            "api.unavailable",
            extra={"path": request.url.path, "error": type(exc).__name__, "store": what},
        )
        return JSONResponse(
            {"error": f"the {what} is unavailable; nothing was accepted, try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
