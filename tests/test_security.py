"""Limits at the door: oversized bodies get 413, token guessing gets 429, secrets are random
and kept only as hashes."""

from __future__ import annotations

import json
import math
import socket
import string
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from notifier.api.app import create_app
from notifier.auth import Role, create_token
from notifier.config import Settings
from notifier.db.models import ApiToken
from notifier.roster.chat_link import create_link_code
from notifier.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import mark, pupil_with_guardian, school_with_class

# Rules, not storage: SQLite only.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_oversized_bodies_are_refused_with_413(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    huge_name = {"full_name": "Я" * 200_000, "student_ids": []}
    r = await api.put("/v1/guardians/g-1", content=json.dumps(huge_name))
    assert r.status_code == 413
    assert r.json() == {"error": "the request body is larger than 256 KB"}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"full_name": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'", "student_ids": []}'

    r = await api.put(
        "/v1/guardians/g-1", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413

    # Events may come in large batches: 1 MB is fine there, 17 MB is not.
    batch = [mark("st-1", comment="к" * 5000) for _ in range(100)]
    ok = await api.post(
        "/v1/events",
        content=json.dumps(batch),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    assert ok.status_code == 202, ok.text[:200]
    r = await api.post(
        "/v1/events",
        content=b"[" + b" " * (17 * 1024 * 1024) + b"]",
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    assert r.status_code == 413
    # The service answers normally afterwards.
    assert (await api.get("/v1/guardians/nobody")).status_code == 404


async def test_guessing_tokens_is_slowed_per_address(api: httpx.AsyncClient) -> None:
    wrong = {"Authorization": "Bearer ntf_guess"}
    for _ in range(20):
        assert (await api.get("/v1/notifications", headers=wrong)).status_code == 401
    r = await api.get("/v1/notifications", headers=wrong)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert "too many wrong tokens" in r.json()["error"]
    # Even a right token from that address waits: a guess must not learn it was right.
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert (await api.get("/v1/notifications", headers=right)).status_code == 429


async def test_a_right_token_is_never_counted(api: httpx.AsyncClient) -> None:
    for _ in range(30):
        assert (await api.get("/v1/notifications")).status_code == 200


def _bits(text: str) -> float:
    alphabet = string.ascii_letters + string.digits + "-_"
    assert set(text) <= set(alphabet)
    return len(text) * math.log2(len(alphabet))


async def test_tokens_and_link_codes_are_random_and_stored_hashed(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    async with runtime.sessions() as session:
        tokens = [(await create_token(session=session, role=Role.integration))[0] for _ in range(3)]
        codes = [
            (
                await create_link_code(
                    session=session,
                    guardian_id="g-1",
                    ttl=timedelta(days=1),
                    now=runtime.clock(),
                    by_token=None,
                )
            )[0]
            for _ in range(3)
        ]
        stored = list(await session.scalars(select(ApiToken.token_hash)))
    assert len(set(tokens)) == 3 and len(set(codes)) == 3
    assert all(_bits(t.removeprefix("ntf_")) >= 128 for t in tokens)
    assert all(_bits(c) >= 128 for c in codes)
    assert all(len(h) == 64 and all(t not in h for t in tokens) for h in stored)


async def test_redis_away_is_503_with_retry_after_not_a_500(
    settings: Settings, runtime: Runtime
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    away = settings.model_copy(update={"redis_url": dead})
    rt = build_runtime(away, clock=runtime.clock)
    try:
        transport = httpx.ASGITransport(app=create_app(away, runtime=rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as c:
            r = await c.post(
                "/v1/events",
                content=json.dumps(mark("st-1")),
                headers={
                    "Authorization": f"Bearer {ADMIN_TOKEN}",
                    "Content-Type": "application/cloudevents+json",
                },
            )
    finally:
        await rt.close()
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    assert "Redis is unavailable" in r.json()["error"]
