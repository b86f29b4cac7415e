"""SMS over SMPP 3.4, for an operator's or aggregator's SMSC (NOTIFIER_SMS_PROVIDER=smpp).

One transceiver bind per process, opened on the first submit (or by `start()`), kept with
enquire_link and bound again, with backoff, when lost. An SMS goes as one submit_sm per part:
GSM-7 when every character is in GSM 03.38, else UCS-2; the parts of a long text carry a UDH
concatenation header. At most `smpp_window` submit_sm await their submit_sm_resp at once.
Delivery receipts and incoming SMS arrive on the same bind as deliver_sm.

aiosmpplib builds the PDUs we send (bind, submit_sm, enquire_link, the responses) and holds the
GSM 03.38 and UCS-2 codecs. Its ESME is not used: it queues submits through a broker and
reports their responses to a hook, so a caller cannot await the resp of its own submit; for a
long text it reports one part's resp and the first part's message_id is lost; it keeps no
window of outstanding submits; it retries a refused bind forever without telling the caller
why; it splits GSM-7 text by characters (an extension character takes two septets, so a part
can overflow); and it logs whole PDUs in hex, number and text included. Nor are its parsers
used for what the SMSC sends: a receipt carried only in TLVs (an empty short_message), an
unknown data_coding or a vendor's command_status raise ValueError, a 16-bit concatenation
reference is read as 4 bytes, and a truncated PDU raises struct.error. So the session below is
ours, and reads incoming PDUs with a small parser that never raises past the PDU.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from aiosmpplib import (
    NPI,
    TON,
    BindTransceiver,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    GSM7BitCodec,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SubmitSm,
    Unbind,
    UnbindResp,
)

from notifier.channels.sms_provider import Receipt, ReceiptSink, ReceiptState, Submitted
from notifier.channels.sms_text import SmsEncoding, measure
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

log = logging.getLogger(__name__)

# Where an incoming SMS (a reply such as "STOP") goes: (the sender's number, the text).
IncomingSink = Callable[[str, str], Awaitable[None]]

S = SmppCommandStatus
HEADER = struct.Struct("!IIII")  # command_length, command_id, command_status, sequence_number
MAX_PDU = 70_000  # a message_payload TLV may hold 64 KiB; anything longer is a broken stream
ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_RECEIPT = 0x04  # SMSC delivery receipt
ESM_INTERMEDIATE = 0x20  # intermediate delivery notification (ENROUTE and the like)
DATA_CODING = {SmsEncoding.gsm7: "gsm0338", SmsEncoding.ucs2: "ucs2"}
# Octets a text may take: alone, 160 septets (SMPP carries GSM-7 unpacked, an octet each) or
# 140 octets; as a part of a long one, less the UDH's 6 octets (7 septets with the fill bits).
SINGLE = {SmsEncoding.gsm7: 160, SmsEncoding.ucs2: 140}
PER_PART = {SmsEncoding.gsm7: 153, SmsEncoding.ucs2: 134}
GSM_ESCAPE = 0x1B

# TLV tags (SMPP 3.4 §5.3.2).
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_NETWORK_ERROR_CODE = 0x0423
TAG_MESSAGE_PAYLOAD = 0x0424
TAG_MESSAGE_STATE = 0x0427
TAG_SAR_MSG_REF_NUM = 0x020C
TAG_SAR_TOTAL_SEGMENTS = 0x020E
TAG_SAR_SEGMENT_SEQNUM = 0x020F

# Receipt states: the text form's `stat:` and the message_state TLV, named as the text does.
STAT_STATE = {
    "DELIVRD": ReceiptState.delivered,
    "UNDELIV": ReceiptState.undelivered,
    "EXPIRED": ReceiptState.undelivered,
    "REJECTD": ReceiptState.undelivered,
    "DELETED": ReceiptState.undelivered,
    "UNKNOWN": ReceiptState.undelivered,
    "ENROUTE": ReceiptState.pending,
    "ACCEPTD": ReceiptState.pending,
}
# Some SMSCs spell the states out.
STAT_ALIASES = {
    "DELIVERED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "REJECTED": "REJECTD",
    "ACCEPTED": "ACCEPTD",
}
MESSAGE_STATE_STAT = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

# submit_sm_resp statuses: the number is dead / try again later / our settings are wrong;
# any other known status is this message's (permanent), an unknown one (vendor's) transient.
UNUSABLE = frozenset({S.ESME_RINVDSTADR, S.ESME_RINVDSTTON, S.ESME_RINVDSTNPI})
TRANSIENT = frozenset(
    {
        S.ESME_RTHROTTLED,
        S.ESME_RMSGQFUL,
        S.ESME_RSYSERR,
        S.ESME_RINVBNDSTS,
        S.ESME_RSUBMITFAIL,
        S.ESME_RX_T_APPN,
        S.ESME_RUNKNOWNERR,
    }
)
SOURCE_ADDR = frozenset({S.ESME_RINVSRCADR, S.ESME_RINVSRCTON, S.ESME_RINVSRCNPI})
# A refused bind: which setting to check.
BIND_HINT = {
    S.ESME_RINVPASWD: "NOTIFIER_SMPP_PASSWORD",
    S.ESME_RINVSYSID: "NOTIFIER_SMPP_SYSTEM_ID",
}
BIND_HINT_OTHER = "NOTIFIER_SMPP_SYSTEM_ID and NOTIFIER_SMPP_PASSWORD"

# Later parts' message ids → the first part's, for their receipts. Receipts come within the
# message's validity at the SMSC (a day or two as operators set it); three days cover that.
PART_IDS_TTL_SECONDS = 3 * 24 * 3600.0
PART_IDS_LIMIT = 100_000
# Parts of an incoming concatenated SMS wait this long for the rest.
INCOMING_PARTS_TTL_SECONDS = 3600.0
INCOMING_PARTS_LIMIT = 1000


def status_name(status: int) -> str:
    try:
        return str(S(status).name)
    except ValueError:
        return f"0x{status:08X}"  # a vendor's own code


# -- Errors of one session (never leave this module) ------------------------------------------


class _NotSent(Exception):
    """The session closed before the request was written: sending it again is safe."""


class _Lost(Exception):
    """The session closed after the request was written, before its response."""


class _NoAnswer(Exception):
    """No response within the timeout."""


def _close_late(connect: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    if not connect.cancelled() and connect.exception() is None:
        connect.result()[1].close()


class _BindRefused(Exception):
    def __init__(self, detail: str, status: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


# -- Parts of an outgoing SMS -------------------------------------------------------------------


@dataclass(frozen=True)
class Parts:
    """A text as submit_sm carries it: its coding and the encoded text of each part."""

    encoding: SmsEncoding
    chunks: list[bytes]


def split(text: str) -> Parts:
    """GSM-7 (one octet per septet, as SMPP carries it unpacked) if every character is in
    GSM 03.38, else UCS-2; one part if it fits 160 septets / 70 characters, else parts of at
    most 153 septets / 67 UTF-16 units that never split an escape pair or a surrogate pair."""
    encoding = measure(text).encoding
    if encoding is SmsEncoding.gsm7:
        try:
            data = bytes(GSM7BitCodec().encode(text)[0])
        except UnicodeEncodeError:  # sms_text and the codec disagree: UCS-2 carries anything
            encoding = SmsEncoding.ucs2
    if encoding is SmsEncoding.ucs2:
        data = text.encode("utf-16-be")
    if len(data) <= SINGLE[encoding]:
        return Parts(encoding, [data])
    size, chunks, start = PER_PART[encoding], [], 0
    while start < len(data):
        end = min(start + size, len(data))
        if end < len(data):
            if encoding is SmsEncoding.gsm7 and data[end - 1] == GSM_ESCAPE:
                end -= 1
            elif encoding is SmsEncoding.ucs2 and 0xD8 <= data[end - 2] <= 0xDB:
                end -= 2
        chunks.append(data[start:end])
        start = end
    return Parts(encoding, chunks)


def udh(ref: int, total: int, index: int) -> bytes:
    """The concatenation header (IE 0x00, 8-bit reference) of part `index` (from 1)."""
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, index))


def _address(value: str) -> PhoneNumber:
    """Our sender (NOTIFIER_SMPP_SOURCE_ADDR) with the TON/NPI an SMSC expects for its kind;
    none: the SMSC puts the account's own."""
    if not value:
        return PhoneNumber("", TON.UNKNOWN, NPI.UNKNOWN)
    if value.startswith("+") or (value.isdigit() and len(value) >= 10):
        return PhoneNumber(value.lstrip("+"), TON.INTERNATIONAL, NPI.ISDN)
    if value.isdigit():
        return PhoneNumber(value, TON.UNKNOWN, NPI.ISDN)  # a short code
    return PhoneNumber(value, TON.ALPHANUMERIC, NPI.UNKNOWN)


