"""The stream consumer fed 10,000 random entries among 500 valid marks: nothing stalls, every
bad entry is dead-lettered with a reason, every valid mark is delivered once."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notifier.config import Settings
from notifier.db.models import JournalEvent, Notification
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM
from notifier.runtime import Runtime, build_runtime
from tests.conftest import FakeClock
from tests.factories import pupil_with_guardian, school_with_class
from tests.fuzz.strategies import SQLITE
from tests.servers.smtp_server import SmtpServer

PUPILS = 25
VALID_MARKS = 500
UNKNOWN_TYPES = 200  # valid CloudEvents of a type we do not know: recorded, no message
ENTRIES = 10_000


def _garbage(rng: random.Random, i: int) -> tuple[str, dict[bytes | str, bytes | str]]:
    """One stream entry that cannot be processed, by construction, and its kind."""
    valid = json.loads(json.dumps(_valid_mark(rng, f"junk-{i}")))
    kind = rng.choice(
        [
            "no event field", "not JSON", "not UTF-8", "JSON not an object", "missing attribute",
            "wrong specversion", "bad time", "bad data", "oversized", "too deep", "huge number",
            "NaN", "lone surrogate", "NUL", "data_base64", "bad extension",
        ]
    )  # fmt: skip
    if kind == "no event field":
        name = rng.choice(["Event", "evt", "", "data", "😀"]) + str(rng.random())
        return kind, {name: json.dumps(valid)}
    if kind == "not JSON":
        raw: bytes = rng.choice([b"{not json", b"", b"   ", b"[1,2", b"'single'", b"{'a': 1}"])
    elif kind == "not UTF-8":
        raw = bytes(rng.randrange(128, 256) for _ in range(rng.randrange(1, 60)))
    elif kind == "JSON not an object":
        raw = json.dumps(rng.choice([None, 1, 2.5, "text", [valid], [], True])).encode()
    elif kind == "missing attribute":
        del valid[rng.choice(["specversion", "id", "source", "type"])]
        raw = json.dumps(valid).encode()
    elif kind == "wrong specversion":
        valid["specversion"] = rng.choice(["0.3", "1", 1.0, None, ""])
        raw = json.dumps(valid).encode()
    elif kind == "bad time":
        valid["time"] = rng.choice(
            ["2026-13-01T00:00:00Z", "yesterday", "2026-11-23", 17, "0001-01-01T00:00:00+05:00"]
        )
        raw = json.dumps(valid).encode()
    elif kind == "bad data":
        valid["data"] = rng.choice(
            [None, "text", [1], {"student_id": "st-1"}, {**valid["data"], "value": ""}]
        )
        raw = json.dumps(valid).encode()
    elif kind == "oversized":
        valid["data"]["comment"] = "я" * rng.randrange(40_000, 80_000)
        raw = json.dumps(valid, ensure_ascii=False).encode()
    elif kind == "too deep":
        depth = rng.choice([100, 5_000, 30_000])
        raw = ("[" * depth + "]" * depth).encode()
    elif kind == "huge number":
        valid["data"]["weight"] = "BIG"
        raw = json.dumps(valid).replace('"BIG"', "1" * 5000).encode()
    elif kind == "NaN":
        valid["data"]["weight"] = float("nan")
        valid["type"] = "org.example.unknown"
        raw = json.dumps(valid).encode()
    elif kind == "lone surrogate":
        valid["data"]["note"] = "\udc80"
        raw = json.dumps(valid).encode()  # ASCII JSON with the escape \udc80
    elif kind == "NUL":
        valid["source"] = "/journal/\x00"
        raw = json.dumps(valid).encode()
    elif kind == "data_base64":
        valid["data_base64"] = "AAAA"
        raw = json.dumps(valid).encode()
    else:
        valid["Bad-Ext"] = "x"
        raw = json.dumps(valid).encode()
    fields: dict[bytes | str, bytes | str] = {"event": raw}
    if rng.random() < 0.3:  # random other fields next to it
        fields[f"x{rng.randrange(100)}"] = bytes(rng.randrange(256) for _ in range(8))
    return kind, fields


def _valid_mark(rng: random.Random, ident: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": ident,
        "source": "/journal/school-17",
        "type": "journal.mark.created",
        "time": "2026-11-23T09:15:00+03:00",
        "data": {
            "mark_id": f"m-{ident}",
            "student_id": f"st-{rng.randrange(PUPILS)}",
            "subject": rng.choice(["Алгебра", "Физика", "История"]),
            "value": rng.choice(["5", "4", "3", "2"]),
        },
    }


@SQLITE
@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_consumer_survives_10000_random_entries(
    api: httpx.AsyncClient, settings: Settings, clock: FakeClock, smtp: SmtpServer
) -> None:
    started = time.monotonic()
    await school_with_class(api)
    for n in range(PUPILS):
        await pupil_with_guardian(api, f"st-{n}", f"g-{n}", email=f"parent{n}@parents.example.org")
    # Its own runtime: no SMTP rate limit (a local server), the fixtures' clock.
    runtime: Runtime = build_runtime(
        settings.model_copy(update={"smtp_rate_per_second": 0}), clock=clock
    )
    try:
        rng = random.Random(20261123)
        chosen = rng.sample(range(ENTRIES), VALID_MARKS + UNKNOWN_TYPES)
        valid_at, unknown_at = set(chosen[:VALID_MARKS]), set(chosen[VALID_MARKS:])
        invalid = ENTRIES - VALID_MARKS - UNKNOWN_TYPES
        kinds: dict[str, int] = {}
        marked: set[int] = set()  # pupils (and so guardians) with a valid mark
        async with runtime.redis.pipeline(transaction=False) as pipe:
            for i in range(ENTRIES):
                if i in unknown_at:
                    event = _valid_mark(rng, f"unknown-{i}")
                    event["type"] = rng.choice(["org.example.unknown", "journal.mark.exploded"])
                    pipe.xadd(STREAM, {"event": json.dumps(event)})
                elif i in valid_at:
                    event = _valid_mark(rng, f"ok-{i}")
                    marked.add(int(event["data"]["student_id"].removeprefix("st-")))
                    pipe.xadd(STREAM, {"event": json.dumps(event)})
                else:
                    kind, fields = _garbage(rng, i)
                    kinds[kind] = kinds.get(kind, 0) + 1
                    pipe.xadd(STREAM, fields)  # type: ignore[arg-type]
            await pipe.execute()

        consumer = runtime.consumer(name="fuzz")
        while await consumer.run_once():  # an exception here is the consumer failing
            pass
        dispatcher = runtime.dispatcher()
        while (await dispatcher.run()).claimed:
            pass

        dead = await runtime.redis.xrange(DEAD_STREAM)
        pending = await runtime.redis.xpending(STREAM, GROUP)
        async with runtime.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(JournalEvent))
            sent = await session.scalar(
                select(func.count()).select_from(Notification).where(Notification.status == "sent")
            )
        print(
            f"\nstream: {ENTRIES} entries tried ({VALID_MARKS} valid marks, "
            f"{UNKNOWN_TYPES} of unknown types, {invalid} invalid: {dict(sorted(kinds.items()))}); "
            f"{stored} stored, {sent} planned and delivered (as {len(smtp.messages)} emails, one per guardian), "
            f"{len(dead)} dead-lettered, pending {pending['pending']}, "
            f"{time.monotonic() - started:.1f} s"
        )
        assert pending["pending"] == 0
        assert len(dead) == invalid
        assert all(fields.get(b"reason", b"").strip() for _, fields in dead)
        assert stored == VALID_MARKS + UNKNOWN_TYPES and sent == VALID_MARKS
        # Marks due at once for one guardian go as one message (SPEC §4): one email each.
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(
            f"parent{n}@parents.example.org" for n in marked
        )
    finally:
        await runtime.close()
