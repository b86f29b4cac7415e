"""The roster and the events a journal sends, and the API as a client sees it: batches of
marks posted, what was accepted, /readyz."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from tests.factories import mark, put, put_school
from tests.faults.harness import wait_until
from tests.faults.outbox import Outbox, Row

SUBJECTS = ("Алгебра", "Геометрия", "Физика", "Русский язык", "История", "Химия")
VALUES = ("5", "4", "3", "2", "зачёт")


async def load_roster(api: httpx.AsyncClient, pupils: int, classes: int = 10) -> dict[str, int]:
    """A school without quiet hours that sends every category at once (the workers run on the
    real clock), its classes, and `pupils` pupils with one guardian each (two for every fourth
    pupil), all with an email and consent, by the CSV import. Returns the number of guardians
    of each pupil."""
    await put_school(
        api,
        "s17",
        {
            "name": "Школа № 17",
            "timezone": "Europe/Moscow",
        },
        real_clock=True,
    )
    for c in range(classes):
        await put(api, f"/v1/classes/c{c}", {"school_id": "s17", "name": f"{c % 11 + 1}А"})
    lines = [
        "school_id,class_id,student_id,student_name,guardian_id,guardian_name,email,consent_date"
    ]
    guardians: dict[str, int] = {}
    for p in range(pupils):
        student = f"st-{p}"
        ids = [f"g-{p}"] + ([f"g-{p}b"] if p % 4 == 0 else [])
        guardians[student] = len(ids)
        for g in ids:
            lines.append(
                f"s17,c{p % classes},{student},Ученик {p},{g},Родитель {g},"
                f"{g}@parents.example.org,2026-09-01"
            )
    response = await api.post(
        "/v1/roster/import",
        content="\r\n".join(lines).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == [] and body["imported"] == len(lines) - 1, body
    return guardians


def marks(rng: random.Random, pupils: list[str], n: int) -> list[dict[str, Any]]:
    return [
        mark(rng.choice(pupils), value=rng.choice(VALUES), subject=rng.choice(SUBJECTS))
        for _ in range(n)
    ]


async def post_events(api: httpx.AsyncClient, events: list[dict[str, Any]]) -> httpx.Response:
    return await api.post(
        "/v1/events",
        content=json.dumps(events, ensure_ascii=False),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )


class Journal:
    """A journal system posting batches of marks; remembers what was accepted (202)."""

    def __init__(self, api: httpx.AsyncClient, guardians: dict[str, int], seed: int) -> None:
        self.api = api
        self.guardians = guardians
        self.pupils = sorted(guardians)
        self.rng = random.Random(seed)
        self.accepted: dict[str, str] = {}  # event id -> pupil
        self.refused = 0  # requests answered with an error or not at all

    async def post(self, n: int) -> bool:
        batch = marks(self.rng, self.pupils, n)
        try:
            r = await post_events(self.api, batch)
        except httpx.HTTPError:
            self.refused += 1
            return False
        if r.status_code != 202:
            assert r.status_code >= 500, r.text  # never a client error for good events
            self.refused += 1
            return False
        pupil = {ev["id"]: ev["data"]["student_id"] for ev in batch}
        ids = r.json()["accepted"]
        assert sorted(ids) == sorted(pupil), r.text
        self.accepted.update((i, pupil[i]) for i in ids)
        return True

    def planned(self) -> int:
        """Outbox rows the accepted events must make: one per guardian of the pupil."""
        return sum(self.guardians[p] for p in self.accepted.values())

    def undelivered(self, rows: list[Row]) -> int:
        """Accepted events' rows that are missing or not sent."""
        sent = Counter(r.event_id for r in rows if r.status == "sent")
        return sum(max(0, self.guardians[p] - sent[e]) for e, p in self.accepted.items())


async def readyz(api: httpx.AsyncClient) -> httpx.Response:
    """GET /readyz; once more on a dropped connection (after an unhandled error the server
    closes the keep-alive connection the client may be about to reuse)."""
    try:
        return await api.get("/readyz")
    except httpx.TransportError:
        return await api.get("/readyz")


async def readyz_answers(
    api: httpx.AsyncClient,
    status: int,
    *,
    timeout: float,  # noqa: ASYNC109 - passed on to wait_until's deadline
    context: Callable[[], str],
) -> dict[str, Any]:
    """Wait until /readyz answers `status`; its body then."""
    seen: list[dict[str, Any]] = []

    async def answers() -> bool:
        r = await readyz(api)
        if r.status_code == status:
            seen.append(r.json())
        return r.status_code == status

    await wait_until(answers, timeout=timeout, what=f"/readyz says {status}", context=context)
    return seen[-1]


async def accepted_delivered(outbox: Outbox, journal: Journal) -> bool:
    """Every accepted event is stored and nothing waits any more."""
    if not set(journal.accepted) <= await outbox.event_ids():
        return False
    counts = await outbox.statuses()
    return counts["pending"] == 0 and counts.total() >= journal.planned()
