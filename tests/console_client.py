"""The console as a browser without JavaScript meets it: a cookie-keeping client, plain form
posts with the page's CSRF token, the emailed sign-in link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from notifier.api.app import create_app
from notifier.config import Settings
from notifier.runtime import Runtime
from tests.factories import put, put_school
from tests.servers.smtp_server import SmtpServer

LINK = re.compile(r"https?://\S+/console/signin/link/([A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def teacher_client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same service (its own cookies)."""
    app = create_app(settings, runtime=runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notifier.test"
    ) as client:
        yield client


@pytest.fixture
async def visitor(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client with no token: what a visitor sends."""
    app = create_app(settings, runtime=runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notifier.test"
    ) as client:
        yield client


async def school(api: httpx.AsyncClient) -> None:
    await put_school(api, "s1", {"name": "Школа № 1"})
    await put(
        api,
        "/v1/staff/t1",
        {"school_id": "s1", "full_name": "Анна Петровна", "email": "Anna@School1.ru"},
    )
    await put(
        api,
        "/v1/staff/t2",
        {
            "school_id": "s1",
            "full_name": "Other Teacher",
            "locale": "en",
            "email": "other@school1.ru",
        },
    )
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А", "class_teacher_id": "t1"})
    await put(api, "/v1/classes/7b", {"school_id": "s1", "name": "7Б", "class_teacher_id": "t2"})


async def csrf_of(visitor: httpx.AsyncClient, path: str) -> str:
    page = await visitor.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def ask_link(visitor: httpx.AsyncClient, smtp: SmtpServer, email: str) -> str:
    token = await csrf_of(visitor, "/console/signin")
    before = len(smtp.messages)
    sent = await visitor.post("/console/signin", data={"email": email, "csrf": token})
    assert sent.status_code == 200, sent.text
    assert "Проверьте почту" in sent.text
    assert len(smtp.messages) == before + 1
    body = smtp.messages[-1].message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, body.get_content()
    return found.group(1)


async def sign_in(visitor: httpx.AsyncClient, smtp: SmtpServer, email: str) -> None:
    link = await ask_link(visitor, smtp, email)
    token = await csrf_of(visitor, f"/console/signin/link/{link}")
    spent = await visitor.post(f"/console/signin/link/{link}", data={"csrf": token})
    assert spent.status_code == 303, spent.text
    assert spent.headers["location"] == "/console/"
