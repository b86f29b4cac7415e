"""The region benchmark's channel servers, each in a process of its own so that their CPU is
not counted as ours: `python -m bench.sinks telegram|max|smtp|sms|smsru|smsc|smpp`.

They are the test suite's servers (tests/servers): a Bot API server that parses the HTML the
way Telegram does, a MAX Bot API server that checks MAX's HTML as strictly (strict markup: a
text it cannot parse is refused, and the reconciliation counts that message lost), aiosmtpd,
an SMS gateway speaking the generic JSON protocol (`sms`), SMS.ru's or smsc.ru's HTTP API
(`smsru`, `smsc`), an SMSC speaking SMPP 3.4 (`smpp`: one bind, a delivery receipt for every
part). They answer at once (no faults, no flood limits, no window). The process prints one
JSON line with its address, then obeys one command per line on stdin:

    count        → {"n": messages received so far}
    dump PATH    → writes [[recipient, text, monotonic time], ...] to PATH, → {"n": ...}
                   (the recipient as the outbox has it: a chat id, a MAX user id, an address;
                   SMS.ru's and SMPP's number without its "+"; SMPP's time is that of the dump,
                   its server keeps none)
    clear        → forgets what it received
    quit
Times are `time.monotonic()`, which on Linux is one clock for every process of the machine.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Literal

from tests.servers.max import MaxApiServer
from tests.servers.smpp_server import SmppServer
from tests.servers.sms_server import SmsGateway
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

TOKEN = "424242:BENCH-token"
MAX_TOKEN = "bench-max-token-5tJq0cW8hV2nLr7YxPz3Kd6Fg9Bs4Mu1Ae8Ni2Oo7Qv"
SMS_KEY = "bench-key"
SMPP_SYSTEM_ID = "bench"
SMPP_PASSWORD = "bench123"  # SMPP 3.4: at most 8 characters
SMS_GATEWAYS: tuple[Literal["smsru", "smsc"], ...] = ("smsru", "smsc")


def _records(kind: str, server: Any) -> list[tuple[str, str, float]]:
    if kind == "telegram":
        return [(m.chat_id, m.plain, m.at) for m in server.accepted]
    if kind == "max":
        # A message sent by ?user_id= records whose dialog it went to: the guardian's
        # max_user_id, as a string like the outbox's.
        return [(str(m.recipient_user_id), m.plain, m.at) for m in server.accepted]
    if kind == "sms" or kind in SMS_GATEWAYS:
        return [(m.to, m.text, m.at) for m in list(server.messages)]
    if kind == "smpp":
        with server.lock:
            now = time.monotonic()
            return [(m.destination, m.text, now) for m in server.messages]
    out = []
    for mail in list(server.messages):
        body = mail.message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        out.append((mail.rcpt_tos[0] if mail.rcpt_tos else "", text, mail.at))
    return out


def _count(kind: str, server: Any) -> int:
    return len(server.accepted) if kind in ("telegram", "max") else len(server.messages)


def main(kind: str) -> None:
    server: Any
    if kind == "telegram":
        server = BotApiServer(TOKEN, "bench_bot")
        server.start()
        address = {"api_base": server.base, "token": TOKEN}
    elif kind == "max":
        server = MaxApiServer(token=MAX_TOKEN, username="bench_bot", strict_markup=True)
        server.start()
        address = {"api_base": server.base, "token": MAX_TOKEN}
    elif kind == "sms":
        server = SmsGateway("http", SMS_KEY)
        server.start()
        address = {"url": server.url, "api_key": SMS_KEY}
    elif kind in SMS_GATEWAYS:
        # The base URL: the gateways add /sms/send and /sys/send.php themselves.
        server = SmsGateway("smsru" if kind == "smsru" else "smsc", SMS_KEY)
        server.start()
        address = {"url": server.url, "api_key": SMS_KEY}
    elif kind == "smpp":
        server = SmppServer(SMPP_SYSTEM_ID, SMPP_PASSWORD)
        server.start()
        address = {
            "host": server.host,
            "port": server.port,
            "system_id": SMPP_SYSTEM_ID,
            "password": SMPP_PASSWORD,
        }
    elif kind == "smtp":
        server = SmtpServer()
        server.start()
        address = {"host": server.host, "port": server.port}
    else:
        raise SystemExit(f"unknown sink {kind!r}: telegram, max, smtp, sms, smsru, smsc or smpp")
    print(json.dumps(address), flush=True)
    try:
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "count":
                reply: dict[str, Any] = {"n": _count(kind, server)}
            elif command == "dump":
                records = _records(kind, server)
                with open(argument, "w", encoding="utf-8") as out:
                    json.dump(records, out, ensure_ascii=False)
                reply = {"n": len(records)}
            elif command == "clear":
                server.clear()
                reply = {"n": 0}
            elif command == "quit":
                break
            else:
                reply = {"error": f"unknown command {command!r}"}
            print(json.dumps(reply), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
