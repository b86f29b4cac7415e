"""Every endpoint × role × own/other school or class: allowed, or 403 with a reason."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx
import pytest

from notifier.api.app import create_app
from notifier.auth import Role, create_token
from notifier.config import Settings
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import cloud_event, mark, put

ROLES = ("admin", "school_admin", "other_admin", "teacher_own", "teacher_other", "integration")
A, SA, OA, TO, TX, IN = ROLES
EVENT = {"Content-Type": "application/cloudevents+json"}

# Ids made by the `tokens` fixture, for paths like "/v1/announcements/{announcement}".
IDS: dict[str, str] = {}

# (method, path, body, headers, {role: expected status}); "{role}" in a path is the caller's
# role, so that each role acts on a record of its own (erasure).
MATRIX: list[tuple[str, str, Any, dict[str, str], dict[str, int]]] = [
    (
        "PUT",
        "/v1/schools/s17",
        {"name": "Школа"},
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 200},
    ),
    (
        "PUT",
        "/v1/classes/7b",
        {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"},
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 200},
    ),
    (
        "PUT",
        "/v1/students/st-1",
        {"school_id": "s17", "class_id": "7b", "full_name": "А Б"},
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 200},
    ),
    (
        "PUT",
        "/v1/guardians/g-1",
        {"full_name": "Р", "email": "g1@parents.example.org", "student_ids": ["st-1"]},
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 200},
    ),
    (
        "PUT",
        "/v1/staff/t-9",
        {"school_id": "s17", "full_name": "Учитель"},
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 200},
    ),
    (
        "POST",
        "/v1/guardians/g-1/consent",
        {"document": "Заявление"},
        {},
        {A: 201, SA: 201, OA: 403, TO: 403, TX: 403, IN: 201},
    ),
    ("GET", "/v1/guardians/g-1", None, {}, {A: 200, SA: 200, OA: 403, TO: 200, TX: 403, IN: 403}),
    (
        "GET",
        "/v1/guardians/g-1/notifications",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 200, TX: 403, IN: 403},
    ),
    (
        "GET",
        "/v1/guardians/g-1/preferences",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 200, TX: 403, IN: 403},
    ),
    (
        "PUT",
        "/v1/guardians/g-1/preferences",
        {"categories": {"marks": "digest"}},
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "POST",
        "/v1/guardians/g-1/telegram-link",
        None,
        {},  # 409: Telegram is not configured
        {A: 409, SA: 409, OA: 403, TO: 409, TX: 403, IN: 403},
    ),
    (
        "POST",
        "/v1/guardians/g-1/max-link",
        None,
        {},  # 409: MAX is not configured
        {A: 409, SA: 409, OA: 403, TO: 409, TX: 403, IN: 403},
    ),
    (
        "GET",
        "/v1/schools/s17/subscriptions",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "PUT",
        "/v1/schools/s17/subscriptions",
        {"categories": {"homework": "digest"}},
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    ("GET", "/v1/notifications", None, {}, {A: 200, SA: 200, OA: 200, TO: 403, TX: 403, IN: 403}),
    (
        "POST",
        "/v1/events",
        mark("st-1"),
        EVENT,  # 422: another school's pupil (rejected per event)
        {A: 202, SA: 202, OA: 422, TO: 403, TX: 403, IN: 202},
    ),
    (
        "GET",
        "/v1/events/unmatched",
        None,
        {},
        {A: 200, SA: 200, OA: 200, TO: 403, TX: 403, IN: 200},
    ),
    (
        "POST",
        "/v1/events/unmatched/replay",
        None,
        {},
        {A: 200, SA: 200, OA: 200, TO: 403, TX: 403, IN: 200},
    ),
    ("GET", "/v1/dead-letters", None, {}, {A: 200, SA: 200, OA: 200, TO: 403, TX: 403, IN: 403}),
    (
        "POST",
        "/v1/announcements",
        {"audience": {"class_ids": ["7b"]}, "text": "Собрание"},
        {},
        {A: 201, SA: 201, OA: 403, TO: 201, TX: 403, IN: 403},
    ),
    (
        "POST",
        "/v1/roster/import?dry_run=true",
        "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email\n"
        "s17;7b;st-1;Орлов Иван;g-1;Орлова;;g1@parents.example.org\n",
        {"Content-Type": "text/csv"},
        {A: 200, SA: 200, OA: 200, TO: 403, TX: 403, IN: 200},
    ),
    ("GET", "/v1/announcements", None, {}, {A: 200, SA: 200, OA: 200, TO: 200, TX: 200, IN: 403}),
    (
        "GET",
        "/v1/announcements/{announcement}",  # the admin's, to class 7b
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "DELETE",
        "/v1/announcements/{announcement}",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "POST",
        "/v1/staff/t-1/telegram-link",
        None,
        {},  # 409: Telegram is not configured
        {A: 409, SA: 409, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "POST",
        "/v1/staff/t-1/max-link",
        None,
        {},  # 409: MAX is not configured
        {A: 409, SA: 409, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "POST",
        "/v1/dead-letters/0-1/replay",
        None,
        {},  # 404: no such entry, for those who may replay
        {A: 404, SA: 404, OA: 404, TO: 403, TX: 403, IN: 403},
    ),
    ("GET", "/v1/audit", None, {}, {A: 200, SA: 403, OA: 403, TO: 403, TX: 403, IN: 403}),
    (
        "GET",
        "/v1/audit?subject_type=guardian&subject_id=g-1",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "GET",
        "/v1/classes/7b/summary.pdf",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 200, TX: 403, IN: 403},
    ),
    (
        "GET",
        "/v1/classes/7b/summary.html",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 200, TX: 403, IN: 403},
    ),
    (
        "DELETE",
        "/v1/guardians/g-1/telegram",
        None,
        {},  # 204 also when no chat is linked: the state asked for holds
        {A: 204, SA: 204, OA: 403, TO: 204, TX: 403, IN: 403},
    ),
    (
        "DELETE",
        "/v1/staff/t-1/telegram",
        None,
        {},
        {A: 204, SA: 204, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "DELETE",
        "/v1/guardians/g-1/max",
        None,
        {},
        {A: 204, SA: 204, OA: 403, TO: 204, TX: 403, IN: 403},
    ),
    (
        "DELETE",
        "/v1/staff/t-1/max",
        None,
        {},
        {A: 204, SA: 204, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "DELETE",
        "/v1/staff/t-1/console-sessions",
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
    (
        "DELETE",
        "/v1/guardians/g-1/consent",  # granted above by A, then SA, then IN
        None,
        {},  # 404 once it is revoked: nothing in force
        {A: 204, SA: 404, OA: 403, TO: 403, TX: 403, IN: 404},
    ),
    (
        "DELETE",
        "/v1/guardians/g-del-{role}",  # each role its own guardian of pupil st-1
        None,
        {},
        {A: 200, SA: 200, OA: 403, TO: 403, TX: 403, IN: 403},
    ),
]


@pytest.fixture
async def tokens(api: httpx.AsyncClient, runtime: Runtime) -> dict[str, dict[str, str]]:
    for path, body in [
        ("/v1/schools/s17", {"name": "Школа № 17"}),
        ("/v1/schools/s99", {"name": "Школа № 99"}),
        ("/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова"}),
        ("/v1/staff/t-2", {"school_id": "s99", "full_name": "Петров"}),
        ("/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"}),
        ("/v1/classes/9a", {"school_id": "s99", "name": "9А", "class_teacher_id": "t-2"}),
        ("/v1/students/st-1", {"school_id": "s17", "class_id": "7b", "full_name": "Орлов Иван"}),
        (
            "/v1/guardians/g-1",
            {"full_name": "Орлова", "email": "g1@parents.example.org", "student_ids": ["st-1"]},
        ),
    ]:
        await put(api, path, body)
    for role in ROLES:
        await put(
            api,
            f"/v1/guardians/g-del-{role}",
            {"full_name": "Удаляемый", "student_ids": ["st-1"]},
        )
    created = await api.post(
        "/v1/announcements", json={"audience": {"class_ids": ["7b"]}, "text": "Собрание"}
    )
    assert created.status_code == 201, created.text
    IDS["announcement"] = created.json()["id"]
    out = {A: {"Authorization": f"Bearer {ADMIN_TOKEN}"}}
    async with runtime.sessions() as session:
        for name, role, kw in [
            (SA, Role.admin, {"school_id": "s17"}),
            (OA, Role.admin, {"school_id": "s99"}),
            (TO, Role.teacher, {"staff_id": "t-1"}),
            (TX, Role.teacher, {"staff_id": "t-2"}),
            (IN, Role.integration, {}),
        ]:
            token, _ = await create_token(session=session, role=role, **kw)
            out[name] = {"Authorization": f"Bearer {token}"}
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # rules, not storage
async def test_role_matrix(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="notifier.api.errors")
    schema = (await api.get("/openapi.json")).json()
    failures = []
    for method, path, body, headers, expected in MATRIX:
        for role in ROLES:
            url = path.format(role=role, **IDS)
            content = (
                None
                if body is None
                else body
                if isinstance(body, str)
                else json.dumps(body, ensure_ascii=False)
            )
            r = await api.request(
                method,
                url,
                content=content,
                headers={"Content-Type": "application/json", **headers, **tokens[role]},
            )
            if r.status_code != expected[role]:
                failures.append(f"{method} {path} as {role}: {r.status_code} {r.text[:120]}")
            elif r.status_code == 403:
                assert r.json()["error"], (method, path, role)
            if r.status_code not in documented(schema, method, url):
                failures.append(f"{method} {path} as {role}: {r.status_code} is not documented")
    assert not failures, "\n".join(failures)
    denials = [r for r in caplog.records if r.getMessage() == "api.denied"]
    assert denials and all(getattr(r, "path", None) for r in denials)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_school_admin_sees_only_their_schools_messages(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], pump
) -> None:
    await api.post("/v1/guardians/g-1/consent", json={"document": "Заявление"})
    await api.post(
        "/v1/events",
        content=json.dumps(
            cloud_event("journal.comment.created", {"student_id": "st-1", "text": "Хорошо"})
        ),
        headers=EVENT,
    )
    await pump()
    mine = (await api.get("/v1/notifications", headers=tokens[SA])).json()["items"]
    theirs = (await api.get("/v1/notifications", headers=tokens[OA])).json()["items"]
    comments = [n for n in mine if n["category"] == "comments" and n["guardian_id"] == "g-1"]
    assert len(comments) == 1 and theirs == []


# Routes anyone may call, each for a reason: probes and metrics for the operator's network, the
# unsubscribe link (signed) and the announcement page (a 128-bit id) are keys in themselves.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/unsubscribe/{token}"),
    ("POST", "/unsubscribe/{token}"),
    # The SMS provider's receipts and replies: the secret in the URL is the key (tested in
    # tests/test_sms_receipts.py: wrong secret 403, forged signatures refused).
    ("POST", "/sms/callback/{secret}"),
}
# Not in the schema, and public for the same reason: GET /a/{ident}, the announcement page.


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")


def documented(schema: dict[str, Any], method: str, url: str) -> set[int]:
    """The statuses the schema documents for the operation that answers `method url`."""
    path = url.split("?")[0]
    for template in sorted(schema["paths"], key=lambda t: t.count("{")):  # literal paths first
        operation = schema["paths"][template].get(method.lower())
        if operation is not None and _template(template).match(path):
            return {int(status) for status in operation["responses"]}
    raise AssertionError(f"{method} {url}: no such operation in the schema")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_route_has_a_role_test(settings: Settings) -> None:
    """Every operation of the OpenAPI schema has a line in MATRIX (or a reason in PUBLIC):
    a new route without a role test fails here."""
    schema = create_app(settings).openapi()
    tested = [(m, p.split("?")[0]) for m, p, *_ in MATRIX]
    missing = []
    for path, operations in schema["paths"].items():
        pattern = _template(path)
        for method in operations:
            verb = method.upper()
            if (verb, path) in PUBLIC:
                continue
            if not any(m == verb and pattern.match(p) for m, p in tested):
                missing.append(f"{verb} {path}")
    assert not missing, "routes without a role test in MATRIX:\n" + "\n".join(missing)