def _destination(phone: str) -> PhoneNumber:
    digits = phone.strip().removeprefix("+")
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise PermanentDelivery(
            "smpp: the phone number is not an international number (+ and 7 to 15 digits)",
            unusable=True,
        )
    return PhoneNumber(digits, TON.INTERNATIONAL, NPI.ISDN)


# -- What the SMSC sends: deliver_sm ------------------------------------------------------------


class Malformed(ValueError):
    """A PDU body we cannot read."""


@dataclass(frozen=True)
class DeliverSmFields:
    """The fields of a deliver_sm that receipts and incoming SMS need."""

    source_ton: int
    source_addr: str
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]

    @property
    def message(self) -> bytes:
        """The user data: short_message, or the message_payload TLV when that carries it."""
        return self.short_message or self.tlvs.get(TAG_MESSAGE_PAYLOAD, b"")


def parse_deliver_sm(body: bytes) -> DeliverSmFields:
    """Read a deliver_sm body; raise Malformed (never anything else) if it does not parse."""
    at = 0

    def cstring() -> bytes:
        nonlocal at
        end = body.find(b"\x00", at)
        if end < 0:
            raise Malformed("a C-string without its NUL")
        value, at = body[at:end], end + 1
        return value

    def octet() -> int:
        nonlocal at
        if at >= len(body):
            raise Malformed("cut short")
        at += 1
        return body[at - 1]

    cstring()  # service_type
    source_ton = octet()
    octet()  # source_addr_npi
    source_addr = cstring().decode("latin-1")
    octet(), octet()  # dest_addr_ton, dest_addr_npi
    cstring()  # destination_addr
    esm_class = octet()
    octet(), octet()  # protocol_id, priority_flag
    cstring(), cstring()  # schedule_delivery_time, validity_period
    octet(), octet()  # registered_delivery, replace_if_present_flag
    data_coding = octet()
    octet()  # sm_default_msg_id
    length = octet()
    if at + length > len(body):
        raise Malformed("short_message longer than the PDU")
    short_message, at = body[at : at + length], at + length
    tlvs: dict[int, bytes] = {}
    while at < len(body):
        if at + 4 > len(body):
            raise Malformed("a TLV cut short")
        tag, size = struct.unpack_from("!HH", body, at)
        at += 4
        if at + size > len(body):
            raise Malformed("a TLV longer than the PDU")
        tlvs[tag], at = body[at : at + size], at + size
    return DeliverSmFields(source_ton, source_addr, esm_class, data_coding, short_message, tlvs)


