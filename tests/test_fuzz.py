"""Bad input gets a clear error, never a crash (issue 8, "Prove it holds", the bad-input part).

Property-based tests (hypothesis) of the CloudEvents parser in every way in (structured, batch,
binary, stream entry) and of every request model; the same inputs through the API (no 5xx, a
reason in every 4xx, valid events next to invalid ones accepted); the stream consumer fed
10,000 random entries among 500 valid marks; and a regression test for each bug the fuzzers
found (the fuzzer over the live OpenAPI schema is tests/test_schemathesis.py).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from notifier.announcements import AnnouncementIn, Audience
from notifier.config import Settings
from notifier.db.models import JournalEvent, Notification
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
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM
from notifier.events.types import KINDS
from notifier.roster.choices import PreferencesIn, SubscriptionsIn
from notifier.roster.schemas import (
    ClassIn,
    ConsentIn,
    GuardianIn,
    QuietHours,
    SchoolIn,
    StaffIn,
    StudentIn,
)
from notifier.runtime import Runtime, build_runtime
from tests.conftest import FakeClock
from tests.factories import pupil_with_guardian, put, school_with_class
from tests.servers.smtp_server import SmtpServer

# No .hypothesis directory in the repository: no example database (database=None below), and
# Hypothesis' other caches (constants, Unicode tables) go to the system's temporary directory.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "notifier-hypothesis")

MAX_BYTES = 64 * 1024  # Settings.max_event_bytes by default
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# No example database (no .hypothesis directory in the repository), no deadline (the API
# examples touch a real database), fixtures shared by the examples of one test on purpose.
FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
API = settings(FUZZ, max_examples=150)


# --------------------------------------------------------------------------- strategies

SAFE_ID = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=40)
# Text with what breaks naive code: NUL, lone surrogates (JSON's "\ud800" makes them),
# right-to-left marks, Cyrillic, emoji, control characters.
NASTY_CHARS = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "я", "😀", "\n", " "]
)
TEXT = st.text(max_size=20) | st.text(
    st.characters(codec=None, categories=["Cs", "Cc", "Lu", "Ll", "So", "Zs"]), max_size=20
)
NASTY_TEXT = st.builds(lambda a, b, c: a + b + c, TEXT, NASTY_CHARS, TEXT)
HUGE_TEXT = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["x", "я", "😀", "\x00", " "]),
    st.integers(300, 70_000),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats()  # NaN and infinities too: json.dumps writes them as NaN, Infinity
    | TEXT
    | NASTY_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4),
    max_leaves=15,
)
ANY_VALUE = JSON | HUGE_TEXT
FINITE = st.recursive(  # what a journal sends: no NaN, no NUL, no lone surrogates
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(SAFE_ID, kids, max_size=3),
    max_leaves=8,
)

TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.astimezone(timezone(timedelta(hours=3))).isoformat())
BAD_TIMES = (
    TEXT
    | st.from_regex(
        r"\d{4}-\d\d-\d\d([Tt ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?)?([Zz]|[+-]\d\d(:?\d\d)?)?",
        fullmatch=True,
    )
    | st.sampled_from(
        [
            "2026-11-23",  # a date alone
            "2026-11-23T09:15:00",  # no offset
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "0001-01-01T00:00:00+05:00",  # before datetime.min in UTC
            "9999-12-31T23:59:59-05:00",  # after datetime.max in UTC
            "yesterday",
            "",
        ]
    )
    | ANY_VALUE
)


def _data_for(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid `data` of a known type (SPEC §3, required fields and some optional ones)."""
    name = st.text(
        st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs"]), min_size=1, max_size=30
    )
    day = st.dates(
        min_value=datetime(2020, 1, 1).date(), max_value=datetime(2030, 1, 1).date()
    ).map(lambda d: d.isoformat())
    mark = {
        "mark_id": SAFE_ID,
        "student_id": SAFE_ID,
        "subject": name,
        "value": st.sampled_from(["5", "4", "3", "2", "1", "зачёт", "н/а"]),
    }
    fields: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "journal.mark.created": mark | {"weight": st.floats(0.5, 10)},
        "journal.mark.updated": mark | {"old_value": st.just("3")},
        "journal.mark.deleted": {"mark_id": SAFE_ID, "student_id": SAFE_ID},
        "journal.homework.assigned": {
            "homework_id": SAFE_ID,
            "class_id": SAFE_ID,
            "subject": name,
            "text": name,
        },
        "journal.homework.updated": {
            "homework_id": SAFE_ID,
            "class_id": SAFE_ID,
            "subject": name,
            "text": name,
            "due_date": day,
        },
        "journal.attendance.recorded": {
            "student_id": SAFE_ID,
            "lesson_date": day,
            "status": st.sampled_from(["absent", "late", "excused", "present"]),
        },
        "journal.schedule.changed": {
            "class_id": SAFE_ID,
            "date": day,
            "change": st.sampled_from(["cancelled", "replaced", "moved", "room_changed"]),
        },
        "journal.period_mark.created": {
            "student_id": SAFE_ID,
            "subject": name,
            "period": name,
            "value": st.just("5"),
        },
        "journal.comment.created": {"student_id": SAFE_ID, "text": name},
    }
    return st.fixed_dictionaries(fields[kind])


