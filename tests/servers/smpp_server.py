"""A local SMSC that speaks SMPP 3.4: an asyncio TCP server on a thread and loop of its own
(like the aiohttp ones in tests.servers.threaded), so sync and async tests can share it.

What it does as an SMSC does: bind_transmitter / bind_receiver / bind_transceiver checked
against `system_id` and `password` (ESME_RINVSYSID, ESME_RINVPASWD), enquire_link, unbind,
submit_sm (every part recorded: destination, data_coding, UDH, decoded text; concatenated
parts reassembled into `messages`; a part over 160 septets or 140 octets refused with
ESME_RINVMSGLEN), and delivery receipts as deliver_sm on a bind that receives, by each
number's `Outcome` (delivered, undelivered with stat and err, late, twice, out of order, in
TLVs or text, none). Receipts and incoming SMS due while nothing is bound wait for a bind.

What a test does: `outcome(number, ...)`, `fail_next(status)`, `reject_number(number)`
(ESME_RINVDSTADR), `window` (submits beyond that many awaiting their resp are answered
ESME_RTHROTTLED), `respond_delay` (seconds before each submit_sm_resp), `drop_connection()`,
`send_receipt(message_id, stat)` (for any id, known or not), `send_incoming(phone, text)`,
`send_deliver_sm(body)` (raw, e.g. malformed); and it waits with `wait_for(n)`,
`wait_for_binds(n)`, `wait_for_resp(sequence)`.

Its PDU parsing is its own (struct), not aiosmpplib's, so that it checks the bytes the
gateway's library makes rather than agreeing with them; only the GSM 03.38 table is shared.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from aiosmpplib import GSM7BitCodec

HOST = "127.0.0.1"

T = TypeVar("T")

# Command ids and statuses (SMPP 3.4 §5.1.2, §5.1.3).
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58

BIND_MODES = {
    BIND_RECEIVER: "receiver",
    BIND_TRANSMITTER: "transmitter",
    BIND_TRANSCEIVER: "transceiver",
}
HEADER = struct.Struct("!IIII")

# TLV tags.
RECEIPTED_MESSAGE_ID = 0x001E
NETWORK_ERROR_CODE = 0x0423
MESSAGE_STATE = 0x0427
MESSAGE_PAYLOAD = 0x0424
# message_state values of the text form's stat (SMPP 3.4 §5.2.28).
MESSAGE_STATES = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}

ReceiptForm = Literal["text", "tlv", "both"]


@dataclass(frozen=True)
class Outcome:
    """What the SMSC reports for a number's messages: one receipt per part, `stat`/`err`,
    after `delay` seconds, `copies` times each, in `form` (the text short_message, the
    receipted_message_id / message_state / network_error_code TLVs with an empty
    short_message, or both). `out_of_order`: the parts' receipts last part first, and a
    late ENROUTE after the final ones. `send=False`: no receipt at all."""

    stat: str = "DELIVRD"
    err: str = "000"
    delay: float = 0.0
    copies: int = 1
    out_of_order: bool = False
    form: ReceiptForm = "text"
    send: bool = True


DELIVERED = Outcome()
NO_RECEIPT = Outcome(send=False)


def undelivered(stat: str = "UNDELIV", err: str = "001") -> Outcome:
    return Outcome(stat=stat, err=err)


@dataclass(frozen=True)
class Bind:
    mode: str  # receiver, transmitter, transceiver
    system_id: str
    status: int  # what the server answered


@dataclass(frozen=True)
class Part:
    """One submit_sm as received."""

    destination: str
    destination_ton: int
    source: str
    source_ton: int
    esm_class: int
    registered_delivery: int
    data_coding: int
    udh: bytes  # b"" without UDHI
    reference: int | None  # the concatenation reference (8- or 16-bit IE), if any
    total: int
    index: int
    octets: int  # length of short_message (UDH included)
    text: str
    message_id: str | None  # None when refused
    status: int


@dataclass
class Message:
    """A whole SMS: one part, or every part of a concatenated one, reassembled."""

    destination: str
    text: str
    data_coding: int
    parts: list[Part]

    @property
    def message_ids(self) -> list[str]:
        return [p.message_id for p in self.parts if p.message_id]


@dataclass
class _Fault:
    status: int
    times: int
    after: int  # submits to let through first


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    mode: str | None = None  # bound as
    outstanding: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def receives(self) -> bool:
        return self.mode in ("receiver", "transceiver")

    @property
    def transmits(self) -> bool:
        return self.mode in ("transmitter", "transceiver")


def decode(data: bytes, data_coding: int) -> str:
    if data_coding == 0x08:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == 0x00:
        return str(GSM7BitCodec().decode(data, "replace")[0])
    return data.decode("latin-1")


def encode(text: str) -> tuple[int, bytes]:
    """(data_coding, octets): GSM 03.38 when it can, else UCS-2."""
    if GSM7BitCodec.is_gsm_text(text):
        return 0x00, bytes(GSM7BitCodec().encode(text)[0])
    return 0x08, text.encode("utf-16-be")


def _cstring(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\x00", at)
    return body[at:end].decode("latin-1"), end + 1


def _septets(udh: bytes, text_octets: int) -> int:
    """GSM-7 length in septets: the UDH's octets padded to a septet boundary, then the text."""
    return -(-len(udh) * 8 // 7) + text_octets


class SmppServer:
    """An SMSC at `host`:`port` for one `system_id` / `password`."""

    def __init__(
        self,
        system_id: str = "school17",
        password: str = "secret1",
        *,
        window: int | None = None,
        host: str = HOST,
    ) -> None:
        self.host = host
        self.port = 0
        self.system_id = system_id
        self.password = password
        self.window = window  # submits awaiting their resp per bind, beyond which: throttled
        self.respond_delay = 0.0  # seconds before each submit_sm_resp
        self.default_outcome = DELIVERED
        self.source_addr = "School17"  # the receipts' and incoming SMS's destination
        # What it saw (read from any thread; hold `lock` to read consistently).
        self.lock = threading.Lock()
        self.binds: list[Bind] = []
        self.parts: list[Part] = []
        self.messages: list[Message] = []
        self.enquire_links = 0
        self.unbinds = 0
        self.max_outstanding = 0
        self.throttled = 0
        self.deliver_sm_resps: dict[int, int] = {}  # our deliver_sm sequence -> its status
        self.generic_nacks: list[int] = []  # statuses of generic_nack the client sent
        self._outcomes: dict[str, Outcome] = {}
        self._faults: list[_Fault] = []
        self._rejected: set[str] = set()
        self._counter = 0
        self._pending: dict[tuple[str, int, int], dict[int, Part]] = {}
        self._connections: list[_Connection] = []
        self._waiting: list[bytes] = []  # deliver_sm bodies for the next receiving bind
        self._sequence = 0
        self._tasks: set[asyncio.Task[None]] = set()  # receipts on their way
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(ready, failure), name="SmppServer", daemon=True
        )
        thread.start()
        if not ready.wait(10):
            raise TimeoutError("SmppServer did not start within 10s")
        if failure:
            thread.join(5)
            raise failure[0]
        self._thread = thread

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                pass
        thread.join(15)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(ready, failure))
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()
            loop.close()
            self._loop = None

    async def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            self._server = await asyncio.start_server(self._accept, self.host, 0)
            self.port = int(self._server.sockets[0].getsockname()[1])
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            return
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            self._server.close()
            tasks = set(self._tasks)
            for conn in list(self._connections):
                conn.writer.transport.abort()
                tasks |= conn.tasks
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop from a test's thread; its result."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("SmppServer is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    # -- programming ---------------------------------------------------------------------

    def outcome(self, number: str, outcome: Outcome) -> None:
        """Receipts for messages to `number` ("+7916..." or "7916...")."""
        with self.lock:
            self._outcomes[number.lstrip("+")] = outcome

    def fail_next(self, status: int, times: int = 1, *, after: int = 0) -> None:
        """The next `times` submit_sm (once `after` more have gone through) are answered
        `status`, before any other check."""
        with self.lock:
            self._faults.append(_Fault(status, times, after))

    def reject_number(self, number: str) -> None:
        """submit_sm to `number` is answered ESME_RINVDSTADR."""
        with self.lock:
            self._rejected.add(number.lstrip("+"))

    def drop_connection(self) -> int:
        """Close every client connection at once, no unbind (as a network failure does);
        how many were closed."""
        return self._on_loop(self._drop())

    async def _drop(self) -> int:
        dropped = list(self._connections)
        for conn in dropped:
            conn.writer.transport.abort()
        return len(dropped)

    def send_receipt(
        self,
        message_id: str,
        stat: str = "DELIVRD",
        err: str = "000",
        *,
        form: ReceiptForm = "text",
        destination: str = "79000000000",
    ) -> int | None:
        """A delivery receipt for `message_id` (known or not), now; its deliver_sm sequence
        number (None if nothing receives: it then waits for a bind)."""
        return self.send_deliver_sm(receipt_body(message_id, stat, err, form, destination))

    def send_incoming(self, phone: str, text: str, *, parts: int = 1) -> list[int | None]:
        """An SMS from `phone` to us: GSM-7 or UCS-2 by its text, in `parts` concatenated
        parts (UDH, 8-bit reference) when more than one; the deliver_sm sequence numbers."""
        data_coding, data = encode(text)
        unit = 2 if data_coding == 0x08 else 1
        if parts == 1:
            return [
                self.send_deliver_sm(_incoming_body(phone, self.source_addr, data_coding, data))
            ]
        count = len(data) // unit
        size = -(-count // parts)
        chunks = [data[i * size * unit : (i + 1) * size * unit] for i in range(parts)]
        out = []
        for index, chunk in enumerate(chunks, start=1):
            udh = bytes((0x05, 0x00, 0x03, 0x42, parts, index))
            body = _incoming_body(phone, self.source_addr, data_coding, udh + chunk, esm=0x40)
            out.append(self.send_deliver_sm(body))
        return out

    def send_deliver_sm(self, body: bytes) -> int | None:
        """A deliver_sm with this body (any bytes, a malformed one too) on a receiving bind;
        its sequence number, or None if nothing receives (it then waits for a bind)."""
        return self._on_loop(self._deliver(body))

    # -- inspecting ----------------------------------------------------------------------

    def clear(self) -> None:
        with self.lock:
            self.parts.clear()
            self.messages.clear()
            self.binds.clear()
            self.deliver_sm_resps.clear()
            self.max_outstanding = self.throttled = self.enquire_links = 0

    def messages_to(self, number: str) -> list[Message]:
        wanted = number.lstrip("+")
        with self.lock:
            return [m for m in self.messages if m.destination == wanted]

    async def wait_for(self, n: int, timeout: float = 10) -> list[Message]:  # noqa: ASYNC109
        """Wait until at least `n` whole messages were accepted; all of them."""
        await self._until(lambda: len(self.messages) >= n, timeout, f"{n} messages")
        with self.lock:
            return list(self.messages)

    async def wait_for_binds(self, n: int, timeout: float = 10) -> list[Bind]:  # noqa: ASYNC109
        """Wait until `n` binds were accepted."""
        await self._until(
            lambda: sum(b.status == ESME_ROK for b in self.binds) >= n, timeout, f"{n} binds"
        )
        with self.lock:
            return list(self.binds)

    async def wait_for_resp(self, sequence: int, timeout: float = 10) -> int:  # noqa: ASYNC109
        """Wait for the client's deliver_sm_resp to our deliver_sm `sequence`; its status."""
        await self._until(
            lambda: sequence in self.deliver_sm_resps, timeout, f"deliver_sm_resp {sequence}"
        )
        with self.lock:
            return self.deliver_sm_resps[sequence]

    async def _until(self, done: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if done():
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {what} within {timeout}s")
            await asyncio.sleep(0.01)

    # -- the protocol --------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(reader, writer)
        self._connections.append(conn)
        try:
            while True:
                head = await reader.readexactly(HEADER.size)
                length, command_id, status, sequence = HEADER.unpack(head)
                if length < HEADER.size or length > 70_000:
                    break
                body = await reader.readexactly(length - HEADER.size)
                if not await self._handle(conn, command_id, status, sequence, body):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._connections.remove(conn)
            conn.mode = None
            writer.transport.abort()

    async def _send(
        self, conn: _Connection, command_id: int, status: int, seq: int, body: bytes
    ) -> None:
        conn.writer.write(HEADER.pack(HEADER.size + len(body), command_id, status, seq) + body)
        try:
            await conn.writer.drain()
        except (ConnectionError, OSError):
            pass

    async def _handle(
        self, conn: _Connection, command_id: int, status: int, sequence: int, body: bytes
    ) -> bool:
        """Answer one PDU; False to close the connection."""
        if command_id in BIND_MODES:
            await self._bind(conn, command_id, sequence, body)
        elif command_id == ENQUIRE_LINK:
            with self.lock:
                self.enquire_links += 1
            await self._send(conn, ENQUIRE_LINK_RESP, ESME_ROK, sequence, b"")
        elif command_id == UNBIND:
            with self.lock:
                self.unbinds += 1
            await self._send(conn, UNBIND_RESP, ESME_ROK, sequence, b"")
            return False
        elif command_id == DELIVER_SM_RESP:
            with self.lock:
                self.deliver_sm_resps[sequence] = status
        elif command_id == GENERIC_NACK:
            with self.lock:
                self.generic_nacks.append(status)
        elif command_id & 0x80000000:
            pass  # a response to nothing we sent
        elif conn.mode is None:
            await self._send(conn, GENERIC_NACK, ESME_RINVBNDSTS, sequence, b"")
        elif command_id == SUBMIT_SM:
            task = asyncio.create_task(self._submit(conn, sequence, body))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)
        else:
            await self._send(conn, GENERIC_NACK, ESME_RINVCMDID, sequence, b"")
        return True

    async def _bind(self, conn: _Connection, command_id: int, sequence: int, body: bytes) -> None:
        mode = BIND_MODES[command_id]
        try:
            system_id, at = _cstring(body, 0)
            password, at = _cstring(body, at)
        except ValueError:
            system_id, password = "", ""
        if conn.mode is not None:
            status = ESME_RALYBND
        elif system_id != self.system_id:
            status = ESME_RINVSYSID
        elif password != self.password:
            status = ESME_RINVPASWD
        else:
            status = ESME_ROK
        with self.lock:
            self.binds.append(Bind(mode, system_id, status))
        await self._send(conn, command_id | 0x80000000, status, sequence, b"TestSMSC\x00")
        if status == ESME_ROK:
            conn.mode = mode
            if conn.receives:
                waiting, self._waiting = self._waiting, []
                for pdu_body in waiting:
                    await self._deliver(pdu_body)

    async def _submit(self, conn: _Connection, sequence: int, body: bytes) -> None:
        conn.outstanding += 1
        try:
            with self.lock:
                self.max_outstanding = max(self.max_outstanding, conn.outstanding)
            part = self._check(conn, body)
            if self.respond_delay:
                await asyncio.sleep(self.respond_delay)
        finally:
            # Before the resp goes: the client may send its next submit as soon as it reads it.
            conn.outstanding -= 1
        reply = (part.message_id or "").encode() + b"\x00"
        await self._send(conn, SUBMIT_SM_RESP, part.status, sequence, reply)
        if part.status == ESME_ROK:
            self._assemble(part)

    def _check(self, conn: _Connection, body: bytes) -> Part:
        """Parse a submit_sm and decide its status (and message id when accepted)."""
        try:
            part = _parse_submit_sm(body)
        except (ValueError, IndexError, struct.error):
            return _refused(ESME_RINVMSGLEN)
        with self.lock:
            status = ESME_ROK
            fault = next((f for f in self._faults if f.times > 0), None)
            if fault is not None and fault.after > 0:
                fault.after -= 1
                fault = None
            if fault is not None:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                status = fault.status
            elif not conn.transmits:
                status = ESME_RINVBNDSTS
            elif self.window is not None and conn.outstanding > self.window:
                status = ESME_RTHROTTLED
                self.throttled += 1
            elif part.destination in self._rejected:
                status = ESME_RINVDSTADR
            elif part.data_coding == 0x08 and part.octets > 140:
                status = ESME_RINVMSGLEN
            elif part.data_coding == 0x00 and _septets(part.udh, part.octets - len(part.udh)) > 160:
                status = ESME_RINVMSGLEN
            message_id = None
            if status == ESME_ROK:
                self._counter += 1
                message_id = f"{0x5A000000 + self._counter:x}"
            part = replace(part, status=status, message_id=message_id)
            self.parts.append(part)
        return part

    def _assemble(self, part: Part) -> None:
        with self.lock:
            if part.reference is None:
                message = Message(part.destination, part.text, part.data_coding, [part])
            else:
                key = (part.destination, part.reference, part.total)
                pending = self._pending.setdefault(key, {})
                pending[part.index] = part
                if len(pending) < part.total:
                    return
                del self._pending[key]
                parts = [pending[i] for i in sorted(pending)]
                text = "".join(p.text for p in parts)
                message = Message(part.destination, text, part.data_coding, parts)
            self.messages.append(message)
            outcome = self._outcomes.get(part.destination, self.default_outcome)
        if outcome.send and part.registered_delivery & 0x01:
            task = asyncio.get_running_loop().create_task(self._receipts(message, outcome))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _receipts(self, message: Message, outcome: Outcome) -> None:
        if outcome.delay:
            await asyncio.sleep(outcome.delay)
        ids = message.message_ids
        if outcome.out_of_order:
            ids = ids[::-1]
        for message_id in ids:
            for _ in range(outcome.copies):
                await self._deliver(
                    self._receipt(
                        message_id, outcome.stat, outcome.err, outcome.form, message.destination
                    )
                )
        if outcome.out_of_order:
            for message_id in ids:
                await self._deliver(
                    self._receipt(message_id, "ENROUTE", "000", outcome.form, message.destination)
                )

    def _receipt(
        self, message_id: str, stat: str, err: str, form: ReceiptForm, destination: str
    ) -> bytes:
        return receipt_body(message_id, stat, err, form, destination, self.source_addr)

    async def _deliver(self, body: bytes) -> int | None:
        conn = next((c for c in self._connections if c.receives), None)
        if conn is None:
            self._waiting.append(body)
            return None
        self._sequence += 1
        sequence = self._sequence
        await self._send(conn, DELIVER_SM, ESME_ROK, sequence, body)
        return sequence


def _refused(status: int) -> Part:
    return Part("", 0, "", 0, 0, 0, 0, b"", None, 1, 1, 0, "", None, status)


def _parse_submit_sm(body: bytes) -> Part:
    _service_type, at = _cstring(body, 0)
    source_ton, _source_npi = body[at], body[at + 1]
    source, at = _cstring(body, at + 2)
    destination_ton, _destination_npi = body[at], body[at + 1]
    destination, at = _cstring(body, at + 2)
    esm_class, _protocol_id, _priority = body[at], body[at + 1], body[at + 2]
    _schedule, at = _cstring(body, at + 3)
    _validity, at = _cstring(body, at)
    registered_delivery, _replace, data_coding, _default_id, length = body[at : at + 5]
    at += 5
    short_message = body[at : at + length]
    if len(short_message) != length:
        raise ValueError("short_message cut short")
    at += length
    while at < len(body):  # message_payload carries the text when short_message is empty
        tag, size = struct.unpack_from("!HH", body, at)
        if tag == MESSAGE_PAYLOAD and not short_message:
            short_message = body[at + 4 : at + 4 + size]
        at += 4 + size
    udh, reference, total, index = b"", None, 1, 1
    data = short_message
    if esm_class & 0x40:
        udh, data = short_message[: short_message[0] + 1], short_message[short_message[0] + 1 :]
        at = 1
        while at + 2 <= len(udh):
            ie, size = udh[at], udh[at + 1]
            value = udh[at + 2 : at + 2 + size]
            if ie == 0x00 and size == 3:
                reference, total, index = value[0], value[1], value[2]
            elif ie == 0x08 and size == 4:
                reference, total, index = int.from_bytes(value[:2], "big"), value[2], value[3]
            at += 2 + size
    return Part(
        destination=destination,
        destination_ton=destination_ton,
        source=source,
        source_ton=source_ton,
        esm_class=esm_class,
        registered_delivery=registered_delivery,
        data_coding=data_coding,
        udh=udh,
        reference=reference,
        total=total,
        index=index,
        octets=len(short_message),
        text=decode(data, data_coding),
        message_id=None,
        status=ESME_ROK,
    )


def _address(number: str) -> tuple[int, bytes]:
    """(TON, address) as an SMSC writes a number or a sender name."""
    digits = number.lstrip("+")
    return (1 if digits.isdigit() else 5), digits.encode("latin-1") + b"\x00"


def deliver_sm_body(
    source: str, destination: str, esm_class: int, data_coding: int, message: bytes, tlvs: bytes
) -> bytes:
    source_ton, source_addr = _address(source)
    destination_ton, destination_addr = _address(destination)
    return (
        b"\x00"  # service_type
        + bytes((source_ton, 1))
        + source_addr
        + bytes((destination_ton, 1 if destination_ton == 1 else 0))
        + destination_addr
        + bytes((esm_class, 0, 0))
        + b"\x00\x00"  # schedule_delivery_time, validity_period
        + bytes((0, 0, data_coding, 0, len(message)))
        + message
        + tlvs
    )


def receipt_body(
    message_id: str,
    stat: str,
    err: str,
    form: ReceiptForm,
    phone: str,
    source_addr: str = "School17",
) -> bytes:
    """A delivery receipt as SMSCs write them: the text of SMPP 3.4 Appendix B and/or the
    receipted_message_id, message_state and network_error_code TLVs."""
    now = datetime.now(UTC).strftime("%y%m%d%H%M")
    delivered = "001" if stat == "DELIVRD" else "000"
    text = (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{now} done date:{now} "
        f"stat:{stat} err:{err} text:"
    ).encode("latin-1")
    tlvs = b""
    if form in ("tlv", "both"):
        rid = message_id.encode("latin-1") + b"\x00"
        tlvs += struct.pack("!HH", RECEIPTED_MESSAGE_ID, len(rid)) + rid
        tlvs += struct.pack("!HHB", MESSAGE_STATE, 1, MESSAGE_STATES.get(stat, 7))
        code = int(err) if err.isdigit() else 0
        tlvs += struct.pack("!HHBH", NETWORK_ERROR_CODE, 3, 3, code)
    message = b"" if form == "tlv" else text
    return deliver_sm_body(phone, source_addr, 0x04, 0x00, message, tlvs)


def _incoming_body(phone: str, to: str, data_coding: int, data: bytes, esm: int = 0) -> bytes:
    return deliver_sm_body(phone, to, esm, data_coding, data, b"")


__all__ = [
    "DELIVERED",
    "ESME_RINVDSTADR",
    "ESME_RINVPASWD",
    "ESME_RMSGQFUL",
    "ESME_RSYSERR",
    "ESME_RTHROTTLED",
    "NO_RECEIPT",
    "Bind",
    "Message",
    "Outcome",
    "Part",
    "SmppServer",
    "deliver_sm_body",
    "receipt_body",
    "undelivered",
]
