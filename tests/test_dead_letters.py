"""Unmatched events and dead letters: listed with reasons, replayed once the cause is fixed."""

from __future__ import annotations

import json

import httpx

from notifier.events.stream import DEAD_STREAM, STREAM
from notifier.runtime import Runtime
from tests.factories import mark, post_structured, pupil_with_guardian, school_with_class
from tests.servers.smtp_server import SmtpServer


async def test_an_unmatched_event_is_delivered_once_after_the_roster_is_fixed(
    api: httpx.AsyncClient, smtp: SmtpServer, pump
) -> None:
    await school_with_class(api)
    event = mark("st-new", subject="Черчение")
    await post_structured(api, event)
    await pump()
    [item] = (await api.get("/v1/events/unmatched")).json()["items"]
    assert item["id"] == event["id"] and "unknown pupil" in item["reason"]
    await pupil_with_guardian(api, "st-new", "g-new", email="new@parents.example.org")
    r = await api.post("/v1/events/unmatched/replay")
    assert r.json() == {"planned": 1, "still_unmatched": 0, "notifications": 1}
    await pump()
    assert [m.rcpt_tos for m in smtp.messages] == [["new@parents.example.org"]]
    again = await api.post("/v1/events/unmatched/replay")
    assert again.json()["planned"] == 0
    await post_structured(api, event)  # the journal re-sends it: still once
    await pump()
    assert len(smtp.messages) == 1
    assert (await api.get("/v1/events/unmatched")).json()["items"] == []


async def test_dead_letters_are_listed_and_a_fixed_one_replayed(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, pump
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", email="one@parents.example.org")
    await runtime.redis.xadd(STREAM, {"event": "{not json"})
    await pump()
    # An entry parked by an earlier failure to store it; its event itself is fine.
    await runtime.redis.xadd(
        DEAD_STREAM,
        {"entry_id": "1-0", "reason": "could not be stored", "payload": json.dumps(mark("st-1"))},
    )
    items = (await api.get("/v1/dead-letters")).json()["items"]
    assert [i["reason"].split(":")[0] for i in items] == [
        "could not be stored",
        "body is not valid JSON",
    ]
    garbage, fixable = items[1], items[0]
    r = await api.post(f"/v1/dead-letters/{garbage['id']}/replay")
    assert r.status_code == 422 and "still invalid" in r.json()["error"]
    r = await api.post(f"/v1/dead-letters/{fixable['id']}/replay")
    assert r.status_code == 200, r.text
    await pump()
    assert len(smtp.messages) == 1
    remaining = (await api.get("/v1/dead-letters")).json()["items"]
    assert [i["id"] for i in remaining] == [garbage["id"]]
    assert (await api.post("/v1/dead-letters/99-0/replay")).status_code == 404
