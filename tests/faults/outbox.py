"""What was planned, recorded and received: the outbox the processes write, read back, and
tallied against what the SMTP server got."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import text

from notifier.db.engine import create_engine
from notifier.events.stream import DEAD_STREAM
from notifier.reports import summary
from tests.servers.smtp_server import ReceivedMail

# The rows of the journal's events. A worker on the real clock also plans the weekly summary
# from Saturday evening on, all skipped for these schools (tests/factories.REAL_CLOCK), and
# those rows are no part of what a test replays.
OF_JOURNAL = f" JOIN journal_events e ON e.pk = n.event_pk WHERE e.source <> '{summary.SOURCE}'"
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)
ROW_OF_MESSAGE = re.compile(r"<notifier-(\d+)@")


class Outbox:
    """Reads the database the processes write: outbox rows, their recorded sends, events."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    async def close(self) -> None:
        await self.engine.dispose()

    async def statuses(self) -> Counter[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    f"SELECT n.status, count(*) FROM notifications n{OF_JOURNAL} GROUP BY n.status"
                )
            )
            return Counter({status: n for status, n in rows})

    async def settled(self, planned: int) -> bool:
        """Every planned row exists and none is waiting any more."""
        counts = await self.statuses()
        return counts.total() == planned and counts["pending"] == 0

    async def leased(self) -> set[int]:
        """Rows claimed by a worker that has not recorded them yet: in flight."""
        async with self.engine.connect() as conn:
            result = await conn.scalars(
                text(
                    f"SELECT n.id FROM notifications n{OF_JOURNAL}"
                    " AND n.status = 'pending' AND n.lease_until IS NOT NULL"
                )
            )
            return set(result.all())

    async def event_ids(self) -> set[str]:
        async with self.engine.connect() as conn:
            return set((await conn.scalars(text("SELECT event_id FROM journal_events"))).all())

    async def rows(self) -> list[Row]:
        """Every outbox row with its recipient and the Message-ID its recorded send carried."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT n.id, n.status, g.email, a.provider_id, e.event_id, n.attempts,"
                    " n.reason"
                    " FROM notifications n"
                    " JOIN guardians g ON g.id = n.guardian_id"
                    " LEFT JOIN delivery_attempts a"
                    "   ON a.notification_id = n.id AND a.outcome = 'sent'"
                    f"{OF_JOURNAL}"
                )
            )
            return [Row(*r) for r in result]

    async def transient_attempts(self) -> int:
        async with self.engine.connect() as conn:
            n = await conn.scalar(
                text("SELECT count(*) FROM delivery_attempts WHERE outcome = 'transient'")
            )
            return int(n or 0)


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    email: str
    provider_id: str | None
    event_id: str
    attempts: int
    reason: str | None


@dataclass
class Tally:
    """The outbox against what the SMTP server received."""

    rows: int = 0
    sent: int = 0
    not_sent: Counter[str] = field(default_factory=Counter)
    messages: int = 0  # received by the SMTP server
    recorded: int = 0  # distinct (Message-ID, recipient) pairs the outbox says it sent
    lost: int = 0  # rows not sent, or sent by a message the server never received
    repeats: int = 0  # a recorded message received more than once
    unrecorded: int = 0  # received, but no row records it (sent by a worker killed before
    # it could record the send, whose rows then went again in a message with another id)
    recipients_off: int = 0  # recipients whose received count differs from the outbox's
    double_records: int = 0  # rows with two recorded sends (never expected)
    # The first outbox row of each duplicated message (its Message-ID is notifier-<row id>).
    duplicated_rows: set[int] = field(default_factory=set)

    @property
    def duplicates(self) -> int:
        return self.repeats + self.unrecorded


def message_id(mail: ReceivedMail) -> str:
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    found = MESSAGE_ID.search(head)
    assert found, head[:500]
    return found.group(1).decode()


def tally(rows: list[Row], messages: list[ReceivedMail]) -> Tally:
    t = Tally(rows=len({r.id for r in rows}), messages=len(messages))
    received: Counter[tuple[str, str]] = Counter()
    for mail in messages:
        mid = message_id(mail)
        for rcpt in mail.rcpt_tos:
            received[(mid, rcpt.lower())] += 1
    recorded: set[tuple[str, str]] = set()
    seen: set[int] = set()
    for row in rows:
        if row.id in seen:
            t.double_records += 1
            continue
        seen.add(row.id)
        if row.status != "sent" or row.provider_id is None:
            t.not_sent[f"{row.status}: {row.reason}"] += 1
            t.lost += 1
            continue
        t.sent += 1
        key = (row.provider_id, row.email.lower())
        recorded.add(key)
        if key not in received:
            t.lost += 1
    t.recorded = len(recorded)
    by_recipient_received: Counter[str] = Counter()
    by_recipient_recorded: Counter[str] = Counter()
    for (mid, rcpt), n in received.items():
        by_recipient_received[rcpt] += n
        if (mid, rcpt) in recorded:
            t.repeats += n - 1
        else:
            t.unrecorded += n
        if n > 1 or (mid, rcpt) not in recorded:
            found = ROW_OF_MESSAGE.match(mid)
            assert found, mid
            t.duplicated_rows.add(int(found.group(1)))
    for _, rcpt in recorded:
        by_recipient_recorded[rcpt] += 1
    t.recipients_off = sum(
        1
        for rcpt in set(by_recipient_received) | set(by_recipient_recorded)
        if by_recipient_received[rcpt] != by_recipient_recorded[rcpt]
    )
    return t


async def dead_letters(redis_url: str) -> int:
    """Entries parked in `notifier:events:dead`: none of our events may end there."""
    client = Redis.from_url(redis_url)
    try:
        return int(await client.xlen(DEAD_STREAM))
    finally:
        await client.aclose()
