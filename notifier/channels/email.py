"""Email: one MIME message per notification, sent over pooled SMTP or written to the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Recipient, SendResult
from notifier.channels.outbox import write_atomic
from notifier.config import Settings, SmtpTls
from notifier.delivery.ratelimit import RateLimiter, per_second
from notifier.errors import PermanentDelivery, TransientDelivery
from notifier.rendering import RenderedEmail

_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")


def redact(text: str) -> str:
    """Server replies often quote the address; our records and logs must not."""
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:300]


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def build_email(
    *, sender: str, recipient: Recipient, content: RenderedEmail, ref: str, now: datetime
) -> EmailMessage:
    """A complete message; headers come only from the policy, so no field can inject one."""
    if not recipient.email:
        raise PermanentDelivery("guardian has no email address")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    try:
        local, _, domain = recipient.email.rpartition("@")
        msg["To"] = Address(
            display_name=" ".join(recipient.name.split()), username=local, domain=domain
        )
    except (ValueError, IndexError) as exc:
        raise PermanentDelivery(f"bad address: {type(exc).__name__}") from None
    msg["Subject"] = " ".join(content.subject.split())
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{ref}@{_domain(sender)}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "bulk"
    msg.set_content(content.text, subtype="plain", charset="utf-8")
    msg.add_alternative(content.html, subtype="html", charset="utf-8")
    return msg


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients] or [550]
        text = "; ".join(redact(r.message) for r in exc.recipients)
        code = min(codes)
        reason = f"smtp {code} {text}".strip()
        # The relay refused this recipient for good: the mailbox is gone.
        return (
            PermanentDelivery(reason, unusable=True) if code >= 500 else TransientDelivery(reason)
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPServerDisconnected
    ):
        reason = f"smtp {exc.code} {redact(exc.message)}".strip()
        return PermanentDelivery(reason) if exc.code >= 500 else TransientDelivery(reason)
    return TransientDelivery(f"smtp connection: {type(exc).__name__}")


class SmtpPool:
    """A few long-lived SMTP connections, reused across messages and reopened after errors."""

    def __init__(self, settings: Settings, size: int) -> None:
        self.settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(self._client())

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls is SmtpTls.tls,
            start_tls=True if s.smtp_tls is SmtpTls.starttls else False,
            timeout=s.smtp_timeout,
        )

    async def send(self, msg: EmailMessage) -> None:
        client = await self._idle.get()
        healthy = False
        try:
            if not client.is_connected:
                await client.connect()
            await client.send_message(msg)
            healthy = True
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from None
        finally:
            if not healthy:
                # After any failure the session state is unknown: start the next one afresh.
                with contextlib.suppress(Exception):
                    client.close()
                client = self._client()
            self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                with contextlib.suppress(Exception):
                    await client.quit()


class EmailChannel:
    name = "email"

    def __init__(
        self, settings: Settings, *, limiter: RateLimiter | None = None, pool_size: int = 4
    ) -> None:
        self.sender = settings.email_from
        self.limiter = limiter
        self.rate = settings.smtp_rate_per_second
        self.bucket = f"smtp:{settings.smtp_host}:{settings.smtp_port}"
        self.pool = SmtpPool(settings, pool_size) if settings.smtp_enabled else None
        self.outbox = settings.outbox_dir / "email"

    async def refresh(self, session: AsyncSession) -> None:
        return None

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.email)

    async def send(
        self, recipient: Recipient, content: RenderedEmail, *, ref: str, now: datetime
    ) -> SendResult:
        msg = build_email(
            sender=self.sender, recipient=recipient, content=content, ref=ref, now=now
        )
        if self.pool is None:
            path = await asyncio.to_thread(write_atomic, self.outbox, f"{ref}.eml", bytes(msg))
            return SendResult(provider_id=path.name)
        if self.limiter is None:
            await self.pool.send(msg)
        else:
            async with self.limiter.slot(self.bucket, *per_second(self.rate)):
                await self.pool.send(msg)
        return SendResult(provider_id=msg["Message-ID"])

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
