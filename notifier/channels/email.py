"""Email: one MIME message per notification, sent over pooled SMTP or written to the outbox."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.policy import SMTPUTF8, Compat32
from email.utils import format_datetime

import aiosmtplib

from notifier.channels.base import Recipient, SendResult
from notifier.channels.outbox import OutboxFolder, file_name, write_atomic
from notifier.channels.ratelimit import RateLimiter, per_second
from notifier.channels.tls import ssl_context, untrusted
from notifier.config import Settings, SmtpTls
from notifier.errors import PermanentDelivery, TransientDelivery
from notifier.rendering import Attachment, RenderedEmail

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")
# An ASCII address an SMTP path takes as it stands (RFC 5321 4.1.2): a Dot-string local part
# and a domain of labels. Anything else is left to aiosmtplib's sendmail, which quotes it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_LINE_END = re.compile(r"\r\n|\r|\n")
_CRLF = b"\r\n"


class _Wire(Compat32):
    """The email library's classic header handling, with CRLF: `Header` writes RFC 2047
    encoded words and folds at 78, by continuation lines only (it refuses a value that would
    start a header of its own). A short one-line printable ASCII value, in which `Header`
    would find nothing to fold or encode, is written as it stands: the same bytes, without
    the work; so is one long word, such as the List-Unsubscribe link, which it could only
    push onto a line of its own. (`EmailPolicy`, the modern API, is about ten times slower
    here: 2-4 ms to fold one To with a Cyrillic display name; see bench/email_build.py.)
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        if (
            isinstance(value, str)  # not a Header
            and value.isascii()
            and value.isprintable()  # no CR, LF or other control character
            and self.max_line_length is not None
            and (
                len(name) + 2 + len(value) <= self.max_line_length
                # One long word (a link) has nowhere to fold: RFC 5322 allows 998 octets.
                or (" " not in value and len(name) + 2 + len(value) <= MAX_LINE)
            )
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _Wire(linesep="\r\n")
MAX_LINE = 998
AUTH_REQUIRED = 530  # RFC 4954 and 3207: the relay takes no mail before AUTH, or STARTTLS
UNTRUSTED = (
    "smtp: the relay's certificate is not trusted on this machine; set NOTIFIER_SMTP_CA_FILE "
    "to the PEM file of its CA (the Russian Trusted Root CA: https://www.gosuslugi.ru/crt)"
)


def redact(text: str) -> str:
    """Server replies often quote the address; our records and logs must not."""
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:300]


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class OutgoingEmail:
    """A message serialized once, exactly as it goes into DATA, and its envelope."""

    sender: str
    recipient: str
    message_id: str
    data: bytes
    smtputf8: bool = False  # an address beyond ASCII: only a relay offering SMTPUTF8 takes it


