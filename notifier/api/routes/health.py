"""Liveness, readiness and metrics (SPEC §7)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text

from notifier.api.deps import RuntimeDep
from notifier.api.responses import DocumentedRoute, page
from notifier.metrics import (
    DEAD_LETTERS,
    QUEUE_DEPTH,
    SCHEDULED,
    STREAM_LAG,
    STREAM_PENDING,
    report_sms_spend,
)
from notifier.stats import outbox_queue, sms_this_month, stream_state

router = APIRouter(tags=["operations"], route_class=DocumentedRoute)


class Readiness(BaseModel):
    ready: bool
    database: str = Field(description="ok, or the error met")
    redis: str = Field(description="ok, or the error met")


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database and Redis are reachable",
    responses={
        200: {"model": Readiness},
        503: {"model": Readiness, "description": "Not ready: the body says what is unreachable"},
    },
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = type(exc).__name__
    try:
        await runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = type(exc).__name__
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses=page("text/plain"),
)
async def metrics(runtime: RuntimeDep) -> Response:
    # The same readings as the console's dashboard (notifier/stats.py), for every school.
    now = runtime.clock()
    async with runtime.sessions() as session:
        outbox = await outbox_queue(session, now=now)
        spend = await sms_this_month(session, now=now)
    report_sms_spend(spend)
    QUEUE_DEPTH.set(outbox.due_now)
    SCHEDULED.set(outbox.later)
    stream = await stream_state(runtime.redis)
    STREAM_LAG.set(stream.lag or 0)
    STREAM_PENDING.set(stream.pending)
    DEAD_LETTERS.set(stream.dead)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
