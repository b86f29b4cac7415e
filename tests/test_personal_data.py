"""Personal data (152-FZ): erasure keeps only anonymous statistics; the audit trail says who
changed consent, preferences, the roster and tokens, without holding personal values itself."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Update
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select

from bots.dispatcher import build_dispatcher
from notifier.api.app import create_app
from notifier.auth import Role, create_token, revoke_token
from notifier.config import Settings
from notifier.db.models import AuditEntry, Base, DeliveryAttempt, Notification
from notifier.db.types import utcnow
from notifier.runtime import Runtime, build_runtime, run_until_idle
from tests.conftest import ADMIN_TOKEN, FakeClock
from tests.factories import (
    cloud_event,
    mark,
    post_batch,
    pupil_with_guardian,
    put,
    school_with_class,
)
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

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
    return "\n".join(row for rows in (await _tables(runtime)).values() for row in rows)


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
        pseudonym = notes[0].guardian_id
        trail = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.subject_id == pseudonym))
        )
        assert (
            await session.scalar(select(AuditEntry).where(AuditEntry.subject_id == "g-1")) is None
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


# -- Erasure beyond the guardian's rows: every table, the file outbox, Redis -------------------

GID = "parent-zq7k"  # distinctive, so a hit anywhere is this guardian's id and no one else's
CHAT = 700_123_457


@dataclass
class Everywhere:
    """A runtime whose email and SMS go to the file outbox and which has a Telegram bot."""

    api: httpx.AsyncClient
    runtime: Runtime
    settings: Settings
    bot_api: BotApiServer
    dp: Dispatcher


@pytest.fixture
async def everywhere(settings: Settings, clock: FakeClock) -> AsyncIterator[Everywhere]:
    bot_api = BotApiServer()
    bot_api.start()
    config = settings.model_copy(
        update={
            "smtp_host": None,  # email as .eml files
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
        }
    )
    runtime = build_runtime(config, clock=clock)
    app = create_app(config, runtime=runtime)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://notifier.test", headers=headers
        ) as api:
            # Conversation state in Redis, as `notifier up` keeps it.
            dp = build_dispatcher(config, storage=RedisStorage(runtime.redis))
            yield Everywhere(api, runtime, config, bot_api, dp)
    finally:
        await runtime.close()
        bot_api.stop()


async def _bot(world: Everywhere, text: str) -> None:
    assert world.runtime.telegram is not None
    update = Update.model_validate(world.bot_api.user_message(CHAT, text))
    await world.dp.feed_update(world.runtime.telegram.default_bot, update, runtime=world.runtime)


async def _channels(api: httpx.AsyncClient, *order: str) -> None:
    body = {"channels": list(order), "categories": {"homework": "digest"}, "basis": "Заявление"}
    r = await api.put(f"/v1/guardians/{GID}/preferences", json=body)
    assert r.status_code == 200, r.text


async def _tables(runtime: Runtime) -> dict[str, list[str]]:
    """Every row of every table, all its columns as text, by table."""
    out: dict[str, list[str]] = {}
    async with runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()  # JSON comes back decoded
            out[table.name] = [
                " | ".join(json.dumps(value, ensure_ascii=False, default=str) for value in row)
                for row in rows
            ]
    return out


def _files(folder: Path) -> dict[str, str]:
    """Every file under the outbox, as text: raw, and an email's headers and parts decoded."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        texts = [data.decode("utf-8", "replace")]
        if path.suffix == ".eml":
            message = email.message_from_bytes(data, policy=email.policy.default)
            for part in message.walk():
                texts.extend(f"{k}: {v}" for k, v in part.items())
                if part.get_content_maintype() == "text":
                    texts.append(part.get_content())
        out[str(path.relative_to(folder))] = "\n".join(texts)
    return out