def build_email(
    *, sender: str, recipient: Recipient, content: RenderedEmail, ref: str, now: datetime
) -> OutgoingEmail:
    """A complete message; headers come only from the email library, so no field can inject
    one. The name and the subject are RFC 2047 UTF-8 encoded words; both bodies are UTF-8 in
    base64, so the message is 7-bit clean with short lines for any relay."""
    if not recipient.email:
        raise PermanentDelivery("guardian has no email address")
    local, _, domain = recipient.email.rpartition("@")
    try:
        to = Address(display_name=" ".join(recipient.name.split()), username=local, domain=domain)
    except ValueError as exc:
        raise PermanentDelivery(f"bad address: {type(exc).__name__}") from None
    subject = " ".join(content.subject.split())
    message_id = f"<{ref}@{_domain(sender)}>"
    headers: tuple[tuple[str, str], ...] = (
        ("From", sender),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("Precedence", "bulk"),
    )
    if content.unsubscribe:
        # RFC 2369 and RFC 8058: mail clients show "Unsubscribe" and POST to the link.
        link = "".join(content.unsubscribe.split())
        headers += (
            ("List-Unsubscribe", f"<{link}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        )
    if (sender + recipient.email).isascii():
        data = _mime(headers, to, subject, content)
        smtputf8 = False
    else:
        data = _mime_smtputf8(headers, to, subject, content)
        smtputf8 = True
    return OutgoingEmail(sender, recipient.email, message_id, data, smtputf8)


def _mime(
    headers: tuple[tuple[str, str], ...], to: Address, subject: str, content: RenderedEmail
) -> bytes:
    # The header values are folded and encoded by the email library (_WIRE, Header); the MIME
    # framing around them is written here. The library's MIMEText and Generator base64 each
    # body, then split the lines they wrote and write them again one by one: about 60% of a
    # message's build (bench/email_build.py).
    if to.display_name:
        # Always an encoded word, so no character of the name needs quoting.
        named = Header(to.display_name, "utf-8", header_name="To")
        named.append(f"<{to.addr_spec}>", "us-ascii")
        recipient: Header | str = named
    else:
        recipient = to.addr_spec
    content_type, body = _multipart(
        "alternative", [_text(content.text, "plain"), _text(content.html, "html")]
    )
    if content.attachments:
        inner = content_type + _CRLF + body
        parts = [inner, *(_attachment(attachment) for attachment in content.attachments)]
        content_type, body = _multipart("mixed", parts)
    lines = [
        content_type,
        b"MIME-Version: 1.0\r\n",
        _header("To", recipient),
        _header("Subject", Header(subject, "utf-8", header_name="Subject")),
        *(_header(name, value) for name, value in headers),
        _CRLF,
        body,
    ]
    return b"".join(lines)


def _header(name: str, value: str | Header) -> bytes:
    """One header line, folded and encoded by the library (_WIRE: a `Header` as well as a
    str, whatever typeshed says)."""
    return _WIRE.fold_binary(name, value)  # type: ignore[arg-type]


def _text(body: str, subtype: str) -> bytes:
    """A text part, headers and content: UTF-8 in base64, in lines of 76."""
    encoded = base64.encodebytes(_canonical(body).encode()).replace(b"\n", _CRLF)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: base64'
    return head.encode() + _CRLF + _CRLF + encoded


def _multipart(subtype: str, parts: list[bytes]) -> tuple[bytes, bytes]:
    """A multipart entity's Content-Type header and its body of `parts` (each its headers,
    a blank line and its content). No line of a part can be the boundary: its content is
    base64, whose alphabet has no "-", and its other lines are headers, or an inner part's
    own random boundary."""
    boundary = f"=_{secrets.token_hex(16)}".encode()
    content_type = b'Content-Type: multipart/%s;\r\n boundary="%s"\r\n' % (
        subtype.encode(),
        boundary,
    )
    body = [b"--%s\r\n%s\r\n" % (boundary, part) for part in parts]
    body.append(b"--%s--\r\n" % boundary)
    return content_type, b"".join(body)


def _attachment(attachment: Attachment) -> bytes:
    maintype, _, subtype = attachment.content_type.partition("/")
    if maintype != "application":
        raise ValueError(f"attachments are application/*, not {attachment.content_type}")
    part = MIMEApplication(attachment.data, subtype)  # base64
    del part["MIME-Version"]
    # RFC 2231 for a filename beyond ASCII (a report's name in Russian).
    part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
    return part.as_bytes(policy=_WIRE)


def _mime_smtputf8(
    headers: tuple[tuple[str, str], ...], to: Address, subject: str, content: RenderedEmail
) -> bytes:
    """For an internationalized address, which only SMTPUTF8 carries: there headers are
    UTF-8 as they stand, written by the library's SMTPUTF8 policy (slow, and rare)."""
    msg = EmailMessage(policy=SMTPUTF8)
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers:
        msg[name] = value
    msg.set_content(content.text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(content.html, subtype="html", charset="utf-8", cte="base64")
    for attachment in content.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return msg.as_bytes()


def _canonical(text: str) -> str:
    """Text in canonical form: every line, the last one too, ends in CRLF."""
    return _LINE_END.sub("\r\n", text if text.endswith(("\r", "\n")) else text + "\n")


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or (
        isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == AUTH_REQUIRED
    ):
        # Our login, not this message: it waits, retried, until the operator fixes the setting.
        if exc.code == AUTH_REQUIRED:  # RFC 3207 answers a missing STARTTLS with 530 too
            reason = (
                "smtp 530: the relay wants a login, or STARTTLS, first; check "
                "NOTIFIER_SMTP_USERNAME, NOTIFIER_SMTP_PASSWORD and NOTIFIER_SMTP_TLS"
            )
        else:
            reason = (
                f"smtp {exc.code}: the relay refused our login; check NOTIFIER_SMTP_USERNAME "
                "and NOTIFIER_SMTP_PASSWORD"
            )
        log.error("smtp.login_refused", extra={"hint": reason})
        return TransientDelivery(reason)
    if untrusted(exc):
        # Retrying cannot help until someone installs the CA: the message goes by the next
        # channel, and the log and its attempt say what to do.
        log.error("smtp.certificate_untrusted", extra={"hint": UNTRUSTED})
        return PermanentDelivery(UNTRUSTED)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # aiosmtplib raises it only for SMTPUTF8, which an address beyond ASCII needs: this
        # relay will not take the address tomorrow either, so the next channel goes now.
        return PermanentDelivery(
            "smtp: the relay does not offer SMTPUTF8, which an address beyond ASCII needs"
        )
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


def _plain(client: aiosmtplib.SMTP, email: OutgoingEmail) -> bool:
    """Whether `_transaction` can carry this message: the relay took EHLO, and both addresses
    go into the envelope as they stand."""
    return (
        not client.is_ehlo_or_helo_needed
        and not email.smtputf8
        and _PLAIN_PATH.fullmatch(email.sender) is not None
        and _PLAIN_PATH.fullmatch(email.recipient) is not None
    )


async def _transaction(client: aiosmtplib.SMTP, email: OutgoingEmail) -> None:
    """MAIL, RCPT and DATA by the library's own commands, raising what its sendmail raises.

    Not sendmail itself: on every message it parses and quotes both addresses and scans the
    whole message once more for SIZE: a fifth to a quarter of our CPU for the conversation
    (bench/email_build.py --send). Here the addresses are plain (`_plain`), and
    the message is already in canonical CRLF form, so its length is what DATA sends.
    `execute_command` still refuses any control character in a command, and `data` still
    normalizes line ends and escapes leading dots."""
    mail = [b"FROM:<" + email.sender.encode("ascii") + b">"]
    if client.supports_extension("size"):
        mail.append(b"SIZE=%d" % len(email.data))
    reply = await client.execute_command(b"MAIL", *mail)
    if reply.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, email.sender)
    reply = await client.execute_command(b"RCPT", b"TO:<" + email.recipient.encode("ascii") + b">")
    if reply.code not in (aiosmtplib.SMTPStatus.completed, aiosmtplib.SMTPStatus.will_forward):
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, email.recipient)
        raise aiosmtplib.SMTPRecipientsRefused([refused])
    await client.data(email.data)


class SmtpPool:
    """A few long-lived SMTP connections, reused across messages and reopened after errors."""

    def __init__(self, settings: Settings, size: int) -> None:
        self.settings = settings
        # One context for every connection: building one reads the system's roots again.
        self._tls = (
            ssl_context(settings.smtp_ca_file) if settings.smtp_tls is not SmtpTls.none else None
        )
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
            tls_context=self._tls,
            timeout=s.smtp_timeout,
        )

    async def send(self, email: OutgoingEmail) -> None:
        client = await self._idle.get()
        healthy = False
        try:
            if not client.is_connected:
                await client.connect()
            if client.is_ehlo_or_helo_needed:
                # A relay without ESMTP refuses EHLO: sendmail then greets it with HELO.
                with contextlib.suppress(aiosmtplib.SMTPHeloError):
                    await client.ehlo()
            if _plain(client, email):
                await _transaction(client, email)
            else:
                # Already serialized: sendmail sends the bytes as they are, where send_message
                # would copy the message and flatten it again.
                await client.sendmail(
                    email.sender,
                    [email.recipient],
                    email.data,
                    mail_options=["SMTPUTF8"] if email.smtputf8 else None,
                )
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
        self.outbox = settings.outbox_dir / OutboxFolder.email

        return None

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.email)

    async def send(
        self, recipient: Recipient, content: RenderedEmail, *, ref: str, now: datetime
    ) -> SendResult:
        email = build_email(
            sender=self.sender, recipient=recipient, content=content, ref=ref, now=now
        )
        if self.pool is None:
            name = file_name(OutboxFolder.email, ref)
            path = await asyncio.to_thread(write_atomic, self.outbox, name, email.data)
            return SendResult(provider_id=path.name)
        if self.limiter is None:
            await self.pool.send(email)
        else:
            async with self.limiter.slot(self.bucket, *per_second(self.rate)):
                await self.pool.send(email)
        return SendResult(provider_id=email.message_id)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
