"""The ceilings: the same messages by bare clients, nothing of ours around the wire format.

HTTP: aiohttp posting each provider's exact request (the fields and headers its gateway sends)
at the same concurrency, reading the answer. SMPP: one transceiver bind, submit_sm built with
aiosmpplib as the gateway builds it (the text split into parts by the gateway's own helper),
at most NOTIFIER_SMPP_WINDOW awaiting their resp, every receipt answered with deliver_sm_resp.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections.abc import Callable
from typing import Any

import aiohttp
from aiosmpplib import NPI, TON, BindTransceiver, PhoneNumber, SmppCommand, SubmitSm, Unbind

from bench.sms.measure import Countdown, Figure, in_lanes, timed
from bench.sms.workload import SENDER, Message, smpp_parts
from notifier.channels.smpp import DATA_CODING, ESM_UDHI, split, udh
from notifier.config import SmsProvider

Request = Callable[[Message], dict[str, Any]]


def http_request(provider: SmsProvider, address: dict[str, Any]) -> tuple[str, Request]:
    """The URL and the keyword arguments of session.post() for one message, as the provider's
    gateway sends them (notifier/channels/sms_http.py, smsru.py, smsc.py)."""
    key = address["api_key"]
    if provider is SmsProvider.http:
        headers = {"Authorization": f"Bearer {key}"}
        return address["url"], lambda m: {
            "json": {"to": m.phone, "text": m.text, "sender": SENDER},
            "headers": headers,
        }
    if provider is SmsProvider.smsru:
        return address["url"] + "/sms/send", lambda m: {
            "data": {
                "api_id": key,
                "to": m.phone.lstrip("+"),
                "msg": m.text,
                "json": "1",
                "from": SENDER,
            }
        }
    if provider is SmsProvider.smsc:
        return address["url"] + "/sys/send.php", lambda m: {
            "data": {
                "apikey": key,
                "phones": m.phone,
                "mes": m.text,
                "fmt": "3",
                "charset": "utf-8",
                "cost": "3",
                "sender": SENDER,
            }
        }
    raise ValueError(f"{provider} is not an HTTP provider")


async def bare_http(
    provider: SmsProvider,
    address: dict[str, Any],
    warmup: list[Message],
    batch: list[Message],
    concurrency: int,
    server_pid: int,
) -> Figure:
    url, request = http_request(provider, address)
    async with aiohttp.ClientSession() as http:

        async def send(message: Message) -> None:
            async with http.post(url, **request(message)) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"the {provider} server answered {response.status}")

        await in_lanes(warmup, concurrency, send)
        return await timed(lambda: in_lanes(batch, concurrency, send), len(batch), server_pid)


HEADER = struct.Struct("!IIII")


class BareBind:
    """One SMPP transceiver bind: submit_sm matched to its resp by sequence number, and every
    deliver_sm answered at once."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.sequence = itertools.count(1)
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.receipts = Countdown()
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, address: dict[str, Any]) -> BareBind:
        reader, writer = await asyncio.open_connection(address["host"], address["port"])
        bind = cls(reader, writer)
        pdu = BindTransceiver(system_id=address["system_id"], password=address["password"])
        pdu.sequence_num = next(bind.sequence)
        writer.write(bytes(pdu.pdu()))
        length, command_id, status, _ = HEADER.unpack(await reader.readexactly(HEADER.size))
        await reader.readexactly(length - HEADER.size)
        if command_id != SmppCommand.BIND_TRANSCEIVER_RESP or status != 0:
            raise RuntimeError(f"the SMSC refused the bind: status 0x{status:08X}")
        bind.task = asyncio.create_task(bind._read())
        return bind

    async def _read(self) -> None:
        while True:
            try:
                head = await self.reader.readexactly(HEADER.size)
                length, command_id, status, sequence = HEADER.unpack(head)
                await self.reader.readexactly(length - HEADER.size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the SMSC closed the connection (after our unbind)
            if command_id == SmppCommand.DELIVER_SM:
                self.writer.write(
                    HEADER.pack(HEADER.size + 1, SmppCommand.DELIVER_SM_RESP, 0, sequence) + b"\0"
                )
                self.receipts.add()
                continue
            future = self.pending.pop(sequence, None)
            if future is not None:
                future.set_result(status)

    async def request(self, build: Callable[[int], bytes]) -> int:
        sequence = next(self.sequence)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[sequence] = future
        self.writer.write(build(sequence))
        await self.writer.drain()
        return await future

    async def close(self) -> None:
        await self.request(lambda seq: bytes(Unbind(sequence_num=seq).pdu()))
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


async def bare_smpp(
    address: dict[str, Any],
    warmup: list[Message],
    batch: list[Message],
    window: int,
    server_pid: int,
) -> Figure:
    source = PhoneNumber(SENDER, TON.ALPHANUMERIC, NPI.UNKNOWN)
    bind = await BareBind.open(address)
    references = itertools.cycle(range(256))

    def parts(messages: list[Message]) -> list[tuple[PhoneNumber, str, bytes, bool]]:
        out = []
        for m in messages:
            split_text = split(m.text)
            total = len(split_text.chunks)
            reference = next(references)
            destination = PhoneNumber(m.phone.lstrip("+"), TON.INTERNATIONAL, NPI.ISDN)
            for index, chunk in enumerate(split_text.chunks, start=1):
                payload = udh(reference, total, index) + chunk if total > 1 else chunk
                out.append((destination, DATA_CODING[split_text.encoding], payload, total > 1))
        return out

    async def submit(part: tuple[PhoneNumber, str, bytes, bool]) -> None:
        destination, encoding, payload, concatenated = part

        def build(sequence: int) -> bytes:
            pdu = SubmitSm(
                sequence_num=sequence,
                short_message="-",
                source=source,
                destination=destination,
                esm_class=ESM_UDHI if concatenated else 0,
                registered_delivery=1,
                encoding=encoding,
                auto_message_payload=False,
            )
            pdu.set_encoded_message(payload)
            return bytes(pdu.pdu())

        status = await bind.request(build)
        if status != 0:
            raise RuntimeError(f"the SMSC refused a submit_sm: status 0x{status:08X}")

    async def phase(messages: list[Message], receipts_due: int) -> None:
        # The split is the client's work too: inside the phase.
        await in_lanes(parts(messages), window, submit)
        await bind.receipts.wait(receipts_due)

    try:
        await phase(warmup, smpp_parts(warmup))
        due = smpp_parts(warmup) + smpp_parts(batch)
        return await timed(lambda: phase(batch, due), len(batch), server_pid)
    finally:
        await bind.close()
