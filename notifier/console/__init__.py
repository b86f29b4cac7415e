"""The web console for school staff (SPEC §8), served by the API process at /console.

Server-rendered pages (Jinja2, templates/_console/) that work without JavaScript; htmx, a
vendored static file, only enhances them (live preview, a report that refreshes itself). The
pages call the same services as the API, with the same scope checks (notifier/scope.py)."""

from __future__ import annotations

import importlib
import logging
import pkgutil

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from notifier.console import pages
from notifier.console.deps import BadForm, SchoolNeeded, SignInNeeded
from notifier.console.i18n import translator
from notifier.console.web import locale_of, render, user_of
from notifier.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NotifierError,
    TooManyRequests,
)

log = logging.getLogger(__name__)

PREFIX = "/console"


def create_console() -> FastAPI:
    """The console as an application of its own, mounted under /console by the API: its errors
    are pages, not JSON, and it stays out of the API's OpenAPI schema."""
    console = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    console.mount("/static", StaticFiles(packages=[("notifier.console", "static")]), name="static")
    # Every module of console/pages/ is an area of pages with its own `router`.
    for area in pkgutil.iter_modules(pages.__path__):
        module = importlib.import_module(f"{pages.__name__}.{area.name}")
        console.include_router(module.router)
    _errors(console)
    return console


def _errors(console: FastAPI) -> None:
    @console.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        target = f"{request.scope.get('root_path', '')}/signin"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @console.exception_handler(SchoolNeeded)
    async def _school(request: Request, exc: SchoolNeeded) -> Response:
        target = f"{request.scope.get('root_path', '')}/schools"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @console.exception_handler(NotifierError)
    async def _ours(request: Request, exc: NotifierError) -> HTMLResponse:
        t = translator(locale_of(request))
        status, heading, message = 400, t("error.title"), exc.reason
        if isinstance(exc, BadForm):
            status, heading, message = 403, t("error.403.title"), t("error.csrf")
        elif isinstance(exc, Forbidden):
            status, heading, message = 403, t("error.403.title"), t("error.403")
        elif isinstance(exc, NotFound):
            status, heading = 404, t("error.404.title")
        elif isinstance(exc, TooManyRequests):
            status, message = 429, t("error.throttled", seconds=exc.retry_after)
        elif isinstance(exc, InvalidInput):
            status = 422
        elif isinstance(exc, Conflict):
            status = 409
        if status == 403:
            user = user_of(request)
            log.warning(
                "console.denied",
                extra={
                    "path": request.url.path,
                    "method": request.method,
                    "staff_id": user.principal.staff_id if user else None,
                    "role": user.principal.role.value if user else None,
                    "csrf": isinstance(exc, BadForm),
                },
            )
        detail = exc.reason if status in (403, 422) and not isinstance(exc, BadForm) else None
        response = render(
            request,
            "error.html.j2",
            {"heading": heading, "message": message, "detail": detail},
            status=status,
            title=heading,
        )
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @console.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        t = translator(locale_of(request))
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p not in ('body', 'query', 'path'))}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        return render(
            request,
            "error.html.j2",
            {"heading": t("error.title"), "message": problems, "detail": None},
            status=422,
        )

    @console.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> HTMLResponse:
        t = translator(locale_of(request))
        heading = t("error.404.title") if exc.status_code == 404 else t("error.title")
        return render(
            request,
            "error.html.j2",
            {"heading": heading, "message": str(exc.detail), "detail": None},
            status=exc.status_code,
        )