def decode_text(data: bytes, data_coding: int) -> str:
    """An SMS's text by its data_coding; what does not decode becomes U+FFFD or "?"."""
    if data_coding == 0x08:
        return data.decode("utf-16-be", errors="replace")
    if data_coding in (0x00, 0x10) or (data_coding & 0xF0 == 0xF0 and not data_coding & 0x04):
        return str(GSM7BitCodec().decode(data, "replace")[0])
    if data_coding == 0x06:
        return data.decode("iso8859_5", errors="replace")
    if data_coding == 0x01:
        return data.decode("ascii", errors="replace")
    return data.decode("latin-1")  # 0x03 and the 8-bit codings


RECEIPT_FIELD = re.compile(r"(?i)\b(id|stat|err):(\S*)")


def parse_receipt(pdu: DeliverSmFields) -> tuple[str, str | None, str | None] | None:
    """(message id, stat, err) of a delivery receipt, or None when it names no message.

    The TLVs win over the text (receipted_message_id, message_state, network_error_code);
    the text's `text:` field quotes the message and is never read."""
    fields: dict[str, str] = {}
    raw = pdu.message
    text = raw.decode("utf-16-be", "replace") if pdu.data_coding == 0x08 else raw.decode("latin-1")
    head = re.split(r"(?i)\btext:", text, maxsplit=1)[0]
    for name, value in RECEIPT_FIELD.findall(head):
        fields.setdefault(name.lower(), value)
    message_id = fields.get("id")
    if TAG_RECEIPTED_MESSAGE_ID in pdu.tlvs:
        tlv_id = pdu.tlvs[TAG_RECEIPTED_MESSAGE_ID].split(b"\x00", 1)[0].decode("latin-1").strip()
        message_id = tlv_id or message_id
    if not message_id:
        return None
    stat = fields.get("stat", "").upper() or None
    state_tlv = pdu.tlvs.get(TAG_MESSAGE_STATE)
    if state_tlv and len(state_tlv) == 1:
        stat = MESSAGE_STATE_STAT.get(state_tlv[0], f"STATE{state_tlv[0]}")
    err = fields.get("err") or None
    network = pdu.tlvs.get(TAG_NETWORK_ERROR_CODE)
    if err is None and network and len(network) == 3:
        err = f"{int.from_bytes(network[1:], 'big'):03d}"  # the code, not its network type
    return message_id, stat, err


def receipt_state(stat: str | None) -> ReceiptState:
    """An unknown or missing state is not final: nothing changes until a known one comes."""
    if stat is None:
        return ReceiptState.pending
    return STAT_STATE.get(STAT_ALIASES.get(stat, stat), ReceiptState.pending)


# -- Bounded maps with a time to live -----------------------------------------------------------


