"""A relay as a region's mail service runs one: it wants a login (RFC 4954 AUTH), and STARTTLS
with a certificate from a CA the system may not know. With the right settings the mail goes.
With a wrong login, none, or no STARTTLS, every message waits and its attempt names the setting
to fix, and none fails for the operator's mistake. An untrusted certificate fails the message
at once (retrying cannot help) and names NOTIFIER_SMTP_CA_FILE."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from pydantic import SecretStr, ValidationError

from notifier.config import Settings, SmtpTls
from notifier.runtime import build_runtime, run_until_idle
from tests.conftest import FakeClock
from tests.factories import mark, post_structured, pupil_with_guardian, school_with_class
from tests.servers.smtp_server import SmtpServer

RELAY_LOGIN = ("school@notifier.test", "relay-password-1")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(login=RELAY_LOGIN) as server:
        yield server


@pytest.fixture
def login() -> tuple[str, str] | None:
    return RELAY_LOGIN


@pytest.fixture
def settings(settings: Settings, login: tuple[str, str] | None) -> Settings:
    if login is None:
        return settings
    user, password = login
    return settings.model_copy(update={"smtp_username": user, "smtp_password": SecretStr(password)})


async def _family(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", email="parent@parents.example.org")


async def _a_mark(api: httpx.AsyncClient, pump) -> dict:  # type: ignore[no-untyped-def, type-arg]
    await _family(api)
    await post_structured(api, mark("st-1"))
    await pump()
    [entry] = (await api.get("/v1/notifications")).json()["items"]
    return entry  # type: ignore[no-any-return]


async def _a_mark_by(
    api: httpx.AsyncClient, settings: Settings, clock: FakeClock, value: str = "5"
) -> list[dict]:  # type: ignore[type-arg]
    """A mark, delivered by a worker of these settings; the delivery log, newest first."""
    runtime = build_runtime(settings, clock=clock)
    try:
        await post_structured(api, mark("st-1", value=value))
        await run_until_idle(runtime)
    finally:
        await runtime.close()
    return (await api.get("/v1/notifications")).json()["items"]  # type: ignore[no-any-return]


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
    api: httpx.AsyncClient, smtp: SmtpServer, pump, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await _a_mark(api, pump)
    assert smtp.messages == []
    assert entry["status"] != "failed" and entry["state"] == "pending"
    [attempt] = entry["attempts"]
    assert attempt["outcome"] == "transient"
    assert "NOTIFIER_SMTP_USERNAME" in attempt["detail"]
    assert "NOTIFIER_SMTP_PASSWORD" in attempt["detail"]
    assert "a-wrong-password" not in attempt["detail"]
    [logged] = [r for r in caplog.records if r.getMessage() == "smtp.login_refused"]
    assert logged.levelname == "ERROR" and "NOTIFIER_SMTP_PASSWORD" in logged.hint


# -- The relay's certificate (STARTTLS) ----------------------------------------------------


@pytest.fixture
def relay_ca() -> trustme.CA:
    """A CA the system does not know, as a region's relay may chain to (an internal one, or the
    Russian Trusted Root CA)."""
    return trustme.CA()


@pytest.fixture
def tls_relay(relay_ca: trustme.CA) -> Iterator[SmtpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    relay_ca.issue_cert("127.0.0.1").configure_cert(context)
    with SmtpServer(login=RELAY_LOGIN, tls=context) as server:
        yield server


async def test_an_untrusted_relay_says_what_to_install_and_the_ca_file_fixes_it(
    api: httpx.AsyncClient,
    settings: Settings,
    clock: FakeClock,
    tls_relay: SmtpServer,
    relay_ca: trustme.CA,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """STARTTLS to a relay whose CA the system does not trust: the message fails at once,
    its attempt naming NOTIFIER_SMTP_CA_FILE (retrying cannot help); with the CA's bundle in
    that setting the next message goes, over TLS and logged in."""
    await _family(api)
    untrusted = settings.model_copy(
        update={
            "smtp_host": tls_relay.host,
            "smtp_port": tls_relay.port,
            "smtp_tls": SmtpTls.starttls,
        }
    )
    [entry] = await _a_mark_by(api, untrusted, clock)
    assert entry["status"] == "failed"
    [attempt] = entry["attempts"]
    assert attempt["outcome"] == "permanent" and "NOTIFIER_SMTP_CA_FILE" in attempt["detail"]
    [logged] = [r for r in caplog.records if r.getMessage() == "smtp.certificate_untrusted"]
    assert logged.levelname == "ERROR" and "NOTIFIER_SMTP_CA_FILE" in logged.hint
    assert tls_relay.messages == []
    bundle = tmp_path / "relay-ca.pem"
    relay_ca.cert_pem.write_to_path(str(bundle))
    trusted = untrusted.model_copy(update={"smtp_ca_file": bundle})
    entry = (await _a_mark_by(api, trusted, clock, value="4"))[0]
    [mail] = tls_relay.messages
    assert mail.rcpt_tos == ["parent@parents.example.org"]
    assert entry["status"] == "sent"


async def test_a_relay_that_wants_starttls_names_the_tls_setting(
    api: httpx.AsyncClient, settings: Settings, clock: FakeClock, tls_relay: SmtpServer
) -> None:
    """Without NOTIFIER_SMTP_TLS=starttls such a relay answers MAIL with 530 (RFC 3207): the
    mail waits, and its attempt names the setting."""
    await _family(api)
    plain = settings.model_copy(
        update={"smtp_host": tls_relay.host, "smtp_port": tls_relay.port, "smtp_username": None}
    )
    [entry] = await _a_mark_by(api, plain, clock)
    assert entry["state"] == "pending"
    [attempt] = entry["attempts"]
    assert attempt["outcome"] == "transient" and "NOTIFIER_SMTP_TLS" in attempt["detail"]


def test_a_ca_file_that_is_not_there_is_refused_with_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a file: give the path of a PEM bundle"):
        Settings(smtp_ca_file=tmp_path / "missing.pem")
