"""Liveness, readiness and metrics (SPEC §7)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text

from notifier.api.deps import RuntimeDep
from notifier.api.responses import DocumentedRoute, page
from notifier.db.models import Notification
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM
from notifier.metrics import DEAD_LETTERS, QUEUE_DEPTH, SCHEDULED, STREAM_LAG, STREAM_PENDING

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
    now = runtime.clock()
    async with runtime.sessions() as session:
        due_now, later = (
            await session.execute(
                select(
                    func.count().filter(Notification.due_at <= now),
                    func.count().filter(Notification.due_at > now),
                ).where(Notification.status == "pending")
            )
        ).one()
    QUEUE_DEPTH.set(due_now)
    SCHEDULED.set(later)
    groups = await runtime.redis.xinfo_groups(STREAM) if await runtime.redis.exists(STREAM) else []
    group = next((g for g in groups if g.get("name") in (GROUP, GROUP.encode())), None)
    STREAM_LAG.set((group or {}).get("lag") or 0)
    STREAM_PENDING.set((group or {}).get("pending") or 0)
    DEAD_LETTERS.set(await runtime.redis.xlen(DEAD_STREAM))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
