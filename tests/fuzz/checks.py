"""What every outcome must satisfy: an accepted event storable as it is, a rejection with a
reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import httpx

from notifier.events.schema import JournalEventIn, Rejected, parse_stream_entry
from tests.fuzz.strategies import MAX_BYTES


def _strings(value: Any) -> Iterator[str]:
    """Every string (keys too) in a JSON value, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _no_constants(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def assert_storable(ev: JournalEventIn) -> None:
    """What the parser accepts, the consumer and both databases take as it is (an accepted event
    must not turn into a dead letter later): column lengths, UTF-8 text without NUL, a time
    within datetime's range in UTC, JSON without NaN, and the stream's copy parses the same."""
    assert 1 <= len(ev.id) <= 200 and 1 <= len(ev.source) <= 500 and 1 <= len(ev.type) <= 100
    if ev.time is not None:
        ev.time.astimezone(UTC)
    text = ev.to_json()
    for s in _strings(json.loads(text, parse_constant=_no_constants)):
        s.encode("utf-8")
        assert "\x00" not in s
    again = parse_stream_entry({b"event": text.encode()}, max_bytes=MAX_BYTES)
    assert again == ev


def assert_outcome(parsed: list[Any]) -> None:
    assert parsed and all(isinstance(p, JournalEventIn | Rejected) for p in parsed)
    for p in parsed:
        if isinstance(p, Rejected):
            assert isinstance(p.error, str) and p.error.strip()
        else:
            assert_storable(p)


def _reason(response: httpx.Response) -> str:
    body = response.json()
    return body["error"] if "error" in body else body["rejected"][0]["error"]