class _Expiring:
    """Oldest-first map with one TTL and a size bound (insertion order is expiry order)."""

    def __init__(self, ttl: float, limit: int, clock: Callable[[], float]) -> None:
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._items: OrderedDict[object, tuple[float, object]] = OrderedDict()

    def put(self, key: object, value: object) -> None:
        self._purge()
        self._items.pop(key, None)
        self._items[key] = (self.clock() + self.ttl, value)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, key: object) -> object | None:
        self._purge()
        item = self._items.get(key)
        return None if item is None else item[1]

    def pop(self, key: object) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)

    def _purge(self) -> None:
        now = self.clock()
        while self._items:
            key, (expires, _) = next(iter(self._items.items()))
            if expires > now:
                break
            del self._items[key]


class PartIds:
    """Later parts' message ids → their message's first-part id, so that a receipt for any
    part names the message as `Submitted.provider_id` did. In memory only: after a restart,
    receipts of later parts sent before it keep their own id, which names no message."""

    def __init__(
        self,
        ttl: float = PART_IDS_TTL_SECONDS,
        limit: int = PART_IDS_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._map = _Expiring(ttl, limit, clock)

    def add(self, first: str, later: list[str]) -> None:
        for part_id in later:
            self._map.put(part_id, first)

    def first(self, part_id: str) -> str:
        """The first part's id for `part_id`; itself when it is a first part or unknown."""
        found = self._map.get(part_id)
        return found if isinstance(found, str) else part_id

    def __len__(self) -> int:
        return len(self._map)


# -- One TCP connection and its bind -----------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    command_id: int
    status: int
    body: bytes


OnRequest = Callable[["_Session", int, int, bytes], Awaitable[None]]


class _Session:
    """A connection to the SMSC: writes PDUs, reads them, matches responses to requests by
    sequence number and hands the SMSC's requests (deliver_sm, enquire_link, unbind) on."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_request: OnRequest
    ) -> None:
        self._reader, self._writer = reader, writer
        self._on_request = on_request
        self._sequence = itertools.count(1)
        self._pending: dict[int, asyncio.Future[_Response]] = {}
        self._on_response: dict[int, Callable[[_Response], None]] = {}
        self._write_lock = asyncio.Lock()
        self.closed = asyncio.Event()
        self.reason = ""
        self.started = time.monotonic()
        self._reader_task = asyncio.create_task(self._read(), name="smpp-reader")

    def _next_sequence(self) -> int:
        sequence = next(self._sequence)
        if sequence > 0x7FFFFFFF:
            self._sequence = itertools.count(2)
            sequence = 1
        return sequence

    async def request(
        self,
        build: Callable[[int], bytes],
        wait: float,
        on_response: Callable[[_Response], None] | None = None,
    ) -> _Response:
        """Send the PDU `build(sequence)` makes; its response within `wait` seconds.

        `on_response` runs as the response is read, before any PDU after it: what it records
        is there for a deliver_sm that follows at once."""
        if self.closed.is_set():
            raise _NotSent(self.reason)
        sequence = self._next_sequence()
        future: asyncio.Future[_Response] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        if on_response is not None:
            self._on_response[sequence] = on_response
        try:
            try:
                await self.write(build(sequence))
            except (OSError, RuntimeError) as exc:
                self.close(f"write failed: {type(exc).__name__}")
                raise _NotSent(self.reason) from None
            try:
                return await asyncio.wait_for(future, wait)
            except TimeoutError:
                raise _NoAnswer from None
        finally:
            self._pending.pop(sequence, None)
            self._on_response.pop(sequence, None)
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: asyncio would log one left unread

    async def write(self, pdu: bytes) -> None:
        if self.closed.is_set():
            raise ConnectionResetError(self.reason)
        async with self._write_lock:
            self._writer.write(pdu)
            await self._writer.drain()

    async def respond(self, pdu: bytes) -> None:
        """Answer a request of the SMSC; a closed session drops the answer (the SMSC sends
        the request again on the next bind)."""
        with contextlib.suppress(OSError, RuntimeError):
            await self.write(pdu)

    def close(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.reason = reason
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(_Lost(reason))
        self._writer.close()
        if asyncio.current_task() is not self._reader_task:
            self._reader_task.cancel()

    async def aclose(self) -> None:
        self.close(self.reason or "closed")
        with contextlib.suppress(asyncio.CancelledError, OSError, RuntimeError):
            await self._reader_task
        with contextlib.suppress(OSError, RuntimeError):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    async def _read(self) -> None:
        try:
            while True:
                head = await self._reader.readexactly(HEADER.size)
                length, command_id, status, sequence = HEADER.unpack(head)
                if not HEADER.size <= length <= MAX_PDU:
                    self.close(f"bad command_length {length}")
                    return
                body = await self._reader.readexactly(length - HEADER.size)
                if command_id & 0x80000000:
                    future = self._pending.get(sequence)
                    if future is not None and not future.done():
                        response = _Response(command_id, status, body)
                        hook = self._on_response.pop(sequence, None)
                        if hook is not None:
                            hook(response)
                        future.set_result(response)
                    continue
                try:
                    await self._on_request(self, command_id, sequence, body)
                except Exception as exc:  # one bad request must not end the session
                    log.warning(
                        "smpp.request_failed",
                        extra={"command_id": f"0x{command_id:08X}", "error": type(exc).__name__},
                    )
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self.close(f"connection lost: {type(exc).__name__}")


# -- The gateway --------------------------------------------------------------------------------


class Phase(StrEnum):
    idle = "idle"
    connecting = "connecting"
    bound = "bound"
    backoff = "backoff"  # the last attempt failed; the next waits
    closed = "closed"


class SmppGateway:
    """An SmsGateway over one SMPP transceiver bind (see the module's docstring).

    `receipts` gets every delivery receipt, its `provider_id` the first part's message_id as
    `submit` returned it; duplicates and out-of-order receipts are passed on as they come.
    `incoming` (optional) gets each incoming SMS as (number, text)."""

    name = "smpp"

    def __init__(
        self,
        settings: Settings,
        *,
        receipts: ReceiptSink,
        incoming: IncomingSink | None = None,
        enquire_link_seconds: float = 30.0,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
    ) -> None:
        if not (settings.smpp_host and settings.smpp_system_id and settings.smpp_password):
            raise ValueError("SmppGateway needs NOTIFIER_SMPP_HOST, _SYSTEM_ID and _PASSWORD")
        self.settings = settings
        self.receipts = receipts
        self.incoming = incoming
        self.enquire_link_seconds = enquire_link_seconds
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.timeout = settings.sms_timeout
        self.part_ids = PartIds()
        try:
            self._source = _address(settings.smpp_source_addr or "")
        except ValueError:
            raise ValueError(
                "NOTIFIER_SMPP_SOURCE_ADDR: at most 20 characters (a sender name: at most 11)"
            ) from None
        self._window = asyncio.Semaphore(settings.smpp_window)
        self._reference = random.randrange(256)  # noqa: S311 - a concatenation reference
        self._phase = Phase.idle
        self._changed = asyncio.Condition()
        self._session: _Session | None = None
        self._last_error: str | None = None
        self._refusal_logged: str | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._incoming_parts = _Expiring(
            INCOMING_PARTS_TTL_SECONDS, INCOMING_PARTS_LIMIT, time.monotonic
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind now rather than on the first submit; raise TransientDelivery if that fails
        (the gateway keeps trying in the background)."""
        await self._bound_session()

    @property
    def bound(self) -> bool:
        return self._phase is Phase.bound

    async def close(self) -> None:
        """Unbind and close; receipts unanswered by then come again on the next bind."""
        self._phase = Phase.closed
        supervisor, self._supervisor = self._supervisor, None
        session = self._session
        if session is not None and not session.closed.is_set():
            with contextlib.suppress(_NotSent, _Lost, _NoAnswer):
                await session.request(lambda seq: bytes(Unbind(sequence_num=seq).pdu()), 1.0)
            session.close("closed by us")
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if session is not None:
            await session.aclose()
        await self._notify()

    # -- submitting --------------------------------------------------------------------------

    async def submit(self, phone: str, text: str, *, segments: int, ref: str) -> Submitted:
        """Submit `text` to `phone` (E.164) as one submit_sm per part; the first part's
        message_id names the message (receipts of every part come back under it).

        `segments` is the caller's count (sms_text.measure); the parts actually sent are
        counted again here and returned. `ref` is not sent: it is the caller's id."""
        destination = _destination(phone)
        parts = split(text)
        total = len(parts.chunks)
        reference = self._next_reference() if total > 1 else 0
        first: str | None = None
        for index, chunk in enumerate(parts.chunks, start=1):
            payload = udh(reference, total, index) + chunk if total > 1 else chunk
            message_id = await self._submit_part(
                destination, parts.encoding, payload, index=index, total=total, first=first
            )
            first = first or message_id
        return Submitted(provider_id=first, segments=total)

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) % 256
        return self._reference

    def _submit_sm(
        self, destination: PhoneNumber, encoding: SmsEncoding, payload: bytes, concatenated: bool
    ) -> Callable[[int], bytes]:
        def build(sequence: int) -> bytes:
            message = SubmitSm(
                sequence_num=sequence,
                short_message="-",  # the PDU carries `payload`, encoded already
                source=self._source,
                destination=destination,
                esm_class=ESM_UDHI if concatenated else 0,
                registered_delivery=1,
                encoding=DATA_CODING[encoding],
                auto_message_payload=False,
            )
            message.set_encoded_message(payload)
            return bytes(message.pdu())

        return build

    async def _submit_part(
        self,
        destination: PhoneNumber,
        encoding: SmsEncoding,
        payload: bytes,
        *,
        index: int,
        total: int,
        first: str | None,
    ) -> str:
        """Submit one part; its message_id. The first part fails fast (nothing went out yet).
        A later part is retried for a while on a transient failure: giving up then would
        have the whole message sent again, and the phone show the first parts twice (a part
        sent twice under one concatenation reference is shown once).

        A later part's id is mapped to `first` as its resp is read: its receipt may follow
        on the very next PDU."""
        build = self._submit_sm(destination, encoding, payload, concatenated=total > 1)

        def map_to_first(response: _Response) -> None:
            message_id = _accepted_id(response)
            if first is not None and message_id:
                self.part_ids.add(first, [message_id])

        deadline = time.monotonic() + self.timeout
        pause = 0.2
        while True:
            try:
                return await self._submit_once(build, map_to_first)
            except TransientDelivery as exc:
                if index == 1 or time.monotonic() + pause > deadline:
                    if index > 1:
                        raise TransientDelivery(f"{exc.reason} (part {index} of {total})") from None
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def _submit_once(
        self, build: Callable[[int], bytes], on_response: Callable[[_Response], None]
    ) -> str:
        async with self._window:
            for _ in range(2):  # once more if the bind was lost before the PDU went out
                session = await self._bound_session()
                try:
                    response = await session.request(build, self.timeout, on_response)
                except _NotSent:
                    continue
                except _Lost:
                    raise TransientDelivery("smpp connection lost before submit_sm_resp") from None
                except _NoAnswer:
                    raise TransientDelivery(
                        f"smpp no submit_sm_resp within {self.timeout:g}s"
                    ) from None
                break
            else:
                raise TransientDelivery(f"smpp no bind: {self._last_error or 'connection lost'}")
        message_id = _accepted_id(response)
        if message_id:
            return message_id
        if response.status == S.ESME_ROK and response.command_id == SmppCommand.SUBMIT_SM_RESP:
            raise TransientDelivery("smpp submit_sm_resp without a message_id")
        if response.command_id == SmppCommand.GENERIC_NACK and response.status == S.ESME_ROK:
            raise TransientDelivery("smpp generic_nack")
        self._raise_for(response.status, session)
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for(self, status: int, session: _Session) -> None:
        name = status_name(status)
        if status in UNUSABLE:
            raise PermanentDelivery(f"smpp {name}", unusable=True)
        if status in SOURCE_ADDR:
            raise TransientDelivery(f"smpp {name}: check NOTIFIER_SMPP_SOURCE_ADDR")
        if status == S.ESME_RINVBNDSTS:  # the SMSC no longer sees our bind: bind again
            session.close("the SMSC answered ESME_RINVBNDSTS")
        known = name != f"0x{status:08X}"
        if status in TRANSIENT or not known:
            raise TransientDelivery(f"smpp {name}")
        raise PermanentDelivery(f"smpp {name}")

    # -- the bind ----------------------------------------------------------------------------

    async def _bound_session(self) -> _Session:
        """The bound session, waiting for a bind in progress; TransientDelivery when there
        is none (the reason says which setting to check when the SMSC refused us)."""
        if self._phase is Phase.closed:
            raise TransientDelivery("smpp gateway is closed")
        session = self._session
        if self._phase is Phase.bound and session is not None and not session.closed.is_set():
            # Bound: every submit passes here, and the condition's lock below would line them
            # up one per turn of the event loop (bench.sms: 0.41 of the bare client, then 0.63).
            return session
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(self._supervise(), name="smpp-bind")

        def settled() -> bool:
            # Bound with a session still open (one just lost is bound again or fails first),
            # or the last attempt failed, or we are closing.
            if self._phase is Phase.bound:
                return self._session is not None and not self._session.closed.is_set()
            return self._phase in (Phase.backoff, Phase.closed)

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(settled), self.timeout)
        except TimeoutError:
            raise TransientDelivery(
                f"smpp no bind within {self.timeout:g}s: check NOTIFIER_SMPP_HOST and "
                "NOTIFIER_SMPP_PORT"
            ) from None
        session = self._session
        if self._phase is Phase.bound and session is not None and not session.closed.is_set():
            return session
        raise TransientDelivery(f"smpp no bind: {self._last_error or 'connection lost'}")

    @property
    def _closing(self) -> bool:
        return self._phase is Phase.closed

    async def _set_phase(self, phase: Phase) -> None:
        if self._phase is not Phase.closed:
            self._phase = phase
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _supervise(self) -> None:
        """Bind, keep the bind, bind again when it is lost: at once after a bind that lasted,
        else after a backoff doubling up to backoff_max_seconds."""
        failures = 0
        while not self._closing:
            await self._set_phase(Phase.connecting)
            try:
                session = await self._open()
            except _BindRefused as exc:
                self._last_error = exc.detail
                if self._refusal_logged != exc.status:
                    self._refusal_logged = exc.status
                    log.error("smpp.bind_refused", extra={"status": exc.status, "hint": exc.detail})
                failures += 1
            except (OSError, TimeoutError, _NotSent, _Lost, _NoAnswer) as exc:
                if failures == 0:
                    log.warning("smpp.unreachable", extra={"error": type(exc).__name__})
                self._last_error = (
                    f"cannot bind ({type(exc).__name__}): check NOTIFIER_SMPP_HOST and "
                    "NOTIFIER_SMPP_PORT"
                )
                failures += 1
            else:
                self._session, self._last_error, self._refusal_logged = session, None, None
                log.info("smpp.bound")
                await self._set_phase(Phase.bound)
                keeper = asyncio.create_task(self._keep(session), name="smpp-enquire-link")
                try:
                    await session.closed.wait()
                finally:
                    keeper.cancel()
                    await session.aclose()
                if self._closing:
                    return
                log.warning("smpp.bind_lost", extra={"reason": session.reason})
                self._last_error = session.reason
                lasted = time.monotonic() - session.started
                failures = 0 if lasted >= 10 * self.backoff_seconds else failures + 1
                if failures == 0:
                    continue
            await self._set_phase(Phase.backoff)
            delay = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (failures - 1))
            await asyncio.sleep(delay * random.uniform(0.8, 1.0))  # noqa: S311 - jitter

    async def _open(self) -> _Session:
        settings = self.settings
        assert settings.smpp_host and settings.smpp_system_id and settings.smpp_password
        try:
            bind = BindTransceiver(
                system_id=settings.smpp_system_id,
                password=settings.smpp_password.get_secret_value(),
            )
        except ValueError:
            raise _BindRefused(
                "smpp bind not sent: NOTIFIER_SMPP_SYSTEM_ID takes at most 15 characters and "
                "NOTIFIER_SMPP_PASSWORD at most 8 (SMPP 3.4)",
                "too_long",
            ) from None
        connect = asyncio.ensure_future(
            asyncio.open_connection(settings.smpp_host, settings.smpp_port)
        )
        try:
            reader, writer = await asyncio.wait_for(asyncio.shield(connect), self.timeout)
        except BaseException:
            # Given up (a timeout, or the gateway closing): the connecting stops, and a
            # connection made all the same (Python 3.11's wait_for can lose one made as the
            # timeout fires) is closed, not left for the garbage collector to find open.
            connect.add_done_callback(_close_late)
            connect.cancel()
            raise
        session = _Session(reader, writer, self._on_request)

        def build(sequence: int) -> bytes:
            bind.sequence_num = sequence
            return bytes(bind.pdu())

        try:
            response = await session.request(build, self.timeout)
        except BaseException:
            await session.aclose()
            raise
        accepted = response.command_id == SmppCommand.BIND_TRANSCEIVER_RESP
        if accepted and response.status in (S.ESME_ROK, S.ESME_RALYBND):
            return session
        session.close("bind refused")
        await session.aclose()
        name = status_name(response.status)
        hint = BIND_HINT.get(response.status, BIND_HINT_OTHER)
        raise _BindRefused(f"smpp bind refused ({name}): check {hint}", name)

    async def _keep(self, session: _Session) -> None:
        """enquire_link every enquire_link_seconds; no answer within the timeout ends the
        session (and the supervisor binds again)."""
        while not session.closed.is_set():
            await asyncio.sleep(self.enquire_link_seconds)
            try:
                await session.request(
                    lambda seq: bytes(EnquireLink(sequence_num=seq).pdu()), self.timeout
                )
            except (_NotSent, _Lost):
                return
            except _NoAnswer:
                session.close("enquire_link unanswered")
                return

    # -- what the SMSC asks ------------------------------------------------------------------

    async def _on_request(
        self, session: _Session, command_id: int, sequence: int, body: bytes
    ) -> None:
        if command_id == SmppCommand.DELIVER_SM:
            # Its own task: a slow sink must not hold up the submit_sm_resp behind it.
            task = asyncio.create_task(self._deliver_sm(session, sequence, body))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        elif command_id == SmppCommand.ENQUIRE_LINK:
            await session.respond(bytes(EnquireLinkResp(sequence_num=sequence).pdu()))
        elif command_id == SmppCommand.UNBIND:
            await session.respond(bytes(UnbindResp(sequence_num=sequence).pdu()))
            session.close("unbound by the SMSC")
        else:
            nack = GenericNack(sequence_num=sequence, command_status=S.ESME_RINVCMDID)
            await session.respond(bytes(nack.pdu()))

    async def _deliver_sm(self, session: _Session, sequence: int, body: bytes) -> None:
        """Hand a receipt or an incoming SMS on, then answer deliver_sm_resp: ESME_ROK once
        it is handed on (or if it can never be read: sent again it would be no better),
        ESME_RX_T_APPN if the sink failed, so the SMSC sends it again later."""
        status = S.ESME_ROK
        try:
            pdu = parse_deliver_sm(body)
        except Malformed as exc:
            log.warning("smpp.deliver_sm_unreadable", extra={"sequence": sequence, "why": str(exc)})
        else:
            try:
                kind = pdu.esm_class & ESM_TYPE_MASK
                if kind in (ESM_RECEIPT, ESM_INTERMEDIATE):
                    await self._receipt(pdu, sequence)
                elif kind == 0:
                    await self._incoming(pdu)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "smpp.deliver_sm_not_handed_on",
                    extra={"sequence": sequence, "error": type(exc).__name__},
                )
                status = S.ESME_RX_T_APPN
        answer = DeliverSmResp(sequence_num=sequence, command_status=status)
        await session.respond(bytes(answer.pdu()))

    async def _receipt(self, pdu: DeliverSmFields, sequence: int) -> None:
        parsed = parse_receipt(pdu)
        if parsed is None:
            log.warning("smpp.receipt_without_id", extra={"sequence": sequence})
            return
        message_id, stat, err = parsed
        detail = " ".join(part for part in (stat, f"err:{err}" if err else None) if part)
        await self.receipts(
            Receipt(
                provider=self.name,
                provider_id=self.part_ids.first(message_id),
                state=receipt_state(stat),
                detail=detail[:100] or None,
            )
        )

    async def _incoming(self, pdu: DeliverSmFields) -> None:
        if self.incoming is None:
            return
        phone = pdu.source_addr.strip()
        digits = phone.removeprefix("+")
        if digits.isdigit() and (pdu.source_ton == TON.INTERNATIONAL or len(digits) >= 11):
            phone = "+" + digits
        data, key = pdu.message, None
        if pdu.esm_class & ESM_UDHI and data:
            header, data = data[: data[0] + 1], data[data[0] + 1 :]
            key = _concatenation(header, phone)
        elif TAG_SAR_MSG_REF_NUM in pdu.tlvs:
            key = _sar(pdu.tlvs, phone)
        text = decode_text(data, pdu.data_coding)
        if key is None:
            await self.incoming(phone, text)
            return
        reference, total, index = key
        if total <= 1:
            await self.incoming(phone, text)
            return
        stored = self._incoming_parts.get(reference)
        parts: dict[int, str] = stored if isinstance(stored, dict) else {}
        parts[index] = text
        self._incoming_parts.put(reference, parts)
        if len(parts) < total:
            return
        await self.incoming(phone, "".join(parts[i] for i in sorted(parts)))
        self._incoming_parts.pop(reference)


