"""POST /v1/roster/import: a roster CSV as the raw body or as the multipart field `file`."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.formparsers import MultiPartException, MultiPartParser

from notifier.api.deps import PrincipalDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Role
from notifier.errors import InvalidInput
from notifier.roster.importer import import_for

router = APIRouter(prefix="/v1", tags=["roster"], route_class=DocumentedRoute)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
_BINARY = {"type": "string", "format": "binary"}
_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": _BINARY},
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": _BINARY}, "required": ["file"]}
        },
    },
}


class _TooLarge(Exception):
    pass


async def _limited(request: Request) -> AsyncGenerator[bytes, None]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise _TooLarge
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise _TooLarge
        yield chunk


async def _csv(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        return b"".join([chunk async for chunk in _limited(request)])
    parser = MultiPartParser(
        request.headers,
        _limited(request),
        max_files=1,
        max_fields=20,
        max_part_size=MAX_IMPORT_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(f"the multipart body cannot be read: {exc.message}") from None
    try:
        upload = form.get("file")
        if upload is None:
            raise InvalidInput(
                "send the CSV as the multipart field `file`, or as the body with "
                "Content-Type: text/csv",
                field="file",
            )
        return upload.encode() if isinstance(upload, str) else await upload.read()
    finally:
        await form.close()


@router.post(
    "/roster/import",
    summary="Load pupils, guardians and consents from a CSV, one row per pupil-guardian pair",
    description=(
        "UTF-8 or Windows-1251, `;` or `,`; header row with school_id, class_id, student_id, "
        "student_name, guardian_id, guardian_name, phone, email, consent_date (or школа, класс, "
        "ученик_id, ученик, родитель_id, родитель, телефон, почта, согласие). Good rows are "
        "applied in one transaction; bad ones are reported with their line numbers. "
        "`dry_run=true` reports without writing."
    ),
    response_model=None,
    openapi_extra={"requestBody": _BODY},
    responses=errors_of(
        (409, "The roster changed while the file was imported: nothing was written, try again"),
        (413, f"Larger than {MAX_IMPORT_BYTES // 2**20} MB"),
        (422, "The file is unusable (empty, no header, missing columns) or a parameter invalid"),
    ),
)
async def import_csv(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    dry_run: bool = Query(False, description="check and report, write nothing"),
) -> JSONResponse:
    principal.require(Role.admin, Role.integration)
    try:
        data = await _csv(request)
    except _TooLarge:
        return JSONResponse(
            {"error": f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB"},
            status_code=413,
        )
    report = await import_for(
        session=session,
        actor=principal,
        school_id=principal.school_id,
        data=data,
        dry_run=dry_run,
    )
    return JSONResponse(dataclasses.asdict(report))
