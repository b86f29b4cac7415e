"""The cross-tenant matrix (SPEC §8): every operation of the OpenAPI schema, called by each
principal of school A against school B's records, with B's ids in the path, in the query and
in the body. Whatever it answers, it must not be a 5xx, must be a status the schema documents,
must not show any of B's data the caller did not send, and must leave the database and the event
streams as they were.

Generated from the schema: an operation whose path or body this file cannot fill with B's ids
fails the test, so a new route cannot skip it."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from notifier.api.app import create_app
from notifier.auth import Role, create_token
from notifier.db.models import Base, JournalEvent
from notifier.events.stream import DEAD_STREAM, STREAM
from notifier.runtime import Runtime
from tests.factories import cloud_event, mark, post_structured, put
from tests.test_roles import PUBLIC, documented

EVENT = {"Content-Type": "application/cloudevents+json"}

# School B's records, and what of them must never reach a principal of school A.
B = {
    "school_id": "school-b",
    "class_id": "class-b",
    "student_id": "pupil-b",
    "guardian_id": "guardian-b",
    "staff_id": "teacher-b",
}
A = {
    "school_id": "school-a",
    "class_id": "class-a",
    "student_id": "pupil-a",
    "guardian_id": "guardian-a",
    "staff_id": "teacher-a",
}
B_SECRETS = [
    *B.values(),
    "Школа Бэ",
    "Бобров Борис",
    "Боброва Белла",
    "bella@b.example.org",
    "+79990001122",
    "Замечание-Бэ",
    "Объявление-Бэ",
    "ev-b-unmatched",
    "ev-b-foreign",
]


def _bodies(target: dict[str, str]) -> dict[str, Any]:
    """A request body per schema (or per raw operation) that names `target`'s records."""
    school, klass, pupil = target["school_id"], target["class_id"], target["student_id"]
    return {
        "SchoolIn": {"name": "Школа"},
        "ClassIn": {"school_id": school, "name": "9Я", "class_teacher_id": target["staff_id"]},
        "StudentIn": {"school_id": school, "class_id": klass, "full_name": "Новиков Нил"},
        "GuardianIn": {"full_name": "Новикова", "phone": "+79990003344", "student_ids": [pupil]},
        "StaffIn": {"school_id": school, "full_name": "Новый Учитель"},
        "ConsentIn": {"document": "Заявление"},
        "PreferencesIn": {"per_student": {pupil: {"marks": "off"}}},
        "SubscriptionsIn": {"categories": {"homework": "digest"}},
        "AnnouncementIn": {"audience": {"class_ids": [klass], "student_ids": [pupil]}, "text": "Х"},
        ("POST", "/v1/events"): mark(pupil),
        ("POST", "/v1/roster/import"): (
            "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email\n"
            f"{school};{klass};{pupil};Новиков Нил;{target['guardian_id']};Новикова;"
            "+79990003344;\n"
        ),
    }


