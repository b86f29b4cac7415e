"""The CloudEvents parser in every way in (structured, batch, binary, stream entry): it accepts
or says why, and the reason names what to fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import example, given
from hypothesis import strategies as st

from notifier.errors import InvalidInput
from notifier.events.schema import (
    JournalEventIn,
    Rejected,
    parse_batch,
    parse_binary,
    parse_stream_entry,
    parse_structured,
    validate_event,
)
from notifier.events.types import KINDS
from tests.fuzz.checks import assert_outcome, assert_storable
from tests.fuzz.strategies import (
    ANY_VALUE,
    BAD_TIMES,
    EVENTS,
    FUZZ,
    HUGE_TEXT,
    JSON,
    KIND,
    MAX_BYTES,
    SCALARS,
    TEXT,
    _dumps,
    _header_value,
    well_formed,
)


@FUZZ
@given(body=st.binary(max_size=300) | EVENTS.map(_dumps) | st.lists(EVENTS, max_size=4).map(_dumps))
@example(body=b"[" * 100_000)  # deeper than the JSON decoder's recursion limit
@example(body=b'{"a":' * 50_000)
@example(body=b"1" * 5_000)  # more digits than int() takes (sys.get_int_max_str_digits)
@example(body=b'{"specversion":"1.0","id":"a","source":"s","type":"t","data":NaN}')
@example(body=b'{"specversion":"1.0","id":"a","source":"\\ud800","type":"t"}')
@example(body=b"\xff\xfe\x00")
def test_structured_batch_and_stream_entry_accept_or_say_why(body: bytes) -> None:
    for parse in (parse_structured, parse_batch):
        try:
            parsed = parse(body, max_bytes=MAX_BYTES)
        except InvalidInput as exc:
            assert exc.reason.strip()
        else:
            assert_outcome(parsed)
    try:
        ev = parse_stream_entry({b"event": body}, max_bytes=MAX_BYTES)
    except InvalidInput as exc:
        assert exc.reason.strip()
    else:
        assert_storable(ev)


@FUZZ
@given(event=EVENTS)
def test_every_way_in_agrees_on_one_event(event: Any) -> None:
    """Structured, a batch of one and a stream entry: the same verdict for the same event."""
    body = _dumps(event)
    try:
        [structured] = parse_structured(body, max_bytes=MAX_BYTES)
    except InvalidInput as exc:  # only a body that is not JSON at all
        assert exc.reason.startswith("body is not valid JSON")
        return
    assert_outcome([structured])
    [batched] = parse_batch(b"[" + body + b"]", max_bytes=MAX_BYTES)
    assert type(batched) is type(structured)
    try:
        streamed: Any = parse_stream_entry({b"event": body}, max_bytes=MAX_BYTES)
    except InvalidInput as exc:
        streamed = Rejected(None, exc.reason)
    assert type(streamed) is type(structured)
    if isinstance(structured, JournalEventIn):
        if "time" not in event:  # the CloudEvents SDK stamps its own now
            batched, streamed = (replace(e, time=structured.time) for e in (batched, streamed))
        assert batched == structured == streamed


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "ce-specversion",
                "ce-id",
                "ce-source",
                "ce-type",
                "ce-time",
                "ce-subject",
                "ce-",
                "ce-data",
                "ce-data_base64",
                "ce-Ext",
                "content-type",
            ]
        )
        | TEXT.map(lambda t: "ce-" + t),
        ANY_VALUE.map(_header_value),
        max_size=8,
    ),
    body=st.binary(max_size=200) | JSON.map(_dumps),
)
def test_binary_mode_accepts_or_says_why(headers: dict[str, str], body: bytes) -> None:
    try:
        parsed = parse_binary(headers, body, max_bytes=MAX_BYTES)
    except InvalidInput as exc:
        assert exc.reason.strip()
    else:
        assert_outcome(parsed)


@FUZZ
@given(event=well_formed())
def test_a_well_formed_event_is_accepted_in_every_mode(event: dict[str, Any]) -> None:
    """Including binary mode as the CloudEvents SDK writes it (percent-encoded headers)."""
    [structured] = parse_structured(_dumps(event), max_bytes=MAX_BYTES)
    assert isinstance(structured, JournalEventIn), structured
    assert_storable(structured)
    attributes = {k: v for k, v in event.items() if k != "data"}
    if "time" in attributes:
        attributes["time"] = datetime.fromisoformat(attributes["time"])
    else:
        attributes["time"] = structured.time  # the SDK would stamp its own now
    message = to_binary(CloudEvent(attributes, event["data"]), JSONFormat())
    headers = {k.lower(): v for k, v in message.headers.items()}
    headers.setdefault("content-type", "application/json")
    [binary] = parse_binary(headers, message.body, max_bytes=MAX_BYTES)
    assert binary == structured


# The reason names what to fix.


@FUZZ
@given(
    event=well_formed(),
    drop=st.sets(st.sampled_from(["specversion", "id", "source", "type"]), min_size=1),
)
def test_a_missing_attribute_is_named(event: dict[str, Any], drop: set[str]) -> None:
    for name in drop:
        del event[name]
    with pytest.raises(InvalidInput) as caught:
        validate_event(event, max_bytes=MAX_BYTES)
    assert all(name in caught.value.reason for name in drop)


@FUZZ
@given(
    event=well_formed(),
    name=st.sampled_from(
        ["specversion", "id", "source", "type", "datacontenttype", "subject", "time"]
    ),
    value=st.none()
    | st.just("")
    | st.integers()
    | st.lists(SCALARS, max_size=2)
    | st.dictionaries(TEXT, SCALARS, max_size=2),
)
def test_an_attribute_of_the_wrong_type_is_named(
    event: dict[str, Any], name: str, value: Any
) -> None:
    event[name] = value
    with pytest.raises(InvalidInput) as caught:
        validate_event(event, max_bytes=MAX_BYTES)
    assert name in caught.value.reason


@FUZZ
@given(event=well_formed(), value=BAD_TIMES)
def test_an_invalid_time_is_named(event: dict[str, Any], value: Any) -> None:
    event["time"] = value
    try:
        validate_event(event, max_bytes=MAX_BYTES)
    except InvalidInput as exc:
        if "bytes; the limit is" not in exc.reason:  # a huge value
            assert exc.reason.startswith("time"), exc.reason
            assert exc.field and exc.field.startswith("time")


@FUZZ
@given(
    event=well_formed(),
    name=st.from_regex(r"[A-Z_\-. ]{1,10}|[a-z]{0,3}[A-Z_\-][a-z]{0,3}", fullmatch=True),
    value=SCALARS,
)
def test_an_invalid_extension_attribute_is_named(
    event: dict[str, Any], name: str, value: Any
) -> None:
    event[name] = value
    with pytest.raises(InvalidInput) as caught:
        validate_event(event, max_bytes=MAX_BYTES)
    assert name in caught.value.reason


@FUZZ
@given(
    event=KIND.flatmap(well_formed),
    data=st.none() | st.booleans() | st.integers() | TEXT | st.lists(SCALARS, max_size=3),
)
def test_data_that_is_not_an_object_is_refused_for_a_known_type(
    event: dict[str, Any], data: Any
) -> None:
    event["data"] = data
    with pytest.raises(InvalidInput) as caught:
        validate_event(event, max_bytes=MAX_BYTES)
    assert caught.value.reason.startswith("data"), caught.value.reason


@FUZZ
@given(event=KIND.flatmap(well_formed), st_data=st.data())
def test_a_broken_data_field_is_named(event: dict[str, Any], st_data: st.DataObject) -> None:
    field = st_data.draw(st.sampled_from(sorted(event["data"])))
    value = st_data.draw(
        st.none()
        | st.just("")
        | st.just("  ")
        | st.lists(SCALARS, min_size=1, max_size=2)
        | st.dictionaries(TEXT, SCALARS, min_size=1, max_size=2)
        | HUGE_TEXT
    )
    event["data"][field] = value
    try:
        validate_event(event, max_bytes=MAX_BYTES)
    except InvalidInput as exc:
        assert f"data.{field}" in exc.reason or "bytes; the limit is" in exc.reason, exc.reason
    else:  # null for an optional field; a long text where it may be long
        assert (value is None and field not in _required(event["type"])) or isinstance(value, str)


def _required(type_: str) -> set[str]:
    schema = KINDS[type_].schema
    return {name for name, f in schema.model_fields.items() if f.is_required()}
