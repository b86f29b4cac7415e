"""Building blocks for tests: a roster through the API and CloudEvents as a journal sends them."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx

from notifier.categories import EVENT_CATEGORIES, Category, Mode
from notifier.db.models import Notification
from notifier.db.states import Outcome, RowStatus
from notifier.delivery.outbox import AttemptRow, RowUpdate

_ids = itertools.count(1)
SOURCE = "/journal/school-17"


def cloud_event(
    type_: str, data: dict[str, Any], *, id_: str | None = None, source: str = SOURCE
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": id_ or f"ev-{next(_ids)}",
        "source": source,
        "type": type_,
        "time": "2026-11-23T09:15:00+03:00",
        "datacontenttype": "application/json",
        "data": data,
    }


def mark(
    student_id: str,
    *,
    value: str = "5",
    subject: str = "Алгебра",
    mark_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return cloud_event(
        "journal.mark.created",
        {
            "mark_id": mark_id or f"m-{next(_ids)}",
            "student_id": student_id,
            "subject": subject,
            "value": value,
            "lesson_date": "2026-11-23",
            **extra,
        },
    )


def attendance(student_id: str, day: str, status: str) -> dict[str, Any]:
    return cloud_event(
        "journal.attendance.recorded",
        {"student_id": student_id, "lesson_date": day, "status": status, "lesson_number": 1},
    )


async def put(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    response = await api.put(path, json=body)
    assert response.status_code == 200, response.text


async def school_with_class(
    api: httpx.AsyncClient,
    *,
    school: str = "s17",
    klass: str = "7b",
    quiet: bool = True,
    timezone: str = "Europe/Moscow",
    quiet_defaults: bool = False,
) -> None:
    """A school and a class. Without `quiet_defaults` the school sends every category at
    once: most tests follow one message through the pipeline and state that rule here, the
    default policy (the day's report, the evening) has its own tests (test_quiet_defaults).
    Without `quiet`, for processes on the real clock: no quiet hours and no weekly summary
    (REAL_CLOCK)."""
    body = {"name": "Школа № 17", "timezone": timezone}
    await put_school(api, school, body, quiet_defaults=quiet_defaults, real_clock=not quiet)
    await put(api, f"/v1/classes/{klass}", {"school_id": school, "name": "7Б"})


async def put_school(
    api: httpx.AsyncClient,
    school: str,
    body: dict[str, Any],
    *,
    quiet_defaults: bool = False,
    real_clock: bool = False,
) -> None:
    """PUT /v1/schools/{school}; without `quiet_defaults`, with every category sent at once
    (see school_with_class). With `real_clock`, for processes on the real clock, which may run
    at night and on a weekend evening: no quiet hours, and without the weekly summary
    (REAL_CLOCK)."""
    if real_clock:
        body = body | {"quiet_hours": {"start": "00:00", "end": "00:00"}}
    await put(api, f"/v1/schools/{school}", body)
    if not quiet_defaults:
        subscriptions = REAL_CLOCK if real_clock else EVERYTHING_NOW
        await put(api, f"/v1/schools/{school}/subscriptions", subscriptions)


# A school's subscriptions that send every journal category at once (the first round's default).
EVERYTHING_NOW = {"categories": {c: "instant" for c in EVENT_CATEGORIES}}

# The same for a worker on the real clock, which plans the weekly summary by itself from
# Saturday's digest time to Sunday's end (summaries.summary_due): a test that counts a worker's
# messages would count a summary for every pupil on weekend evenings.
REAL_CLOCK = {"categories": EVERYTHING_NOW["categories"] | {Category.summary: Mode.off}}


async def pupil_with_guardian(
    api: httpx.AsyncClient,
    student: str,
    guardian: str,
    *,
    email: str | None = None,
    consent: bool = True,
    klass: str = "7b",
    school: str = "s17",
    full_name: str = "Петров Иван Сергеевич",
    guardian_name: str = "Петрова Анна",
    extra_students: tuple[str, ...] = (),
) -> None:
    await put(
        api,
        f"/v1/students/{student}",
        {"school_id": school, "class_id": klass, "full_name": full_name},
    )
    await put(
        api,
        f"/v1/guardians/{guardian}",
        {
            "full_name": guardian_name,
            "email": email or f"{guardian}@parents.example.org",
            "student_ids": [student, *extra_students],
        },
    )
    if consent:
        response = await api.post(
            f"/v1/guardians/{guardian}/consent", json={"document": "Заявление № 1 от 01.09.2026"}
        )
        assert response.status_code == 201, response.text


async def post_structured(api: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    return await api.post(
        "/v1/events",
        content=json.dumps(event),
        headers={"Content-Type": "application/cloudevents+json"},
    )


async def post_batch(api: httpx.AsyncClient, events: list[Any]) -> httpx.Response:
    return await api.post(
        "/v1/events",
        content=json.dumps(events),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )


async def post_binary(api: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = "application/json"
    return await api.post("/v1/events", content=json.dumps(event["data"]), headers=headers)


async def consume_all(runtime: Any) -> None:
    """Store and plan everything in the stream, without delivering (the consumer alone)."""
    consumer = runtime.consumer(name="test")
    while await consumer.run_once():
        pass


async def marks_planned(api: httpx.AsyncClient, runtime: Any, pupils: int) -> None:
    """A school whose pupils st-1 … st-N each have a guardian (g-1 …) and a new mark, its
    outbox rows planned: one a pupil."""
    await school_with_class(api)
    for n in range(1, pupils + 1):
        await pupil_with_guardian(api, f"st-{n}", f"g-{n}")
        await post_structured(api, mark(f"st-{n}"))
    await consume_all(runtime)


def sent_row(note: Notification, now: datetime) -> tuple[RowUpdate, AttemptRow]:
    """A claimed row as delivery records it once sent by email, and its attempt."""
    row = replace(
        RowUpdate.of(note),
        status=RowStatus.sent,
        channel="email",
        sent_at=now,
        attempts=note.attempts + 1,
    )
    return row, AttemptRow(note.id, "email", now, Outcome.sent, None)
