"""A real SMTP server (aiosmtpd) that stores what it accepts and fails on request."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from functools import cached_property
from types import TracebackType
from typing import Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from notifier.embedded import free_port

Stage = Literal["MAIL", "RCPT", "DATA"]

_DEFAULT_TEXT = {4: "4.3.0 Try again later", 5: "5.3.0 Transaction failed"}


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = 0.0  # time.monotonic() when the server accepted it

    @cached_property
    def message(self) -> EmailMessage:
        # Parsed on first use, so that accepting a message costs the server next to nothing.
        parsed = BytesParser(policy=default_policy).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Fault:
    stage: Stage
    reply: str
    times: int


class _Handler:
    """aiosmtpd hooks; they run on the controller's thread, hence the lock."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        with self.owner._lock:
            self.owner.attempts += 1
            fault = self.owner._take_fault("MAIL")
        if fault is not None:
            return fault
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        owner = self.owner
        with owner._lock:
            rejected = owner._rejected.get(address.lower())
            if rejected is not None:
                return rejected
            fault = owner._take_fault("RCPT")
        if fault is not None:
            return fault
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        owner = self.owner
        if not owner._flowing.is_set():  # hold(): the client waits for our answer
            with owner._lock:
                owner.held += 1
            while not owner._flowing.is_set():
                await asyncio.sleep(0.01)
        with owner._lock:
            drop = owner._drops > 0
            if drop:
                owner._drops -= 1
                fault = None
            else:
                fault = owner._take_fault("DATA")
        if drop:
            # Abort (RST) rather than close: the client sees the link die mid-transaction.
            if server.transport is not None:
                server.transport.abort()  # type: ignore[attr-defined]
            return "421 4.4.2 Connection dropped"
        if fault is not None:
            return fault
        data = envelope.content
        raw = data if isinstance(data, bytes) else (data or "").encode()
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=raw,
            at=time.monotonic(),
        )
        with owner._lock:
            owner.messages.append(mail)
        return "250 Message accepted for delivery"


class SmtpServer:
    """SMTP on 127.0.0.1 at a free port; `messages` holds what was accepted.

    `attempts` counts transactions (MAIL FROM commands), failed ones included,
    so a test can see how often the client retried.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        login: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`login`: (user, password) the server requires by AUTH before MAIL; `tls`: its
        certificate, for STARTTLS, which it then requires before anything else."""
        self.host = host
        self.login = login
        self.tls = tls
        self.port = 0
        self.messages: list[ReceivedMail] = []
        self.attempts = 0
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._rejected: dict[str, str] = {}
        self._drops = 0
        self._controller: Controller | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self.held = 0  # DATA commands that waited for release()

    def start(self, port: int | None = None, *, smtputf8: bool = True) -> None:
        """Listen on a free port, or on `port` (the old one, to come back after `stop()`);
        `smtputf8=False`: a relay that does not offer SMTPUTF8 (RFC 6531)."""
        if self._controller is not None:
            return
        last_error: OSError | None = None
        for _ in range(3):
            self.port = port or free_port(self.host)
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=self.port,
                ready_timeout=5,
                # AUTH over plain text (loopback, tests only); bytes as sent, no decoding.
                auth_require_tls=False,
                auth_required=self.login is not None,
                authenticator=self._authenticate if self.login is not None else None,
                decode_data=False,
                enable_SMTPUTF8=smtputf8,
                tls_context=self.tls,
                require_starttls=self.tls is not None,
            )
            try:
                controller.start()
            except OSError as exc:
                # The free port was taken in between (or the old one is not released yet).
                last_error = exc
                controller.stop(no_assert=True)
                if port:
                    time.sleep(0.5)
                continue
            self._controller = controller
            return
        assert last_error is not None
        raise last_error

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        assert self.login is not None
        user, password = self.login
        given = (data.login, data.password) if isinstance(data, LoginPassword) else None
        # handled=False: aiosmtpd then answers a refusal with its 535 itself.
        return AuthResult(success=given == (user.encode(), password.encode()), handled=False)

    def stop(self) -> None:
        self._flowing.set()
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def clear(self) -> None:
        """Forget received messages, counters and programmed faults."""
        with self._lock:
            self.messages.clear()
            self.attempts = 0
            self._faults.clear()
            self._rejected.clear()
            self._drops = 0

    def fail_next(
        self, code: int, times: int = 1, text: str | None = None, *, stage: Stage = "DATA"
    ) -> None:
        """Answer the next `times` DATA (or MAIL, or RCPT) commands with `code text`, then
        accept."""
        reply = f"{code} {text or _DEFAULT_TEXT.get(code // 100, 'Failed')}"
        with self._lock:
            self._faults.append(_Fault(stage=stage, reply=reply, times=times))

    def reject_recipient(
        self, addr: str, code: int = 550, text: str = "5.1.1 Mailbox unavailable"
    ) -> None:
        """Refuse RCPT TO `addr` for good."""
        with self._lock:
            self._rejected[addr.lower()] = f"{code} {text}"

    def hold(self) -> None:
        """Keep every message from now on waiting at DATA, unanswered, until `release()`: the
        client's send is in flight for as long as the test likes."""
        self._flowing.clear()

    def release(self) -> None:
        """Answer the held messages (and accept them, unless a fault is programmed)."""
        self._flowing.set()

    def drop_connection_next(self, times: int = 1) -> None:
        """Cut the connection on the next `times` DATA commands, before any answer."""
        with self._lock:
            self._drops += times

    # A plain deadline keeps call sites short; asyncio.timeout() would do the same.
    async def wait_for(self, n: int, timeout: float = 10) -> list[ReceivedMail]:  # noqa: ASYNC109
        """Wait until at least `n` messages were accepted; return all of them."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
                got = len(self.messages)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {n} messages within {timeout}s, got {got}")
            await asyncio.sleep(0.02)

    def _take_fault(self, stage: Stage) -> str | None:
        # Caller holds the lock.
        for fault in self._faults:
            if fault.stage == stage and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault.reply
        return None


__all__ = ["ReceivedMail", "SmtpServer"]
