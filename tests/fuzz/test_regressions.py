"""One test per bug the fuzzers found; those that were 500s on PostgreSQL only run on both
databases (the `database_url` fixture's default)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notifier.db.models import JournalEvent
from notifier.errors import InvalidInput
from notifier.events.schema import Rejected, parse_batch, parse_stream_entry, parse_structured
from notifier.events.stream import DEAD_STREAM, GROUP, STREAM
from notifier.runtime import Runtime
from tests.factories import pupil_with_guardian, school_with_class
from tests.fuzz.seed import _seed
from tests.fuzz.strategies import CSV_HEADER, _dumps


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