@pytest.fixture
async def world(api: httpx.AsyncClient, runtime: Runtime, pump: Any) -> dict[str, Any]:
    """Schools A and B on one service. B's class names A's teacher id before that teacher
    exists, as a careless (or hostile) import could: it must not make them B's class teacher."""
    for path, body in [
        ("/v1/schools/school-b", {"name": "Школа Бэ"}),
        ("/v1/staff/teacher-b", {"school_id": "school-b", "full_name": "Бэ Учитель"}),
        (
            "/v1/classes/class-b",
            {"school_id": "school-b", "name": "7Б", "class_teacher_id": "teacher-a"},
        ),
        (
            "/v1/students/pupil-b",
            {"school_id": "school-b", "class_id": "class-b", "full_name": "Бобров Борис"},
        ),
        (
            "/v1/guardians/guardian-b",
            {
                "full_name": "Боброва Белла",
                "email": "bella@b.example.org",
                "phone": "+79990001122",
                "student_ids": ["pupil-b"],
            },
        ),
        ("/v1/schools/school-a", {"name": "Школа А"}),
        ("/v1/staff/teacher-a", {"school_id": "school-a", "full_name": "А Учитель"}),
        (
            "/v1/classes/class-a",
            {"school_id": "school-a", "name": "5А", "class_teacher_id": "teacher-a"},
        ),
        (
            "/v1/students/pupil-a",
            {"school_id": "school-a", "class_id": "class-a", "full_name": "Алексеев Антон"},
        ),
        (
            "/v1/guardians/guardian-a",
            {"full_name": "Алексеева", "email": "a@a.example.org", "student_ids": ["pupil-a"]},
        ),
    ]:
        await put(api, path, body)
    for guardian in ("guardian-a", "guardian-b"):
        r = await api.post(f"/v1/guardians/{guardian}/consent", json={"document": "Заявление"})
        assert r.status_code == 201, r.text
    tokens: dict[str, dict[str, str]] = {}
    async with runtime.sessions() as session:
        for name, role, kw in [
            ("admin_a", Role.admin, {"school_id": "school-a"}),
            ("integration_a", Role.integration, {"school_id": "school-a"}),
            ("teacher_a", Role.teacher, {"staff_id": "teacher-a"}),
            ("admin_b", Role.admin, {"school_id": "school-b"}),
            ("integration_b", Role.integration, {"school_id": "school-b"}),
        ]:
            token, _ = await create_token(session=session, role=role, **kw)
            tokens[name] = {"Authorization": f"Bearer {token}"}
    # B's life: a comment delivered by email, an announcement, an event about a pupil nobody
    # knows yet (unmatched), and one that turns out to name A's pupil (a dead letter of B's).
    comment = cloud_event(
        "journal.comment.created", {"student_id": "pupil-b", "text": "Замечание-Бэ"}
    )
    assert (await post_structured(api, comment)).status_code == 202
    created = await api.post(
        "/v1/announcements",
        json={"audience": {"class_ids": ["class-b"]}, "text": "Объявление-Бэ"},
        headers=tokens["admin_b"],
    )
    assert created.status_code == 201, created.text
    for event_id, pupil in (("ev-b-unmatched", "pupil-y"), ("ev-b-foreign", "pupil-x")):
        event = cloud_event(
            "journal.comment.created", {"student_id": pupil, "text": "Т"}, id_=event_id
        )
        r = await api.post(
            "/v1/events", content=json.dumps(event), headers={**EVENT, **tokens["integration_b"]}
        )
        assert r.status_code == 202, r.text
    await put(
        api,
        "/v1/students/pupil-x",
        {"school_id": "school-a", "class_id": "class-a", "full_name": "Иксов"},
    )
    await pump()
    async with runtime.sessions() as session:
        unmatched = await session.scalar(
            select(JournalEvent.pk).where(JournalEvent.event_id == "ev-b-unmatched")
        )
    dead = await runtime.redis.xrange(DEAD_STREAM)
    assert [f[b"school"] for _, f in dead] == [b"school-b"], dead
    return {
        "tokens": tokens,
        "a": A,
        "ident": {
            "announcement": created.json()["id"],
            "dead_letter": dead[0][0].decode(),
        },
        "unmatched_pk": str(unmatched),
    }


async def _snapshot(runtime: Runtime) -> list[Any]:
    """Every row of every table, and the streams' lengths."""
    out: list[Any] = []
    async with runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            out.append((table.name, sorted(repr(tuple(r)) for r in rows)))
    out.append(("streams", await runtime.redis.xlen(STREAM), await runtime.redis.xlen(DEAD_STREAM)))
    return out


def _path_value(name: str, path: str, ids: dict[str, str], world: dict[str, Any]) -> str:
    if name in ids:
        return ids[name]
    if name == "ident":
        kind = "dead_letter" if "dead-letters" in path else "announcement"
        value: str = world["ident"][kind]
        return value
    raise AssertionError(f"{path}: no value for path parameter {name!r}; add it to this test")


def _query(op: dict[str, Any], world: dict[str, Any]) -> dict[str, str]:
    """Query parameters that can name another school's records, set to B's."""
    names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
    query = {}
    if "guardian_id" in names:
        query["guardian_id"] = B["guardian_id"]
    if "event_id" in names:
        query["event_id"] = "ev-b-unmatched"
    if "pk" in names:
        query["pk"] = world["unmatched_pk"]
    if "subject_type" in names:
        query.update(subject_type="guardian", subject_id=B["guardian_id"])
    return query


