"""Personal data (152-FZ): erasure keeps only anonymous statistics; the audit trail says who
changed consent, preferences, the roster and tokens, without holding personal values itself."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from notifier.auth import Role, create_token, revoke_token
from notifier.db.models import AuditEntry, Base, Notification
from notifier.db.types import utcnow
from notifier.runtime import Runtime, run_until_idle
from tests.conftest import FakeClock
from tests.factories import mark, post_batch, pupil_with_guardian, put, school_with_class
from tests.servers.smtp_server import SmtpServer

NAME, EMAIL, PHONE = "Петрова Анна Викторовна", "anna.petrova@parents.example.org", "+79161234567"


async def _parent(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", email=EMAIL, guardian_name=NAME)
    body = {"full_name": NAME, "email": EMAIL, "phone": PHONE, "student_ids": ["st-1"]}
    await put(api, "/v1/guardians/g-1", body)
    r = await api.put(
        "/v1/guardians/g-1/preferences",
        json={"categories": {"homework": "digest"}, "basis": "Заявление № 12 от 01.09.2026"},
    )
    assert r.status_code == 200, r.text


async def _all_text(runtime: Runtime) -> str:
    """Every value of every table, as text: where personal data could hide."""
    out = []
    async with runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()  # JSON comes back decoded
            out.extend(json.dumps(list(row), ensure_ascii=False, default=str) for row in rows)
    return "\n".join(out)


async def test_erasing_a_guardian_keeps_anonymous_statistics_only(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, clock: FakeClock
) -> None:
    await _parent(api)
    homework = {
        "specversion": "1.0",
        "id": "hw-1",
        "source": "/journal/school-17",
        "type": "journal.homework.assigned",
        "data": {"homework_id": "h1", "class_id": "7b", "subject": "История", "text": "§ 7"},
    }
    assert (await post_batch(api, [mark("st-1"), homework])).status_code == 202
    await run_until_idle(runtime)  # the mark goes now; the homework waits for the digest
    assert len(smtp.messages) == 1
    assert NAME in await _all_text(runtime)

    r = await api.delete("/v1/guardians/g-1")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": "g-1",
        "erased": True,
        "delivery_records_kept": 2,
        "messages_cancelled": 1,
    }
    assert (await api.get("/v1/guardians/g-1")).status_code == 404
    everything = await _all_text(runtime)
    for value in (NAME, "Петрова", EMAIL, PHONE, "anna.petrova"):
        assert value not in everything, value

    async with runtime.sessions() as session:
        notes = list(await session.scalars(select(Notification).order_by(Notification.id)))
        trail = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.subject_id == "g-1"))
        )
    # The statistics stay: a message sent by email, one cancelled; whose, nobody can tell.
    assert [(n.category, n.channel, n.status) for n in notes] == [
        ("marks", "email", "sent"),
        ("homework", None, "cancelled"),
    ]
    assert len({n.guardian_id for n in notes}) == 1
    assert notes[0].guardian_id.startswith("erased-") and "g-1" not in notes[0].guardian_id
    # Who did what stays in the trail; what it held does not.
    actions = [e.action for e in trail]
    assert actions[-1] == "guardian.erase" and "guardian.put" in actions
    assert "consent.grant" in actions and "preferences.set" in actions
    assert all(e.detail is None for e in trail if e.action != "guardian.erase")

    # The pupil's next mark reaches nobody: the guardian is gone, not just muted.
    smtp.clear()
    assert (await post_batch(api, [mark("st-1")])).status_code == 202
    await run_until_idle(runtime)
    clock.advance(24 * 3600)
    await run_until_idle(runtime)
    assert smtp.messages == []
    assert (await api.delete("/v1/guardians/g-1")).status_code == 404


async def test_the_audit_trail_names_who_changed_what_without_personal_values(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _parent(api)
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 204
    async with runtime.sessions() as session:
        token, row = await create_token(
            session=session, role=Role.admin, school_id="s17", label="для Петровой"
        )
        other, _ = await create_token(session=session, role=Role.admin, school_id="s99")
        await revoke_token(session=session, token_id=row.id, now=utcnow())

    trail = await api.get("/v1/audit", params={"subject_type": "guardian", "subject_id": "g-1"})
    assert trail.status_code == 200, trail.text
    items = trail.json()["items"]
    assert [e["action"] for e in items] == [
        "consent.revoke",
        "preferences.set",
        "guardian.put",
        "consent.grant",
        "guardian.put",
    ]
    assert all(e["actor_role"] == "admin" for e in items)
    put_entry = items[2]["detail"]
    assert put_entry["full_name"] == "set" and put_entry["email"] == "set"
    assert put_entry["phone"] == "set" and put_entry["student_ids"] == ["st-1"]
    assert items[1]["detail"]["basis"] == "Заявление № 12 от 01.09.2026"  # the paper it rests on
    assert items[1]["detail"]["categories"] == {"homework": "digest"}
    dumped = json.dumps(items, ensure_ascii=False)
    assert NAME not in dumped and EMAIL not in dumped and PHONE not in dumped

    tokens = (await api.get("/v1/audit", params={"subject_type": "token"})).json()["items"]
    assert [e["action"] for e in tokens][:2] == ["token.revoke", "token.create"]
    assert tokens[0]["actor_role"] == "operator" and tokens[0]["detail"]["label"] == "set"
    # A revoked token is refused at once.
    revoked = await api.get("/v1/audit", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401

    # Another school's admin reads nothing about this guardian, nor the whole trail.
    headers = {"Authorization": f"Bearer {other}"}
    denied = await api.get(
        "/v1/audit", params={"subject_type": "guardian", "subject_id": "g-1"}, headers=headers
    )
    assert denied.status_code == 403
    assert (await api.get("/v1/audit", headers=headers)).status_code == 403