KIND = st.sampled_from(sorted(KINDS))


@st.composite
def well_formed(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """A CloudEvent the parser must accept: a known type with valid data, or an unknown type."""
    type_ = kind or draw(KIND | st.just("org.example.unknown"))
    data = draw(
        _data_for(type_) if type_ in KINDS else st.dictionaries(SAFE_ID, FINITE, max_size=4)
    )
    event = {
        "specversion": "1.0",
        "id": draw(SAFE_ID),
        "source": draw(st.sampled_from(["/journal/school-17", "/journal/школа-5", "urn:x"])),
        "type": type_,
        "data": data,
    }
    if draw(st.booleans()):
        event["time"] = draw(TIMES)
    if draw(st.booleans()):
        event["datacontenttype"] = "application/json"
    if draw(st.booleans()):
        event["subject"] = draw(SAFE_ID)
    return event


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event with random damage: attributes dropped, replaced, added; data replaced
    or its fields broken; `time` invalid."""
    event = draw(well_formed())
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["drop", "set", "extra", "time", "data", "field"]))
        if how == "drop" and event:
            event.pop(draw(st.sampled_from(sorted(event))))
        elif how == "set" and event:
            event[draw(st.sampled_from(sorted(event)))] = draw(ANY_VALUE)
        elif how == "extra":
            event[draw(TEXT | st.sampled_from(["data_base64", "DATA", "x" * 300, "ext1"]))] = draw(
                ANY_VALUE
            )
        elif how == "time":
            event["time"] = draw(BAD_TIMES)
        elif how == "data":
            event["data"] = draw(ANY_VALUE)
        elif how == "field" and isinstance(event.get("data"), dict) and event["data"]:
            data = dict(event["data"])
            data[draw(st.sampled_from(sorted(data)) | TEXT)] = draw(ANY_VALUE)
            event["data"] = data
    return event


EVENTS = well_formed() | mutated() | JSON


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


def _dumps(value: Any) -> bytes:
    """JSON as UTF-8; with \\u escapes where a lone surrogate cannot be UTF-8."""
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value).encode()


def _header_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("latin-1", "replace").decode("latin-1")[:2000]


# --------------------------------------------------------------------------- 1. the parser


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


# --------------------------------------------------------------------------- request models

PLAUSIBLE = st.sampled_from(
    [
        "s17", "7b", "st-1", "g-1", "t-1", "Europe/Moscow", "Mars/Olympus", "21:00", "08:00",
        "24:00", "+79161234567", "8 916 123-45-67", "+1", "mum@parents.example.org", "not@", "ru",
        "en-US", "instant", "digest", "weekly", "off", "telegram", "email", "sms", "paper",
        "marks", "summary", "2026-11-24T18:00:00+03:00", "2026-11-24T18:00:00", "Заявление № 1",
        "123456:ABCdef_-", "", "   ",
    ]
)  # fmt: skip
VALUES = PLAUSIBLE | ANY_VALUE | st.lists(PLAUSIBLE | TEXT, max_size=5)
MODELS: list[type[BaseModel]] = [
    SchoolIn, ClassIn, StudentIn, GuardianIn, StaffIn, ConsentIn, QuietHours,
    PreferencesIn, SubscriptionsIn, AnnouncementIn, Audience,
]  # fmt: skip


def _fields(model: type[BaseModel]) -> list[str]:
    return sorted(model.model_fields)


def body_for(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """JSON objects with the model's own field names (and others), values plausible or wild."""
    nested: dict[str, st.SearchStrategy[Any]] = {
        "quiet_hours": st.deferred(lambda: body_for(QuietHours)),
        "audience": st.deferred(lambda: body_for(Audience)),
        "categories": st.dictionaries(PLAUSIBLE | TEXT, PLAUSIBLE | SCALARS, max_size=4),
        "per_student": st.dictionaries(
            PLAUSIBLE | TEXT,
            st.dictionaries(PLAUSIBLE, PLAUSIBLE | SCALARS, max_size=3),
            max_size=3,
        ),
        "channels": st.lists(PLAUSIBLE | SCALARS, max_size=5),
        "student_ids": st.lists(PLAUSIBLE | TEXT | st.integers(), max_size=5),
        "class_ids": st.lists(PLAUSIBLE | TEXT, max_size=5),
    }
    key = st.sampled_from(_fields(model)) | TEXT

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        names = draw(st.lists(key, max_size=len(model.model_fields) + 2, unique=True))
        return {n: draw(nested[n] | VALUES if n in nested else VALUES) for n in names}

    return build() | ANY_VALUE


def _error_names_a_field(model: type[BaseModel], err: Any) -> bool:
    if err["loc"] or err["type"] == "model_type":  # the body itself is not an object
        return True
    if "the field name" in err["msg"]:  # a name that is not storable text
        return True
    names = set(_fields(model)) | {f for m in (QuietHours, Audience) for f in _fields(m)}
    return any(name in err["msg"] for name in names)


@FUZZ
@given(model=st.sampled_from(MODELS), st_data=st.data())
def test_request_models_accept_or_name_the_field(
    model: type[BaseModel], st_data: st.DataObject
) -> None:
    body = st_data.draw(body_for(model))
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        assert all(_error_names_a_field(model, err) for err in exc.errors()), exc.errors()
    else:
        # What a model accepts, both databases store: UTF-8 text without NUL.
        for s in _strings(parsed.model_dump(mode="json")):
            s.encode("utf-8")
            assert "\x00" not in s


# --------------------------------------------------------------------------- through the API


async def _seed(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Учитель"})


def _reason(response: httpx.Response) -> str:
    body = response.json()
    return body["error"] if "error" in body else body["rejected"][0]["error"]


ROUTES: list[tuple[str, str, type[BaseModel]]] = [
    ("PUT", "/v1/schools/s17", SchoolIn),
    ("PUT", "/v1/schools/new-school", SchoolIn),
    ("PUT", "/v1/classes/7b", ClassIn),
    ("PUT", "/v1/students/st-2", StudentIn),
    ("PUT", "/v1/guardians/g-1", GuardianIn),
    ("PUT", "/v1/staff/t-2", StaffIn),
    ("POST", "/v1/guardians/g-1/consent", ConsentIn),
    ("PUT", "/v1/guardians/g-1/preferences", PreferencesIn),
    ("PUT", "/v1/schools/s17/subscriptions", SubscriptionsIn),
    ("POST", "/v1/announcements", AnnouncementIn),
]


@SQLITE
@pytest.mark.slow
@API
@given(route=st.sampled_from(ROUTES), st_data=st.data())
async def test_request_bodies_through_the_api_get_a_reason_never_a_5xx(
    api: httpx.AsyncClient, route: tuple[str, str, type[BaseModel]], st_data: st.DataObject
) -> None:
    if (await api.get("/v1/guardians/g-1")).status_code == 404:
        await _seed(api)
    method, path, model = route
    body = st_data.draw(body_for(model).map(_dumps) | st.binary(max_size=100))
    response = await api.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert _reason(response).strip()
        if response.status_code == 422:
            assert "field" in response.json()


@SQLITE
@pytest.mark.slow
@API
@given(
    mode=st.sampled_from(["structured", "batch", "binary", "none"]),
    body=st.binary(max_size=200) | EVENTS.map(_dumps) | st.lists(EVENTS, max_size=4).map(_dumps),
    headers=st.dictionaries(
        st.sampled_from(["ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time"]),
        SAFE_ID | TEXT.map(lambda t: _header_value(t).encode("latin-1")),
        max_size=4,
    ),
)
async def test_events_in_any_mode_get_a_reason_never_a_5xx(
    api: httpx.AsyncClient, mode: str, body: bytes, headers: dict[str, str]
) -> None:
    content_type = {
        "structured": "application/cloudevents+json",
        "batch": "application/cloudevents-batch+json",
        "binary": "application/json",
        "none": "text/plain",
    }[mode]
    if mode != "binary":
        headers = {}
    response = await api.post(
        "/v1/events", content=body, headers={**headers, "Content-Type": content_type}
    )
    assert response.status_code in (202, 400, 415, 422), response.text
    result = response.json()
    if response.status_code != 202:
        assert result["accepted"] == [] and result["rejected"]
    for item in result["rejected"]:
        assert item["error"].strip()


@SQLITE
@pytest.mark.slow
@API
@given(
    valid=st.lists(well_formed(), max_size=4, unique_by=lambda e: e["id"]),
    invalid=st.lists(mutated() | JSON, max_size=4),
    order=st.randoms(use_true_random=False),
)
async def test_valid_events_next_to_invalid_ones_are_accepted(
    api: httpx.AsyncClient, valid: list[dict[str, Any]], invalid: list[Any], order: random.Random
) -> None:
    # Mutations that left a valid event (or made the whole batch not JSON: NaN) are left out.
    bad = [item for item in invalid if isinstance(_verdict(item), Rejected)]
    batch: list[Any] = [*valid, *bad]
    order.shuffle(batch)
    if not batch:
        return
    response = await api.post(
        "/v1/events",
        content=_dumps(batch),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    result = response.json()
    accepted = [e["id"] for e in batch if isinstance(e, dict) and e in valid]
    assert response.status_code == (202 if valid else 422), response.text
    assert result["accepted"] == accepted
    assert len(result["rejected"]) == len(batch) - len(accepted)
    assert all(r["error"].strip() for r in result["rejected"])


def _verdict(item: Any) -> Any:
    try:  # NaN or Infinity anywhere make the whole batch not JSON
        json.dumps(item, allow_nan=False)
    except ValueError:
        return None
    [parsed] = parse_batch(_dumps([item]), max_bytes=MAX_BYTES)
    return parsed


CSV_HEADER = (
    "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email;consent_date"
)
CSV_CELL = (
    PLAUSIBLE
    | TEXT
    | NASTY_TEXT
    | st.sampled_from(['"', '"a;b"', '"open', "01.09.2026", "2026-02-30", "+79161234567"])
)


@SQLITE
@pytest.mark.slow
@API
@given(
    header=st.sampled_from(
        [
            CSV_HEADER,
            CSV_HEADER.replace(";", ","),
            "школа;класс;ученик_id;ученик;родитель_id;родитель;телефон;почта;согласие",
            "a;b",
            "",
        ]
    ),
    rows=st.lists(st.lists(CSV_CELL, min_size=0, max_size=11), max_size=6),
    encoding=st.sampled_from(["utf-8", "cp1251", "utf-16"]),
    raw=st.none() | st.binary(max_size=200),
)
async def test_roster_csv_rows_get_a_line_and_a_reason_never_a_5xx(
    api: httpx.AsyncClient, header: str, rows: list[list[str]], encoding: str, raw: bytes | None
) -> None:
    if (await api.get("/v1/guardians/g-1")).status_code == 404:
        await _seed(api)
    text = "\n".join([header, *(";".join(row) for row in rows)])
    data = raw if raw is not None else text.encode(encoding, "replace")
    response = await api.post(
        "/v1/roster/import?dry_run=true", content=data, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert _reason(response).strip()
    else:
        report = response.json()
        assert all(e["line"] >= 2 and e["error"].strip() for e in report["errors"])


# --------------------------------------------------------------------------- 3. the stream

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


# --------------------------------------------------------------------------- regressions
# One test per bug the fuzzers found; those that were 500s on PostgreSQL only run on both
# databases (the `database_url` fixture's default).


def _event(**attributes: Any) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": "reg-1",
        "source": "/journal/school-17",
        "type": "journal.mark.created",
        "data": {"mark_id": "m-1", "student_id": "st-1", "subject": "Алгебра", "value": "5"},
    }
    return {**event, **attributes}


CRASHING_BODIES = {
    # RecursionError from json.loads: a 500, and from the stream the consumer raised (stalled).
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    # ValueError from int(): more than 4300 digits.
    "a number has too many digits": b'{"specversion":"1.0","id":"1","data":' + b"1" * 5000 + b"}",
    # NaN and Infinity are not JSON (PostgreSQL's jsonb refused them after the 202).
    "is not a JSON number": b'{"specversion":"1.0","id":"a","source":"s","type":"t","data":{"x":NaN}}',
    # A lone surrogate cannot be UTF-8: publishing the accepted event to Redis was a 500.
    "source: is not valid Unicode": json.dumps(_event(source="/j/\ud800")).encode(),
    "data.note: is not valid Unicode": json.dumps(
        _event(data={**_event()["data"], "note": "\udfff"})
    ).encode(),
    # PostgreSQL refuses NUL in text and jsonb: stored never, dead-lettered after the 202.
    "data.subject: contains the NUL character": json.dumps(
        _event(data={**_event()["data"], "subject": "Алгебра\x00"})
    ).encode(),
    # Past datetime's range once in UTC: OverflowError when stored.
    "time: '0001-01-01T00:00:00+05:00' is out of range": json.dumps(
        _event(time="0001-01-01T00:00:00+05:00")
    ).encode(),
    # Longer than the journal_events columns: PostgreSQL refused them when stored.
    "id: at most 200 characters": json.dumps(_event(id="x" * 201)).encode(),
    "source: at most 500 characters": json.dumps(_event(source="/" + "x" * 500)).encode(),
    "type: at most 100 characters": json.dumps(_event(type="t" * 101)).encode(),
    "nested deeper than 32 levels": json.dumps(
        _event(type="org.example.x", data=json.loads("[" * 40 + "]" * 40))
    ).encode(),
}


def _as_batch(body: bytes) -> bytes:
    return body if body.startswith(b"[") else b"[" + body + b"]"


@pytest.mark.parametrize("reason", sorted(CRASHING_BODIES))
def test_regression_bodies_that_broke_the_parser_get_a_reason(reason: str) -> None:
    body = CRASHING_BODIES[reason]
    for parse in (
        parse_structured,
        lambda b, **kw: parse_batch(_as_batch(b), **kw),
        lambda b, **kw: [parse_stream_entry({b"event": b}, **kw)],
    ):
        try:
            parsed = parse(body, max_bytes=10**7)
        except InvalidInput as exc:
            assert reason in exc.reason
        else:
            assert all(isinstance(p, Rejected) and reason in p.error for p in parsed), parsed


async def test_regression_bad_events_through_the_api_are_refused_not_lost(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Each was a 500, or a 202 for an event the consumer then could not store (both
    databases); now a 4xx naming the problem, and nothing reaches the stream."""
    for reason, body in CRASHING_BODIES.items():
        for content_type in ("application/cloudevents+json", "application/cloudevents-batch+json"):
            data = body if content_type.endswith("cloudevents+json") else _as_batch(body)
            response = await api.post(
                "/v1/events", content=data, headers={"Content-Type": content_type}
            )
            assert response.status_code in (400, 422), (reason, response.text)
            assert response.json()["accepted"] == []
            assert reason.split(":")[0] in response.json()["rejected"][0]["error"]
    # A rejected event whose id holds a lone surrogate: its JSON answer was a 500.
    response = await api.post(
        "/v1/events",
        content=json.dumps([_event(id="\ud800", specversion="0.3")]).encode(),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    assert response.status_code == 422 and response.json()["rejected"][0]["id"] == "\\ud800"
    assert await runtime.redis.xlen(STREAM) == 0


async def test_regression_events_at_the_limits_are_stored_on_both_databases(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    edge = [
        _event(id="i" * 200, source="/" + "s" * 499, time="0001-01-01T05:00:00+05:00"),
        _event(
            id="e-2",
            type="t" * 100,
            data={"note": "я" * 1000, "deep": json.loads("[" * 30 + "]" * 30)},
        ),
    ]
    response = await api.post(
        "/v1/events",
        content=_dumps(edge),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    assert response.status_code == 202 and len(response.json()["accepted"]) == 2, response.text
    consumer = runtime.consumer(name="edge")
    while await consumer.run_once():
        pass
    assert await runtime.redis.xlen(DEAD_STREAM) == 0
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(JournalEvent)) == 2


async def test_regression_the_consumer_dead_letters_what_used_to_escape_it(
    runtime: Runtime,
) -> None:
    """A RecursionError, a ValueError, and a UnicodeEncodeError (while dead-lettering an event
    with a lone surrogate that could not be stored) escaped run_once: the entries stayed
    pending and came back after every claim (the group stalled)."""
    for body in (
        CRASHING_BODIES["nested too deeply"],
        CRASHING_BODIES["a number has too many digits"],
        CRASHING_BODIES["data.note: is not valid Unicode"],
        CRASHING_BODIES["data.subject: contains the NUL character"],
        CRASHING_BODIES["time: '0001-01-01T00:00:00+05:00' is out of range"],
    ):
        await runtime.redis.xadd(STREAM, {"event": body})
    consumer = runtime.consumer(name="regression")
    while await consumer.run_once():
        pass
    assert (await runtime.redis.xpending(STREAM, GROUP))["pending"] == 0
    dead = await runtime.redis.xrange(DEAD_STREAM)
    assert len(dead) == 5 and all(fields[b"reason"] for _, fields in dead)


async def test_regression_request_bodies_with_text_no_store_takes(api: httpx.AsyncClient) -> None:
    """NUL (PostgreSQL) and lone surrogates (both databases, and Redis) in any string of a
    request body were a 500 when stored; now a 422 naming the field."""
    await _seed(api)
    cases = [
        ("PUT", "/v1/schools/s17", {"name": "Школа\x00"}, "name"),
        ("PUT", "/v1/schools/s17", {"name": "\ud800"}, "name"),
        (
            "PUT",
            "/v1/schools/s17",
            {"name": "Школа", "quiet_hours": {"start": "\udc00", "end": "08:00"}},
            "quiet_hours",
        ),
        ("PUT", "/v1/students/st-1", {"school_id": "s17", "full_name": "Пётр\x00"}, "full_name"),
        ("PUT", "/v1/guardians/g-1", {"full_name": "\ud83d", "student_ids": ["st-1"]}, "full_name"),
        ("PUT", "/v1/staff/t-1", {"school_id": "s17", "full_name": "x", "role": "\x00"}, "role"),
        ("POST", "/v1/guardians/g-1/consent", {"document": "№ 1\x00"}, "document"),
        ("PUT", "/v1/guardians/g-1/preferences", {"basis": "\ud800"}, "basis"),
        ("PUT", "/v1/guardians/g-1/preferences", {"per_student": {"st-1\x00": {}}}, "per_student"),
        (
            "POST",
            "/v1/announcements",
            {"audience": {"class_ids": ["7b"]}, "text": "Собрание\x00"},
            "text",
        ),
        (
            "POST",
            "/v1/announcements",
            {"audience": {"class_ids": ["\ud800"]}, "text": "x"},
            "audience",
        ),
        ("PUT", "/v1/schools/s17", {"name": "x", "\ud800": 1}, "body"),
        # ZoneInfo("x" * 300) raised OSError (file name too long): a 500.
        ("PUT", "/v1/schools/s17", {"name": "Школа", "timezone": "x" * 300}, "timezone"),
    ]
    for method, path, body, field in cases:
        response = await api.request(
            method, path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["error"].startswith(field), response.json()


async def test_regression_parameters_no_store_takes(api: httpx.AsyncClient) -> None:
    """NUL in a path or query parameter (PostgreSQL refuses it even in a WHERE), an id longer
    than its column on PUT, a page number past the INTEGER ids: 500s, now 422s."""
    await _seed(api)
    for path, field in [
        ("/v1/guardians/g%001", "'guardian_id'"),
        ("/v1/notifications?guardian_id=%00", "'guardian_id'"),
        ("/v1/audit?subject_type=%00", "'subject_type'"),
        ("/v1/notifications?before=2147483648", "query.before"),
        ("/v1/events/unmatched?before=99999999999999999999", "query.before"),
        ("/v1/audit?before=4294967296", "query.before"),
    ]:
        response = await api.get(path)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"].startswith(field), response.json()
    response = await api.post("/v1/events/unmatched/replay?pk=1&pk=8589934592")
    assert response.status_code == 422 and response.json()["error"].startswith("query.pk")
    response = await api.put(f"/v1/schools/{'s' * 65}", json={"name": "Школа"})
    assert (
        response.status_code == 422
        and response.json()["error"] == "school_id: at most 64 characters"
    )


async def test_regression_every_4xx_says_why(api: httpx.AsyncClient) -> None:
    """FastAPI's own answers said {"detail": ...} (a body that is not JSON, an unknown path,
    a method not allowed); a body that is not an object said ": Input should be ..."."""
    response = await api.put(
        "/v1/schools/s17", content=b"\x80", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]
    assert (await api.get("/v1/nothing-here")).json()["error"] == "Not Found"
    assert (await api.patch("/v1/schools/s17")).json()["error"] == "Method Not Allowed"
    response = await api.put("/v1/schools/s17", json=[1])
    assert response.status_code == 422 and response.json()["error"].startswith("body: ")


async def test_regression_dead_letter_ids_of_another_shape(api: httpx.AsyncClient) -> None:
    """Redis refuses a stream id of another shape: the replay answered 500."""
    for ident in ("abc", "-", "+", "1-2-3", "99999999999999999999-0", "18446744073709551616-0"):
        response = await api.post(f"/v1/dead-letters/{ident}/replay")
        assert response.status_code == 404, (ident, response.text)
        assert response.json()["error"].startswith("no dead letter")


async def test_regression_roster_csv_with_nul(api: httpx.AsyncClient) -> None:
    """A NUL in a CSV value reached PostgreSQL (even the lookup of the ids): a 500."""
    await _seed(api)
    csv = f"{CSV_HEADER}\ns17;7b;st-9\x00;Пётр;g-9;Анна;;anna@example.org;\ns17;7b;st-8;Ия;g-8;Ян;;ian@example.org;\n"
    response = await api.post(
        "/v1/roster/import", content=csv.encode(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["imported"] == 1
    assert report["errors"] == [
        {"line": 2, "error": "a value contains the NUL character (\\u0000)"}
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_regression_roster_csv_with_only_empty_values(api: httpx.AsyncClient) -> None:
    """A file whose non-blank lines hold only empty values had no header record: IndexError."""
    for data in (b'""\n', b'" ";""\n\n', b";;;\r\n"):
        response = await api.post(
            "/v1/roster/import", content=data, headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"].startswith("the file has no values")