def _body(method: str, path: str, op: dict[str, Any], bodies: dict[Any, Any]) -> Any:
    content = op.get("requestBody", {}).get("content")
    if not content:
        return None
    if (method, path) in bodies:
        return bodies[(method, path)]
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    assert name in bodies, f"{method} {path}: no body naming school B for {ref!r}; add one"
    return bodies[name]


def _fill(path: str, ids: dict[str, str], world: dict[str, Any]) -> str:
    for name in re.findall(r"\{([^}]+)\}", path):
        path = path.replace(f"{{{name}}}", _path_value(name, path, ids, world))
    return path


def _requests(schema: dict[str, Any], world: dict[str, Any]) -> list[tuple[str, str, Any, dict]]:
    """(method, url, body, query) for each operation: B's ids in the path and in the body; and
    where the path names a record and the body names others, B's record with A's ids in the
    body (moving B's record into A) and A's record with B's ids (pulling B's into A)."""
    out = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            verb = method.upper()
            if (verb, path) in PUBLIC:
                continue
            body = _body(verb, path, op, _bodies(B))
            query = _query(op, world)
            out.append((verb, _fill(path, B, world), body, query))
            params = re.findall(r"\{([^}]+)\}", path)
            names_b = any(v in json.dumps(body, ensure_ascii=False) for v in B.values())
            if params and names_b and all(p in A for p in params):
                out.append((verb, _fill(path, A, world), body, query))
                out.append((verb, _fill(path, B, world), _body(verb, path, op, _bodies(A)), {}))
    return out


def _sent(url: str, body: Any, query: dict[str, str]) -> str:
    return url + json.dumps(body, ensure_ascii=False) + json.dumps(query, ensure_ascii=False)


@pytest.mark.slow
async def test_no_principal_of_school_a_reaches_school_b(
    api: httpx.AsyncClient, runtime: Runtime, world: dict[str, Any], settings: Any
) -> None:
    schema = create_app(settings).openapi()
    requests = _requests(schema, world)
    failures = []
    calls = 0
    before = await _snapshot(runtime)
    for principal in ("admin_a", "integration_a", "teacher_a"):
        for method, url, body, query in requests:
            content = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            media = "text/csv" if isinstance(body, str) else "application/json"
            if url == "/v1/events":
                media = EVENT["Content-Type"]
            r = await api.request(
                method,
                url,
                params=query,
                content=content if body is not None else None,
                headers={"Content-Type": media, **world["tokens"][principal]},
            )
            calls += 1
            where = f"{method} {url} {query or ''} as {principal}: {r.status_code}"
            if r.status_code >= 500:
                failures.append(f"{where} (a server error)")
            if r.status_code not in documented(schema, method, url):
                failures.append(f"{where} (not a status the schema documents)")
            sent = _sent(url, body, query)
            text = r.content.decode("utf-8", "replace")
            if leaked := [s for s in B_SECRETS if s not in sent and s in text]:
                failures.append(f"{where} shows school B's {leaked}")
            after = await _snapshot(runtime)
            if after != before:
                changed = [a[0] for a, b in zip(after, before, strict=True) if a != b]
                failures.append(f"{where} changed {changed}")
                before = after
    assert calls > 100
    assert not failures, f"{len(failures)} of {calls} calls reached school B:\n" + "\n".join(
        failures
    )


async def _comments(api: httpx.AsyncClient, guardian: str) -> list[str]:
    items = (await api.get("/v1/notifications", params={"guardian_id": guardian})).json()["items"]
    return sorted(n["event"]["id"] for n in items if n["category"] == "comments")


async def test_a_schools_token_posts_for_its_school_only(
    api: httpx.AsyncClient, world: dict[str, Any], pump: Any
) -> None:
    """Per event: A's pupil is accepted, B's rejected with a reason; B's parents hear nothing."""
    ours = cloud_event("journal.comment.created", {"student_id": "pupil-a", "text": "А"})
    theirs = cloud_event("journal.comment.created", {"student_id": "pupil-b", "text": "Б"})
    r = await api.post(
        "/v1/events",
        content=json.dumps([ours, theirs]),
        headers={
            "Content-Type": "application/cloudevents-batch+json",
            **world["tokens"]["integration_a"],
        },
    )
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == [ours["id"]]
    [rejected] = r.json()["rejected"]
    assert rejected["id"] == theirs["id"] and "another school" in rejected["error"]
    await pump()
    assert ours["id"] in await _comments(api, "guardian-a")
    assert theirs["id"] not in await _comments(api, "guardian-b")


