"""A relay that wants a login (RFC 4954 AUTH), as a region's mail service does: with the right
one the mail goes; with a wrong one, or none, every message waits and says which setting to
fix, and none is failed for the operator's mistake."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from notifier.config import Settings
from tests.factories import mark, post_structured, pupil_with_guardian, school_with_class
from tests.servers.smtp_server import SmtpServer

RELAY_LOGIN = ("school@notifier.test", "relay-password-1")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(login=RELAY_LOGIN)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def login() -> tuple[str, str] | None:
    return RELAY_LOGIN


@pytest.fixture
def settings(settings: Settings, login: tuple[str, str] | None) -> Settings:
    if login is None:
        return settings
    user, password = login
    return settings.model_copy(update={"smtp_username": user, "smtp_password": SecretStr(password)})


async def _a_mark(api: httpx.AsyncClient, pump) -> dict:  # type: ignore[no-untyped-def, type-arg]
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", email="parent@parents.example.org")
    await post_structured(api, mark("st-1"))
    await pump()
    [entry] = (await api.get("/v1/notifications")).json()["items"]
    return entry  # type: ignore[no-any-return]


async def test_with_the_relays_login_the_mail_goes(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    entry = await _a_mark(api, pump)
    assert entry["status"] == "sent"
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["parent@parents.example.org"]


@pytest.mark.parametrize(
    "login", [(RELAY_LOGIN[0], "a-wrong-password"), None], ids=["wrong-password", "no-login"]
)
async def test_a_refused_or_missing_login_holds_the_mail_and_names_the_settings(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    entry = await _a_mark(api, pump)
    assert smtp.messages == []
    assert entry["status"] != "failed" and entry["state"] == "pending"
    [attempt] = entry["attempts"]
    assert attempt["outcome"] == "transient"
    assert "NOTIFIER_SMTP_USERNAME" in attempt["detail"]
    assert "NOTIFIER_SMTP_PASSWORD" in attempt["detail"]
    assert "a-wrong-password" not in attempt["detail"]
