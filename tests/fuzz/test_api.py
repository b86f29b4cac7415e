"""The same inputs through the API: no 5xx, a reason in every 4xx, valid events next to
invalid ones accepted, roster CSV rows with a line and a reason."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from notifier.announcements import AnnouncementIn
from notifier.events.schema import Rejected, parse_batch
from notifier.roster.choices import PreferencesIn, SubscriptionsIn
from notifier.roster.schemas import ClassIn, ConsentIn, GuardianIn, SchoolIn, StaffIn, StudentIn
from tests.fuzz.checks import _reason
from tests.fuzz.seed import _seed
from tests.fuzz.strategies import (
    API,
    CSV_CELL,
    CSV_HEADER,
    EVENTS,
    JSON,
    MAX_BYTES,
    SAFE_ID,
    SQLITE,
    TEXT,
    _dumps,
    _header_value,
    body_for,
    mutated,
    well_formed,
)

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