async def _redis(redis: Redis) -> dict[str, str]:
    """Every key and its value, as text, whatever its type."""
    out = {}
    async for raw in redis.scan_iter(count=1000):
        key = raw.decode()
        kind = (await redis.type(key)).decode()
        value: object
        if kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "set":
            value = await redis.smembers(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            raise AssertionError(f"Redis key {key!r} of type {kind}: teach this test to read it")
        out[key] = f"{key} {value!r}"
    return out


def _found(texts: dict[str, list[str]] | dict[str, str], secrets: dict[str, str]) -> set[str]:
    """Where (table / file / key) each personal value occurs."""
    hits = set()
    for where, text in texts.items():
        blob = text if isinstance(text, str) else "\n".join(text)
        hits.update(f"{what} in {where}" for what, value in secrets.items() if value in blob)
    return hits


async def test_erasure_leaves_nothing_in_any_table_outbox_file_or_redis_key(
    everywhere: Everywhere, capsys: pytest.CaptureFixture[str]
) -> None:
    api, runtime, outbox = everywhere.api, everywhere.runtime, everywhere.settings.outbox_dir
    await school_with_class(api)
    # Another family, whose messages and files must survive the erasure.
    await pupil_with_guardian(
        api, "st-2", "g-2", full_name="Сидоров Олег", guardian_name="Сидорова"
    )
    await put(
        api, "/v1/students/st-1", {"school_id": "s17", "class_id": "7b", "full_name": "Петров Иван"}
    )
    body = {"full_name": NAME, "email": EMAIL, "phone": PHONE, "student_ids": ["st-1"]}
    await put(api, f"/v1/guardians/{GID}", body)
    r = await api.post(f"/v1/guardians/{GID}/consent", json={"document": "Заявление № 3"})
    assert r.status_code == 201, r.text

    # One mark by each channel: an .eml file, an SMS file, a Telegram message.
    await _channels(api, "email")
    assert (await post_batch(api, [mark("st-1"), mark("st-2")])).status_code == 202
    await run_until_idle(runtime)
    await _channels(api, "sms")
    assert (await post_batch(api, [mark("st-1")])).status_code == 202
    await run_until_idle(runtime)
    r = await api.post(f"/v1/guardians/{GID}/telegram-link")
    assert r.status_code == 201, r.text
    await _bot(everywhere, f"/start {r.json()['code']}")
    await _bot(everywhere, "/start not-a-code")  # counted per chat in Redis
    # A conversation left half-way keeps its state in Redis.
    assert everywhere.bot_api.bot_id and isinstance(everywhere.dp.storage, RedisStorage)
    chat_key = StorageKey(bot_id=everywhere.bot_api.bot_id, chat_id=CHAT, user_id=CHAT)
    await everywhere.dp.storage.set_data(chat_key, {"step": "settings"})
    assert (await api.post(f"/v1/guardians/{GID}/telegram-link")).status_code == 201  # unused
    await _channels(api, "telegram", "email")
    homework = cloud_event(
        "journal.homework.assigned",
        {"homework_id": "h1", "class_id": "7b", "subject": "История", "text": "§ 7"},
    )
    assert (await post_batch(api, [mark("st-1"), homework])).status_code == 202
    await run_until_idle(runtime)  # the mark goes by Telegram; the homework waits for the digest
    assert [m.chat_id for m in everywhere.bot_api.accepted][-1] == str(CHAT)
    async with runtime.sessions() as session:
        # A relay's refusal quotes the address (as a real SMTP server's 550 would), and an
        # entry about something else names the guardian in its detail.
        attempt = await session.scalar(
            select(DeliveryAttempt)
            .join(Notification, Notification.id == DeliveryAttempt.notification_id)
            .where(Notification.guardian_id == GID, Notification.channel == "email")
        )
        assert attempt is not None
        attempt.detail = f"smtp 550 <{EMAIL}>: mailbox unavailable"
        session.add(
            AuditEntry(
                actor_role="admin",
                action="roster.import",
                subject_type="school",
                subject_id="s17",
                detail={"guardian_ids": [GID, "g-2"], "by": {GID: "csv"}},
            )
        )
        await session.commit()
        before = list(
            await session.execute(
                select(Notification.channel, Notification.status, Notification.group_key)
                .where(Notification.guardian_id == GID)
                .order_by(Notification.id)
            )
        )
    assert [(c, s) for c, s, _ in before] == [
        ("email", "sent"),
        ("sms", "sent"),
        ("telegram", "sent"),
        (None, "pending"),
    ]
    secrets = {
        "guardian id": GID,
        "full name": NAME,
        "surname": "Петрова",
        "phone": PHONE,
        "phone digits": PHONE.removeprefix("+7"),
        "email": EMAIL,
        "mailbox": EMAIL.split("@")[0],
        "chat id": str(CHAT),
    }
    # The scan sees them all before: it would see what an erasure left.
    tables, files, keys = await _tables(runtime), _files(outbox), await _redis(runtime.redis)
    seen = _found(tables, secrets) | _found(files, secrets) | _found(keys, secrets)
    assert {what for what in secrets if any(h.startswith(f"{what} in ") for h in seen)} == set(
        secrets
    )
    assert any(h.startswith("email in email/") for h in seen)
    assert any(h.startswith("phone in sms/") for h in seen)
    assert "chat id in notifier:link-failures:telegram:700123457" in seen
    assert "chat id in fsm:700123457:700123457:data" in seen
    assert any(h.startswith("chat id in notifier:rl:tg:chat:") for h in seen)
    files_before = sorted(files)

    r = await api.delete(f"/v1/guardians/{GID}")
    assert r.status_code == 200, r.text
    assert r.json()["delivery_records_kept"] == 4 and r.json()["messages_cancelled"] == 1

    tables, files, keys = await _tables(runtime), _files(outbox), await _redis(runtime.redis)
    with capsys.disabled():
        print(
            f"\nread {len(tables)} tables: "
            + ", ".join(f"{t} ({len(v)} rows)" for t, v in tables.items())
        )
        print(f"read {len(files)} outbox files (of {len(files_before)} before): {', '.join(files)}")
        print(f"read {len(keys)} Redis keys: {', '.join(sorted(keys))}")
    assert _found(tables, secrets) | _found(files, secrets) | _found(keys, secrets) == set()
    # Only the other family's message files are left (their mark and the class's homework).
    assert len(files_before) == 4 and len(files) == 2 and set(files) < set(files_before)
    assert all("g-2@parents.example.org" in text for text in files.values())

    async with runtime.sessions() as session:
        after = list(
            await session.execute(
                select(Notification.guardian_id, Notification.channel, Notification.group_key)
                .where(Notification.guardian_id.like("erased-%"))
                .order_by(Notification.id)
            )
        )
        trail = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    # The statistics stay, under one pseudonym, with as many distinct groups as before.
    [pseudonym] = {g for g, _, _ in after}
    assert [c for _, c, _ in after] == ["email", "sms", "telegram", None]
    assert len({k for _, _, k in after}) == len({k for _, _, k in before})
    assert all(pseudonym in str(k) for _, _, k in after)
    # Who did what stays in the trail, under the pseudonym; the other entry names it too.
    mine = [e for e in trail if e.subject_id == pseudonym]
    assert {"guardian.put", "consent.grant", "preferences.set", "telegram_link.create"} <= {
        e.action for e in mine
    }
    assert mine[-1].action == "guardian.erase"
    [other] = [e for e in trail if e.action == "roster.import"]
    assert other.detail == {"guardian_ids": [pseudonym, "g-2"], "by": {pseudonym: "csv"}}
