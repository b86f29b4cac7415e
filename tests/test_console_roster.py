"""The admin's roster pages without JavaScript: search by part of a Cyrillic name, masked
contacts revealed with an audit entry, a guardian's details, channels and consent, a new
Telegram link code, erasure after its confirmation, and the 403 page for another school."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from notifier.config import Settings
from notifier.db.models import AuditEntry, Guardian, Notification
from notifier.roster.chat_link import LinkRefused, Refusal, link_chat
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.console_client import CSRF, csrf_of, sign_in, visitor
from tests.factories import mark, post_structured, pupil_with_guardian, put, put_school
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

__all__ = ["visitor"]  # the fixture, used by name

PHONE = "+79161234567"
EMAIL = "maria.ivanova@mail.ru"


async def _schools(api: httpx.AsyncClient) -> None:
    """School s1 (7А, 7Б) with its admin, school s2; a guardian in each, one in both."""
    await put_school(api, "s1", {"name": "Школа № 1"})
    await put_school(api, "s2", {"name": "Школа № 2"})
    await put(
        api,
        "/v1/staff/a1",
        {"school_id": "s1", "full_name": "Завуч Нина", "role": "admin", "email": "nina@s1.ru"},
    )
    await put(
        api,
        "/v1/staff/t1",
        {"school_id": "s1", "full_name": "Учитель Анна", "email": "anna@s1.ru"},
    )
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А", "class_teacher_id": "t1"})
    await put(api, "/v1/classes/7b", {"school_id": "s1", "name": "7Б"})
    await put(api, "/v1/classes/8a", {"school_id": "s2", "name": "8А"})
    await pupil_with_guardian(
        api, "p1", "g1", klass="7a", school="s1", full_name="Иванов Иван",
        guardian_name="Иванова Мария", email=EMAIL,
    )  # fmt: skip
    await put(
        api,
        "/v1/guardians/g1",
        {"full_name": "Иванова Мария", "phone": PHONE, "email": EMAIL, "student_ids": ["p1"]},
    )
    await pupil_with_guardian(
        api, "p2", "g2", klass="7b", school="s1", full_name="Петров Пётр",
        guardian_name="Петрова Ольга", consent=False,
    )  # fmt: skip
    await pupil_with_guardian(
        api, "p3", "g3", klass="8a", school="s2", full_name="Сидоров Олег",
        guardian_name="Сидорова Анна",
    )  # fmt: skip
    # g4: a child in each school.
    await put(
        api, "/v1/students/p4", {"school_id": "s1", "class_id": "7b", "full_name": "Котов Лев"}
    )
    await put(
        api, "/v1/students/p5", {"school_id": "s2", "class_id": "8a", "full_name": "Котова Ася"}
    )
    await put(
        api,
        "/v1/guardians/g4",
        {"full_name": "Котова Елена", "email": "kotova@mail.ru", "student_ids": ["p4", "p5"]},
    )


async def _as_region_admin(visitor: httpx.AsyncClient, school_id: str = "s1") -> str:
    token = await csrf_of(visitor, "/console/signin")
    signed = await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    assert signed.status_code == 303
    token = await csrf_of(visitor, "/console/schools")
    chosen = await visitor.post("/console/schools", data={"csrf": token, "school_id": school_id})
    assert chosen.status_code == 303
    return token


async def _trail(runtime: Runtime, action: str) -> list[AuditEntry]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def _csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def test_search_finds_part_of_a_cyrillic_name_in_any_case(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    await _schools(api)
    # Enough guardians for two pages, through the roster's CSV import.
    rows = "".join(
        f"s1;7b;q{n:02d};Кузнецов Олег {n};k{n:02d};Кузнецова Вера {n};;k{n:02d}@mail.ru;\r\n"
        for n in range(55)
    )
    header = "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email;"
    imported = await api.post(
        "/v1/roster/import",
        content=(header + "consent_date\r\n" + rows).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert imported.status_code == 200 and imported.json()["imported"] == 55, imported.text
    await _as_region_admin(visitor)

    for query in ("иванов", "ИВАНОВА", "Ванова м", "  иванова   мария "):
        page = await visitor.get("/console/roster", params={"q": query})
        assert page.status_code == 200, page.text
        assert "Иванова Мария" in page.text, query
        assert "Петрова Ольга" not in page.text and "Найдено: 1" in page.text
    # By a child's name too, and ё is е.
    page = await visitor.get("/console/roster", params={"q": "петр"})
    assert "Петрова Ольга" in page.text and "Иванова Мария" not in page.text
    pupils = await visitor.get("/console/roster", params={"q": "пЁтр", "show": "pupils"})
    assert "Петров Пётр" in pupils.text and 'href="/console/roster/guardians/g2"' in pupils.text
    # By class; another school's guardians never.
    page = await visitor.get("/console/roster", params={"class_id": "7a"})
    assert "Иванова Мария" in page.text and "Петрова Ольга" not in page.text
    whole = await visitor.get("/console/roster")
    assert "Сидорова Анна" not in whole.text and "Найдено: 58" in whole.text
    assert "Страница 1 из 2" in whole.text
    assert whole.text.count('href="/console/roster/guardians/') == 50
    second = await visitor.get("/console/roster", params={"page": 2})
    assert second.text.count('href="/console/roster/guardians/') == 8
    assert "Страница 2 из 2" in second.text
    unknown = await visitor.get("/console/roster", params={"class_id": "8a"})  # school s2's
    assert unknown.status_code == 404


async def test_contacts_are_masked_and_revealing_them_is_audited(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, "nina@s1.ru")
    listing = await visitor.get("/console/roster")
    assert listing.status_code == 200, listing.text
    assert "+7 9** ***-**-67" in listing.text and "m***@mail.ru" in listing.text
    assert PHONE not in listing.text and EMAIL not in listing.text
    page = await visitor.get("/console/roster/guardians/g1")
    assert PHONE not in page.text and EMAIL not in page.text
    assert await _trail(runtime, "guardian.reveal") == []

    refused = await visitor.post("/console/roster/guardians/g1/contacts", data={})
    assert refused.status_code == 403
    token = _csrf(listing)
    shown = await visitor.post("/console/roster/guardians/g1/contacts", data={"csrf": token})
    assert shown.status_code == 200
    assert PHONE in shown.text and EMAIL in shown.text and "<html" in shown.text
    fragment = await visitor.post(
        "/console/roster/guardians/g1/contacts", data={"csrf": token}, headers={"HX-Request": "1"}
    )
    assert PHONE in fragment.text and "<html" not in fragment.text
    trail = await _trail(runtime, "guardian.reveal")
    assert [(e.subject_id, e.actor_staff_id, e.detail) for e in trail] == [("g1", "a1", None)] * 2


async def test_edit_saves_and_a_bad_phone_is_refused_with_the_form_kept(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, "nina@s1.ru")
    token = _csrf(await visitor.get("/console/roster/guardians/g1"))
    form = {"csrf": token, "full_name": "Иванова Мария Петровна", "phone": "8 916 000-11-22"}
    saved = await visitor.post("/console/roster/guardians/g1/details", data=form)
    assert saved.status_code == 303
    assert "Изменения сохранены." in (await visitor.get(saved.headers["location"])).text
    stored = (await api.get("/v1/guardians/g1")).json()
    assert (stored["full_name"], stored["phone"], stored["email"]) == (
        "Иванова Мария Петровна",
        "+79160001122",
        EMAIL,  # an empty field keeps the address
    )
    put_entries = await _trail(runtime, "guardian.put")
    assert put_entries[-1].actor_staff_id == "a1"
    assert put_entries[-1].detail is not None and put_entries[-1].detail["phone"] == "set"

    bad = {"csrf": token, "full_name": "Новое Имя", "phone": "12345", "locale": "en"}
    refused = await visitor.post("/console/roster/guardians/g1/details", data=bad)
    assert refused.status_code == 422
    assert "Телефон не похож на номер" in refused.text
    assert 'value="12345"' in refused.text and 'value="Новое Имя"' in refused.text
    assert '<option value="en" selected>' in refused.text
    assert (await api.get("/v1/guardians/g1")).json()["full_name"] == "Иванова Мария Петровна"

    cleared = {"csrf": token, "full_name": "Иванова Мария", "clear_email": "true"}
    assert (
        await visitor.post("/console/roster/guardians/g1/details", data=cleared)
    ).status_code == 303
    assert (await api.get("/v1/guardians/g1")).json()["email"] is None

    # A school's admin edits a guardian of two schools: the other school's child stays.
    both = {"csrf": token, "full_name": "Котова Елена Ивановна"}
    assert (
        await visitor.post("/console/roster/guardians/g4/details", data=both)
    ).status_code == 303
    stored = (await api.get("/v1/guardians/g4")).json()
    assert stored["full_name"] == "Котова Елена Ивановна" and stored["student_ids"] == ["p4", "p5"]


async def test_channels_and_modes_through_the_preferences_service(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, "nina@s1.ru")
    token = _csrf(await visitor.get("/console/roster/guardians/g1"))
    form = {
        "csrf": token,
        "channel_1": "sms",
        "channel_2": "email",
        "mode_marks": "digest",
        "basis": "Заявление от 03.09.2026",
    }
    saved = await visitor.post("/console/roster/guardians/g1/preferences", data=form)
    assert saved.status_code == 303
    prefs = (await api.get("/v1/guardians/g1/preferences")).json()
    assert prefs["channels"] == ["sms", "email"] and prefs["categories"]["marks"] == "digest"
    page = await visitor.get(saved.headers["location"])
    assert "Сейчас: SMS → Почта." in page.text
    assert '<option value="digest" selected>' in page.text

    no_chat = await visitor.post(
        "/console/roster/guardians/g1/preferences", data={"csrf": token, "channel_1": "telegram"}
    )
    assert no_chat.status_code == 422 and "Порядок способов связи не сохранён" in no_chat.text
    assert "channels.0" in no_chat.text and "Telegram chat" in no_chat.text
    assert '<option value="telegram" selected>' in no_chat.text
    twice = await visitor.post(
        "/console/roster/guardians/g1/preferences",
        data={"csrf": token, "channel_1": "email", "channel_2": "email"},
    )
    assert twice.status_code == 422 and "only once" in twice.text
    assert (await api.get("/v1/guardians/g1/preferences")).json()["channels"] == ["sms", "email"]


async def test_consent_is_recorded_with_its_document_and_withdrawn(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, "nina@s1.ru")
    page = await visitor.get("/console/roster/guardians/g2")
    assert "Согласия нет" in page.text
    token = _csrf(page)
    empty = await visitor.post("/console/roster/guardians/g2/consent", data={"csrf": token})
    assert empty.status_code == 422 and "Укажите реквизиты документа" in empty.text
    document = "Заявление № 12 от 01.09.2026"
    granted = await visitor.post(
        "/console/roster/guardians/g2/consent", data={"csrf": token, "document": document}
    )
    assert granted.status_code == 303
    consent = (await api.get("/v1/guardians/g2")).json()["consent"]
    assert consent["document"] == document
    page = await visitor.get(granted.headers["location"])
    assert "Согласие записано." in page.text and f"«{document}»" in page.text

    withdrawn = await visitor.post(
        "/console/roster/guardians/g2/consent/withdraw", data={"csrf": token}
    )
    assert withdrawn.status_code == 303
    assert (await api.get("/v1/guardians/g2")).json()["consent"] is None
    assert "Согласия нет" in (await visitor.get(withdrawn.headers["location"])).text
    grant, revoke = await _trail(runtime, "consent.grant"), await _trail(runtime, "consent.revoke")
    assert grant[-1].actor_staff_id == "a1" and grant[-1].subject_id == "g2"
    assert [e.actor_staff_id for e in revoke] == ["a1"]


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={"telegram_token": SecretStr(bot_api.token), "telegram_api_base": bot_api.base}
    )


CODE = re.compile(r'<code id="link-code">([^<]+)</code>')


async def test_a_new_link_code_voids_the_old_one_and_links_via_the_bot(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    bot_api: BotApiServer,
) -> None:
    await _schools(api)
    old = await api.post("/v1/guardians/g1/telegram-link")
    assert old.status_code == 201
    await sign_in(visitor, smtp, "nina@s1.ru")
    token = _csrf(await visitor.get("/console/roster/guardians/g1"))
    issued = await visitor.post("/console/roster/guardians/g1/telegram/code", data={"csrf": token})
    assert issued.status_code == 200
    code = CODE.search(issued.text).group(1)  # type: ignore[union-attr]
    assert f"https://t.me/{bot_api.username}?start={code}" in issued.text
    assert (await _trail(runtime, "telegram_link.create"))[-1].actor_staff_id == "a1"
    async with runtime.sessions() as session:
        with pytest.raises(LinkRefused) as refused:
            await link_chat(
                session=session,
                code=old.json()["code"],
                chat_id="555",
                bot_id="1",
                now=runtime.clock(),
            )
        assert refused.value.kind is Refusal.replaced
        linked = await link_chat(
            session=session, code=code, chat_id="555", bot_id="1", now=runtime.clock()
        )
        assert linked.guardian_id == "g1"
    page = await visitor.get("/console/roster/guardians/g1")
    assert "Чат подключён" in page.text
    unlinked = await visitor.post(
        "/console/roster/guardians/g1/telegram/unlink", data={"csrf": token}
    )
    assert unlinked.status_code == 303
    assert (await api.get("/v1/guardians/g1")).json()["telegram_linked"] is False
    assert (await _trail(runtime, "telegram_link.delete"))[-1].actor_staff_id == "a1"


async def test_erasure_needs_its_confirmation_and_keeps_anonymous_rows(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    pump: Any,
) -> None:
    await _schools(api)
    assert (await post_structured(api, mark("p1"))).status_code in (200, 202)
    await pump()
    assert any(m.rcpt_tos == [EMAIL] for m in smtp.messages)
    await sign_in(visitor, smtp, "nina@s1.ru")
    page = await visitor.get("/console/roster/guardians/g1")
    assert "Оценки" in page.text and 'href="/console/deliveries?guardian=g1"' in page.text

    confirm = await visitor.get("/console/roster/guardians/g1/erase")
    assert confirm.status_code == 200
    assert "Что остаётся" in confirm.text and "Анонимная статистика" in confirm.text
    assert "записи журнала доставки (1)" in confirm.text and PHONE not in confirm.text
    token = _csrf(confirm)
    assert (await visitor.post("/console/roster/guardians/g1/erase", data={})).status_code == 403
    wrong = await visitor.post(
        "/console/roster/guardians/g1/erase", data={"csrf": token, "confirm_name": "Иванова"}
    )
    assert wrong.status_code == 422 and "не совпадает" in wrong.text
    assert (await api.get("/v1/guardians/g1")).status_code == 200

    erased = await visitor.post(
        "/console/roster/guardians/g1/erase",
        data={"csrf": token, "confirm_name": " иванова  МАРИЯ"},
    )
    assert erased.status_code == 303
    assert erased.headers["location"] == "/console/roster?done=erased&kept=1"
    assert (
        "Записей журнала доставки сохранено без имени: 1."
        in (await visitor.get(erased.headers["location"])).text
    )
    assert (await api.get("/v1/guardians/g1")).status_code == 404
    async with runtime.sessions() as session:
        assert await session.get(Guardian, "g1") is None
        kept = list(await session.scalars(select(Notification.guardian_id)))
        assert len(kept) == 1 and kept[0].startswith("erased-")
        assert (
            await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.guardian_id == "g1")
            )
            == 0
        )
    entry = (await _trail(runtime, "guardian.erase"))[-1]
    assert entry.actor_staff_id == "a1" and entry.subject_id == kept[0]

    # A guardian with a child in another school is the region's to erase.
    other = await visitor.get("/console/roster/guardians/g4/erase")
    assert other.status_code == 200 and "только администратор региона" in other.text
    assert 'name="confirm_name"' not in other.text
    refused = await visitor.post(
        "/console/roster/guardians/g4/erase", data={"csrf": token, "confirm_name": "Котова Елена"}
    )
    assert refused.status_code == 403
    assert (await api.get("/v1/guardians/g4")).status_code == 200


async def test_a_school_admin_gets_403_on_another_schools_records(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, "nina@s1.ru")
    assert (await visitor.get("/console/roster/pupils/p1")).status_code == 200
    pupil = await visitor.get("/console/roster/pupils/p1")
    assert "Иванова Мария" in pupil.text and "7А" in pupil.text
    for path in (
        "/console/roster/guardians/g3",
        "/console/roster/pupils/p3",
        "/console/roster/guardians/g3/erase",
    ):
        page = await visitor.get(path)
        assert page.status_code == 403 and "Нет доступа" in page.text, path
    token = _csrf(await visitor.get("/console/roster"))
    for action in ("contacts", "details", "consent/withdraw", "telegram/unlink", "erase"):
        answer = await visitor.post(
            f"/console/roster/guardians/g3/{action}", data={"csrf": token, "full_name": "X"}
        )
        assert answer.status_code == 403, action
    # Region-wide, the other school's records open.
    async with httpx.AsyncClient(transport=visitor._transport, base_url=visitor.base_url) as admin:
        await _as_region_admin(admin, "s2")
        assert (await admin.get("/console/roster/guardians/g3")).status_code == 200
        assert "Сидорова Анна" in (await admin.get("/console/roster")).text
        both = await admin.get("/console/roster/guardians/g4/erase")  # children in two schools
        assert 'name="confirm_name"' in both.text and "администратор региона" not in both.text


async def test_teachers_do_not_see_the_roster(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, "anna@s1.ru")
    for path in ("/console/roster", "/console/roster/guardians/g1", "/console/roster/pupils/p1"):
        assert (await visitor.get(path)).status_code == 403, path