async def test_a_schools_token_cannot_claim_another_schools_event_keys(
    api: httpx.AsyncClient, world: dict[str, Any], pump: Any
) -> None:
    """A's token uses (source, id) first; B's journal then sends its own event with that key:
    it is B's, and it goes out."""
    key = {"id_": "ev-17", "source": "/journal/school-b"}
    first = cloud_event("journal.comment.created", {"student_id": "pupil-a", "text": "А"}, **key)
    r = await api.post(
        "/v1/events", content=json.dumps(first), headers={**EVENT, **world["tokens"]["admin_a"]}
    )
    assert r.status_code == 202, r.text
    real = cloud_event("journal.comment.created", {"student_id": "pupil-b", "text": "Б"}, **key)
    r = await api.post(
        "/v1/events", content=json.dumps(real), headers={**EVENT, **world["tokens"]["admin_b"]}
    )
    assert r.status_code == 202, r.text
    await pump()
    assert "ev-17" in await _comments(api, "guardian-b")
    assert "ev-17" in await _comments(api, "guardian-a")


async def test_the_services_own_sources_cannot_be_posted(api: httpx.AsyncClient) -> None:
    """Summary markers and announcements live under /notifier/: nobody can claim their keys."""
    marker = cloud_event("journal.comment.created", {"student_id": "x", "text": "т"})
    marker["source"] = "/notifier/summaries"
    r = await post_structured(api, marker)
    assert r.status_code == 422
    assert "the service's own" in r.json()["rejected"][0]["error"]


async def test_dead_letters_and_unmatched_events_are_their_schools(
    api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    tokens = world["tokens"]
    for path, field in (("/v1/dead-letters", "payload"), ("/v1/events/unmatched", "id")):
        theirs = (await api.get(path, headers=tokens["admin_b"])).json()["items"]
        ours = (await api.get(path, headers=tokens["admin_a"])).json()["items"]
        assert len(theirs) == 1 and ours == [], (path, theirs, ours)
        assert "ev-b" in theirs[0][field]
    replay = await api.post(
        f"/v1/dead-letters/{world['ident']['dead_letter']}/replay", headers=tokens["admin_a"]
    )
    assert replay.status_code == 404


async def test_one_announcement_one_school_and_one_bot_one_school(
    api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    both = await api.post(
        "/v1/announcements",
        json={"audience": {"class_ids": ["class-a", "class-b"]}, "text": "Всем"},
    )
    assert both.status_code == 422 and "one school" in both.json()["error"]
    bot = "123456:" + "A" * 35
    assert (
        await api.put("/v1/schools/school-b", json={"name": "Б", "telegram_token": bot})
    ).status_code == 200
    shadow = await api.put(
        "/v1/schools/school-a",
        json={"name": "А", "telegram_token": "123456:" + "B" * 35},
        headers=world["tokens"]["admin_a"],
    )
    assert shadow.status_code == 409 and "another school" in shadow.json()["error"]


async def test_a_shared_guardian_keeps_the_other_schools_children(
    api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """A guardian with children in both schools: A's admin rewrites the A side only, sees only
    A's child, and cannot erase them."""
    await put(
        api,
        "/v1/guardians/guardian-b",
        {"full_name": "Боброва Белла", "student_ids": ["pupil-a", "pupil-b"]},
    )
    admin_a = world["tokens"]["admin_a"]
    r = await api.put(
        "/v1/guardians/guardian-b",
        json={"full_name": "Боброва Б.", "student_ids": ["pupil-a"]},
        headers=admin_a,
    )
    assert r.status_code == 200, r.text
    whole = (await api.get("/v1/guardians/guardian-b")).json()
    assert whole["student_ids"] == ["pupil-a", "pupil-b"]
    seen = (await api.get("/v1/guardians/guardian-b", headers=admin_a)).json()
    assert seen["student_ids"] == ["pupil-a"]
    erase = await api.delete("/v1/guardians/guardian-b", headers=admin_a)
    assert erase.status_code == 403 and "region-wide" in erase.json()["error"]
