"""Roster, consent, tokens and roles through the API."""

from __future__ import annotations

import httpx

from notifier.auth import Role, create_token
from notifier.runtime import Runtime
from tests.factories import pupil_with_guardian, school_with_class


async def _token(runtime: Runtime, role: Role, **kw) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session:
        token, _ = await create_token(session=session, role=role, **kw)
    return {"Authorization": f"Bearer {token}"}


async def test_bad_payloads_get_422_naming_the_field(api: httpx.AsyncClient) -> None:
    cases = [
        ("/v1/schools/s1", {"name": "Ш", "timezone": "Mars/Olympus"}, "timezone"),
        (
            "/v1/schools/s1",
            {"name": "Ш", "quiet_hours": {"start": "25:00", "end": "08:00"}},
            "quiet_hours.start",
        ),
        ("/v1/schools/s1", {"name": ""}, "name"),
        ("/v1/schools/s1", {"name": "Ш", "colour": "red"}, "colour"),
    ]
    for path, body, field in cases:
        r = await api.put(path, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field, r.text
    await school_with_class(api)
    await api.put("/v1/students/st-1", json={"school_id": "s17", "full_name": "Иванов Иван"})
    for body, field in [
        ({"full_name": "Г", "phone": "12345"}, "phone"),
        ({"full_name": "Г", "email": "not-an-email"}, "email"),
        ({"full_name": "Г", "student_ids": ["nobody"]}, "student_ids"),
    ]:
        r = await api.put("/v1/guardians/g-1", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
    r = await api.put(
        "/v1/students/st-2", json={"school_id": "s17", "class_id": "9z", "full_name": "Петров Пётр"}
    )
    assert r.status_code == 422 and r.json()["field"] == "class_id"


async def test_guardian_phone_is_normalised_and_consent_round_trips(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", consent=False)
    r = await api.put(
        "/v1/guardians/g-1",
        json={"full_name": "Иванова Мария", "phone": "8 (916) 123-45-67", "student_ids": ["st-1"]},
    )
    assert r.status_code == 200 and r.json()["phone"] == "+79161234567"
    assert (await api.get("/v1/guardians/g-1")).json()["consent"] is None
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 404
    r = await api.post("/v1/guardians/g-1/consent", json={"document": "Заявление № 7"})
    assert r.status_code == 201
    assert (await api.get("/v1/guardians/g-1")).json()["consent"]["document"] == "Заявление № 7"
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 204
    assert (await api.get("/v1/guardians/g-1")).json()["consent"] is None


async def test_default_preferences(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    prefs = (await api.get("/v1/guardians/g-1/preferences")).json()
    assert prefs["channels"] == ["telegram", "max", "email", "sms"]  # SPEC §8
    assert set(prefs["categories"]) == {
        "marks",
        "homework",
        "attendance",
        "schedule",
        "period_marks",
        "comments",
        "announcements",
        "summary",
    }
    summary = prefs["categories"].pop("summary")
    assert summary == "weekly"  # the weekly summary, on Saturdays
    assert set(prefs["categories"].values()) == {"instant"}
    assert (await api.get("/v1/guardians/nobody/preferences")).status_code == 404


async def test_roles(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await school_with_class(api)
    await school_with_class(api, school="s99", klass="9a")
    integration = await _token(runtime, Role.integration)
    teacher = await _token(runtime, Role.teacher, staff_id="t-1")
    school_admin = await _token(runtime, Role.admin, school_id="s17")

    anonymous = await api.put("/v1/schools/s1", json={"name": "Ш"}, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    r = await api.put(
        "/v1/students/st-1",
        headers=integration,
        json={"school_id": "s17", "class_id": "7b", "full_name": "Иванов Иван"},
    )
    assert r.status_code == 200
    r = await api.put(
        "/v1/students/st-2",
        headers=teacher,
        json={"school_id": "s17", "class_id": "7b", "full_name": "Иванов Иван"},
    )
    assert r.status_code == 403 and "role" in r.json()["error"]
    r = await api.put(
        "/v1/students/st-3",
        headers=school_admin,
        json={"school_id": "s99", "class_id": "9a", "full_name": "Чужой Ученик"},
    )
    assert r.status_code == 403 and "s17" in r.json()["error"]
    assert (await api.get("/v1/notifications", headers=integration)).status_code == 403
    assert (await api.get("/v1/notifications", headers=teacher)).status_code == 403
    assert (await api.get("/v1/notifications")).status_code == 200


async def test_revoked_token_is_refused(api: httpx.AsyncClient, runtime: Runtime) -> None:
    from datetime import UTC, datetime

    from notifier.db.models import ApiToken

    headers = await _token(runtime, Role.integration)
    assert (await api.put("/v1/schools/s1", json={"name": "Ш"}, headers=headers)).status_code == 200
    async with runtime.sessions() as session:
        row = (await session.scalars(ApiToken.__table__.select())).first()
        token = await session.get(ApiToken, row)
        assert token is not None
        token.revoked_at = datetime.now(UTC)
        await session.commit()
    assert (await api.put("/v1/schools/s1", json={"name": "Ш"}, headers=headers)).status_code == 401
