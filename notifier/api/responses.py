"""The error answers the OpenAPI schema documents: one body for every 4xx and 503 of ours, and
the route class that lists, per operation, those its kind of route gives; a route names only
its own (`responses=errors_of(404, 409)`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from notifier.api.deps import get_principal, get_runtime

Responses = dict[int | str, dict[str, Any]]


class FieldError(BaseModel):
    field: str
    error: str


class ErrorOut(BaseModel):
    """`error` says what to fix; `field` names the input at fault, `errors` every one (422)."""

    error: str
    field: str | None = None
    errors: list[FieldError] | None = None


REASONS: dict[int, str] = {
    400: "The body cannot be read as JSON text (not UTF-8, nested too deeply)",
    401: "No valid bearer token (`WWW-Authenticate: Bearer`)",
    403: "The token's role, school or classes do not allow this",
    404: "No such record (or none the token may see)",
    409: "The request contradicts what is stored",
    413: "The body is larger than this route takes",
    422: "A parameter or the body is invalid; `field` names it",
    429: "Too many wrong tokens from this address; try again after `Retry-After` seconds",
    503: "The database or Redis is unavailable: nothing was done; try again after `Retry-After`",
}


def errors_of(*codes: int | tuple[int, str]) -> Responses:
    """The `responses=` entries for these statuses, each with its reason (or the one given as
    `(status, reason)`)."""
    out: Responses = {}
    for code in codes:
        status, reason = code if isinstance(code, tuple) else (code, REASONS[code])
        out[status] = {"model": ErrorOut, "description": reason}
    return out


def page(media_type: str, status: int = 200, description: str | None = None) -> Responses:
    """A `responses=` entry for an answer that is a page (HTML, PDF, text), not JSON. Such a route
    declares `response_class=Response`, not HTMLResponse: FastAPI files the error models under
    the route class's media type (it would say text/html), and our errors are JSON."""
    entry: dict[str, Any] = {"content": {media_type: {}}}
    if description:
        entry["description"] = description
    return {status: entry}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def common_errors(dependant: Dependant) -> list[int]:
    """What any route of this shape can answer: 422 always (every path and query parameter is
    checked, deps.clean_parameters); behind a token 401, 429 (guessing is throttled) and 403
    (every such route names its roles); with a JSON body 400 and 413; 503 with the database
    or Redis."""
    calls = set(_calls(dependant))
    codes = [422]
    if get_principal in calls:
        codes += [401, 403, 429]
    if dependant.body_params:
        codes += [400, 413]
    if get_runtime in calls:
        codes.append(503)
    return codes


class DocumentedRoute(APIRoute):
    """An APIRoute whose schema lists the errors its kind of route gives (`common_errors`)
    besides those its decorator names; use it as every router's `route_class`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        dependant = get_dependant(path=path, call=endpoint)
        depends: Sequence[params.Depends] = kwargs.get("dependencies") or ()
        dependant.dependencies += [
            get_dependant(path=path, call=d.dependency) for d in depends if d.dependency
        ]
        own: Responses = kwargs.get("responses") or {}
        merged = {**errors_of(*common_errors(dependant)), **own}
        kwargs["responses"] = dict(sorted(merged.items(), key=lambda item: str(item[0])))
        super().__init__(path, endpoint, **kwargs)