def _accepted_id(response: _Response) -> str | None:
    """The message_id of a submit_sm_resp that accepted the part, else None."""
    if response.command_id != SmppCommand.SUBMIT_SM_RESP or response.status != S.ESME_ROK:
        return None
    return response.body.split(b"\x00", 1)[0].decode("latin-1").strip() or None


def _concatenation(header: bytes, phone: str) -> tuple[tuple[str, int, int], int, int] | None:
    """((sender, reference, total), total, index) from a UDH's concatenation IE, if any."""
    at = 1
    while at + 2 <= len(header):
        ie, size = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + size]
        if ie == 0x00 and size == 3 and len(value) == 3:
            return (phone, value[0], value[1]), value[1], value[2]
        if ie == 0x08 and size == 4 and len(value) == 4:
            reference = int.from_bytes(value[:2], "big")
            return (phone, reference, value[2]), value[2], value[3]
        at += 2 + size
    return None


def _sar(tlvs: dict[int, bytes], phone: str) -> tuple[tuple[str, int, int], int, int] | None:
    try:
        reference = int.from_bytes(tlvs[TAG_SAR_MSG_REF_NUM], "big")
        total = tlvs[TAG_SAR_TOTAL_SEGMENTS][0]
        index = tlvs[TAG_SAR_SEGMENT_SEQNUM][0]
    except (KeyError, IndexError):
        return None
    return (phone, reference, total), total, index


__all__ = [
    "DeliverSmFields",
    "IncomingSink",
    "Malformed",
    "PartIds",
    "Parts",
    "SmppGateway",
    "decode_text",
    "parse_deliver_sm",
    "parse_receipt",
    "receipt_state",
    "split",
    "status_name",
    "udh",
]
