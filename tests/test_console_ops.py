"""The admin's operations pages without JavaScript: dead letters and unmatched events (view,
replay, discard), the delivery-log search, the audit trail with its filters, API tokens (shown
once, working, revoked) and console sessions (a revoked one is signed out at its next request);
each for the school in view only, every action in the audit trail."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, or_, select

from notifier import scope
from notifier.auth import Principal, Role, create_token
from notifier.config import Settings
from notifier.db.models import ApiToken, AuditEntry, ConsoleSession, JournalEvent
from notifier.db.states import EventStatus
from notifier.delivery import dead_letters as service
from notifier.errors import Forbidden, NotFound
from notifier.events.stream import DEAD_STREAM, STREAM
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.console_client import CSRF, csrf_of, sign_in, teacher_client, visitor
from tests.factories import (
    consume_all,
    mark,
    post_batch,
    post_structured,
    pupil_with_guardian,
    put,
    put_school,
)
from tests.servers.smtp_server import SmtpServer

__all__ = ["visitor"]  # the fixture, used by name

NEW_TOKEN = re.compile(r'id="new-token"[^>]*>(ntf_[A-Za-z0-9_-]+)</textarea>')
ADMIN_EMAIL = "nina@s1.ru"


async def _schools(api: httpx.AsyncClient) -> None:
    """School s1 with its admin Nina, teacher Anna (7А) and two families; school s2 with its
    own admin and family."""
    await put_school(api, "s1", {"name": "Школа № 1"})
    await put_school(api, "s2", {"name": "Школа № 2"})
    for staff_id, school, name, role, email in (
        ("a1", "s1", "Завуч Нина", "admin", ADMIN_EMAIL),
        ("t1", "s1", "Учитель Анна", "teacher", "anna@s1.ru"),
        ("a2", "s2", "Завуч Вера", "admin", "vera@s2.ru"),
    ):
        await put(
            api,
            f"/v1/staff/{staff_id}",
            {"school_id": school, "full_name": name, "role": role, "email": email},
        )
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А", "class_teacher_id": "t1"})
    await put(api, "/v1/classes/8a", {"school_id": "s2", "name": "8А"})
    await pupil_with_guardian(
        api, "p1", "g1", klass="7a", school="s1", full_name="Орлова Мария",
        guardian_name="Орлов Пётр",
    )  # fmt: skip
    await pupil_with_guardian(
        api, "p2", "g2", klass="7a", school="s1", full_name="Белов Денис",
        guardian_name="Белова Ольга",
    )  # fmt: skip
    await pupil_with_guardian(
        api, "p9", "g9", klass="8a", school="s2", full_name="Чужой Ученик",
        guardian_name="Чужая Мать",
    )  # fmt: skip


async def _as_region_admin(client: httpx.AsyncClient, school_id: str) -> None:
    """The bootstrap admin, looking at one school."""
    token = await csrf_of(client, "/console/signin")
    signed = await client.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    assert signed.status_code == 303
    token = await csrf_of(client, "/console/schools")
    chosen = await client.post("/console/schools", data={"csrf": token, "school_id": school_id})
    assert chosen.status_code == 303


@asynccontextmanager
async def _another(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with teacher_client(settings, runtime) as client:
        yield client


def _text(page: httpx.Response) -> str:
    return html.unescape(page.text)


def _actions(page: httpx.Response) -> set[str]:
    """The actions of the audit trail's entries on the page."""
    return set(re.findall(r'<td><code class="ops-action">([^<]+)</code></td>', page.text))


async def _trail(runtime: Runtime, action: str) -> list[AuditEntry]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


# -- Dead letters --------------------------------------------------------------------------


async def test_dead_letters_are_listed_viewed_replayed_and_discarded(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
    pump,
) -> None:
    await _schools(api)
    # An unreadable entry a school's token put on the stream, parked by the consumer.
    await runtime.redis.xadd(
        STREAM, {"event": '{"broken": "<script>alert(1)</script>"', "school": "s1"}
    )
    await pump()
    # One parked by an earlier failure to store it (its event is fine), another school's, and
    # one of no school (the region's).
    await runtime.redis.xadd(
        DEAD_STREAM,
        {
            "entry_id": "1-0",
            "reason": "could not be stored",
            "payload": json.dumps(mark("p1")),
            "school": "s1",
        },
    )
    foreign = await runtime.redis.xadd(
        DEAD_STREAM, {"entry_id": "2-0", "reason": "trouble of school two", "school": "s2"}
    )
    await runtime.redis.xadd(DEAD_STREAM, {"entry_id": "3-0", "reason": "trouble of the region"})

    await sign_in(visitor, smtp, ADMIN_EMAIL)
    page = await visitor.get("/console/dead-letters")
    assert page.status_code == 200, page.text
    assert "body is not valid JSON" in page.text and "could not be stored" in page.text
    assert "trouble of school two" not in page.text and "trouble of the region" not in page.text
    ids = re.findall(r'href="/console/dead-letters/(\d+-\d+)"', page.text)
    fixable, garbage = ids  # newest first

    view = await visitor.get(f"/console/dead-letters/{garbage}")
    assert view.status_code == 200
    assert "<script>alert" not in view.text  # the payload is escaped...
    assert '{"broken": "<script>alert(1)</script>"' in _text(view)  # ...and shown as it came
    view = await visitor.get(f"/console/dead-letters/{fixable}")
    assert '<pre class="ops-payload"' in view.text
    assert '\n  "type": "journal.mark.created",\n' in _text(view)  # pretty-printed

    token = CSRF.search(view.text).group(1)  # type: ignore[union-attr]
    refused = await visitor.post(f"/console/dead-letters/{garbage}/replay", data={"csrf": token})
    assert refused.status_code == 422 and "still invalid" in refused.text
    replayed = await visitor.post(f"/console/dead-letters/{fixable}/replay", data={"csrf": token})
    assert replayed.status_code == 303
    assert replayed.headers["location"] == "/console/dead-letters?done=replayed"
    await pump()
    assert [m.rcpt_tos for m in smtp.messages[-1:]] == [["g1@parents.example.org"]]
    discarded = await visitor.post(f"/console/dead-letters/{garbage}/discard", data={"csrf": token})
    assert discarded.status_code == 303
    page = await visitor.get(discarded.headers["location"])
    assert "Запись отброшена." in page.text and "Необработанных сообщений нет." in page.text
    again = await visitor.post(f"/console/dead-letters/{garbage}/discard", data={"csrf": token})
    assert again.status_code == 404

    # Audited, as the admin who did it, under the school.
    [replay] = await _trail(runtime, "dead_letter.replay")
    [discard] = await _trail(runtime, "dead_letter.discard")
    for entry in (replay, discard):
        assert (entry.actor_staff_id, entry.subject_type, entry.subject_id) == (
            "a1",
            "school",
            "s1",
        )
    assert replay.detail is not None and replay.detail["dead_letter"] == fixable

    # Another school's: not even its existence; the region's shelf is the region's.
    other = foreign.decode()
    assert (await visitor.get(f"/console/dead-letters/{other}")).status_code == 404
    assert (
        await visitor.post(f"/console/dead-letters/{other}/discard", data={"csrf": token})
    ).status_code == 404
    assert (await visitor.get("/console/dead-letters?whose=region")).status_code == 403
    assert await runtime.redis.xlen(DEAD_STREAM) == 2

    async with _another(settings, runtime) as region:
        await _as_region_admin(region, "s2")
        page = await region.get("/console/dead-letters")
        assert "trouble of school two" in page.text and "trouble of the region" not in page.text
        page = await region.get("/console/dead-letters?whose=region")
        assert "trouble of the region" in page.text and "trouble of school two" not in page.text


async def test_dead_letter_list_pages_through_a_school_s_entries(runtime: Runtime) -> None:
    """The service's paging: a school's entries among many others', older ones on request."""
    for n in range(7):
        await runtime.redis.xadd(DEAD_STREAM, {"reason": f"mine {n}", "school": "s1"})
        await runtime.redis.xadd(DEAD_STREAM, {"reason": f"theirs {n}", "school": "s2"})
    school = Principal(Role.admin, None, school_id="s1")
    first = await service.dead_letters(runtime.redis, school, limit=4)
    assert [d.reason for d in first.items] == ["mine 6", "mine 5", "mine 4", "mine 3"]
    rest = await service.dead_letters(runtime.redis, school, limit=4, before=first.next_before)
    assert [d.reason for d in rest.items] == ["mine 2", "mine 1", "mine 0"]
    assert rest.next_before is None
    region = Principal(Role.admin, None)
    everything = await service.dead_letters(runtime.redis, region, limit=20)
    assert len(everything.items) == 14 and everything.next_before is None


# -- Unmatched events ----------------------------------------------------------------------


async def test_an_unmatched_event_is_listed_and_replayed_after_the_pupil_is_added(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    pump,
) -> None:
    await _schools(api)
    async with runtime.sessions() as session:
        journal, _ = await create_token(session=session, role=Role.integration, school_id="s1")
    headers = {"Authorization": f"Bearer {journal}"}
    new, test = mark("p-new", subject="Черчение"), mark("p-test")
    for event in (new, test):
        posted = await api.post(
            "/v1/events",
            content=json.dumps(event),
            headers={**headers, "Content-Type": "application/cloudevents+json"},
        )
        assert posted.status_code == 202, posted.text
    await pump()

    await sign_in(visitor, smtp, ADMIN_EMAIL)
    page = await visitor.get("/console/unmatched")
    assert page.status_code == 200, page.text
    assert new["id"] in page.text and test["id"] in page.text
    assert "unknown pupil" in page.text
    async with runtime.sessions() as session:
        pks = dict((await session.execute(select(JournalEvent.event_id, JournalEvent.pk))).all())
    view = await visitor.get(f"/console/unmatched/{pks[new['id']]}")
    assert view.status_code == 200 and '"subject": "Черчение"' in _text(view)

    await pupil_with_guardian(
        api, "p-new", "g-new", klass="7a", school="s1", email="new@parents.example.org"
    )
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    replayed = await visitor.post("/console/unmatched/replay", data={"csrf": token})
    assert replayed.status_code == 303
    page = await visitor.get(replayed.headers["location"])
    assert "Обработано: 1; всё ещё не распознано: 1." in page.text
    await pump()
    assert [m.rcpt_tos for m in smtp.messages[-1:]] == [["new@parents.example.org"]]
    assert new["id"] not in page.text and test["id"] in page.text

    # Nothing ticked is a refusal with the reason; the test event is discarded.
    refused = await visitor.post("/console/unmatched/discard", data={"csrf": token})
    assert refused.status_code == 422 and "choose the events to discard" in refused.text
    discarded = await visitor.post(
        "/console/unmatched/discard", data={"csrf": token, "pk": [str(pks[test["id"]])]}
    )
    assert discarded.status_code == 303
    page = await visitor.get(discarded.headers["location"])
    assert "Отброшено событий: 1." in page.text and "Нераспознанных событий нет." in page.text
    async with runtime.sessions() as session:
        row = await session.get(JournalEvent, pks[test["id"]])
        assert row is not None and row.status == EventStatus.ignored
    [replay] = await _trail(runtime, "unmatched.replay")
    assert replay.actor_staff_id == "a1" and replay.subject_id == "s1"
    assert replay.detail == {"pks": None, "planned": 1, "still_unmatched": 1}
    assert len(await _trail(runtime, "unmatched.discard")) == 1

    # Another school's admin neither sees nor touches them.
    await sign_in(visitor, smtp, "vera@s2.ru")
    assert (await visitor.get(f"/console/unmatched/{pks[test['id']]}")).status_code == 404


# -- Delivery log --------------------------------------------------------------------------


async def test_delivery_search_finds_a_guardians_messages_and_not_another_schools(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
    pump,
) -> None:
    await _schools(api)
    for pupil in ("p1", "p2", "p9"):
        assert (await post_structured(api, mark(pupil))).status_code == 202
    await pump()
    await sign_in(visitor, smtp, ADMIN_EMAIL)

    page = await visitor.get("/console/deliveries", params={"guardian": "орлов"})
    assert page.status_code == 200, page.text
    assert "Орлов Пётр" in page.text and "Орлова Мария" in page.text
    assert "Доставлено" in page.text and "Почта" in page.text
    assert "Белова Ольга" not in page.text and "Чужая Мать" not in page.text
    everything = await visitor.get("/console/deliveries")
    assert "Белова Ольга" in everything.text and "Орлов Пётр" in everything.text
    assert "Чужая Мать" not in everything.text and "Чужой Ученик" not in everything.text
    by_pupil = await visitor.get("/console/deliveries", params={"pupil": "p2"})
    assert "Белова Ольга" in by_pupil.text and "Орлов Пётр" not in by_pupil.text
    today = date.today()
    for params in (
        {"status": "failed"},
        {"channel": "sms"},
        {"from": (today + timedelta(days=2)).isoformat()},
    ):
        nothing = await visitor.get("/console/deliveries", params=params)
        assert "Ничего не найдено" in nothing.text, params

    # Another school's guardian by id: the scope rule's 403; by name: no one.
    assert (await visitor.get("/console/deliveries?guardian=g9")).status_code == 403
    assert "Чужая Мать" not in (await visitor.get("/console/deliveries?guardian=Чужая")).text
    swapped = await visitor.get("/console/deliveries?from=2026-02-01&to=2026-01-01&guardian=x")
    assert swapped.status_code == 422 and "swap them" in swapped.text
    assert 'value="x"' in swapped.text  # the form again, as typed

    async with _another(settings, runtime) as region:
        await _as_region_admin(region, "s2")
        page = await region.get("/console/deliveries")
        assert "Чужая Мать" in page.text and "Орлов Пётр" not in page.text


# -- Audit trail ---------------------------------------------------------------------------


async def test_the_audit_trail_is_the_schools_with_filters(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, ADMIN_EMAIL)
    page = await visitor.get("/console/audit")
    assert page.status_code == 200, page.text
    # The school's own entries, with names: consent for its guardians, its staff's sign-in.
    assert {"consent.grant", "console.signin"} <= _actions(page)
    assert "Орлов Пётр" in page.text and "Завуч Нина" in page.text
    assert "Чужая Мать" not in page.text and "g9" not in page.text

    consent = await visitor.get("/console/audit", params={"action": "consent.grant"})
    assert _actions(consent) == {"consent.grant"} and "Белова Ольга" in consent.text
    one = await visitor.get(
        "/console/audit", params={"subject_type": "guardian", "subject_id": "g2"}
    )
    assert "Белова Ольга" in one.text and "Орлов Пётр" not in one.text
    foreign = await visitor.get(
        "/console/audit", params={"subject_type": "guardian", "subject_id": "g9"}
    )
    assert foreign.status_code == 403
    region_only = await visitor.get("/console/audit", params={"whole": "true"})
    assert "Чужая Мать" not in region_only.text  # a school's admin has no whole trail
    lacking = await visitor.get("/console/audit", params={"subject_id": "g2"})
    assert lacking.status_code == 422 and "needs its kind" in lacking.text
    later = (date.today() + timedelta(days=2)).isoformat()
    assert "Записей не найдено." in (await visitor.get(f"/console/audit?from={later}")).text

    # An action by the admin in the console is found by who did it.
    token = await csrf_of(visitor, "/console/tokens")
    made = await visitor.post(
        "/console/tokens", data={"csrf": token, "role": "integration", "key": "k-audit"}
    )
    assert made.status_code == 200
    mine = await visitor.get("/console/audit", params={"actor_staff": "a1"})
    assert _actions(mine) == {"token.create"}
    tokens = await visitor.get("/console/audit?subject_type=token")
    assert _actions(tokens) == {"token.create"}

    async with _another(settings, runtime) as region:
        await _as_region_admin(region, "s1")
        page = await region.get("/console/audit")
        assert "Орлов Пётр" in page.text and "Чужая Мать" not in page.text
        whole = await region.get("/console/audit", params={"whole": "true"})
        assert "Чужая Мать" in whole.text and "console.school" in _actions(whole)


async def test_the_audit_scope_of_a_school_takes_its_subjects_only(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    """scope.audit_of_school: entries about the school, its classes, pupils, staff, tokens and
    its pupils' guardians; scope.audit_subject lets a school's admin name its own token."""
    await _schools(api)
    async with runtime.sessions() as session:
        _, mine = await create_token(session=session, role=Role.admin, school_id="s1")
        _, theirs = await create_token(session=session, role=Role.admin, school_id="s2")
        _, region = await create_token(session=session, role=Role.admin)
        kinds = sorted(
            {
                (e.subject_type, e.subject_id)
                for e in await session.scalars(
                    select(AuditEntry).where(scope.audit_of_school("s1"))
                )
            }
        )
        assert ("token", str(mine.id)) in kinds and ("token", str(theirs.id)) not in kinds
        assert ("token", str(region.id)) not in kinds
        assert {("guardian", "g1"), ("guardian", "g2"), ("student", "p1")} <= set(kinds)
        assert not [k for k in kinds if k[1] in ("g9", "p9", "s2", "a2", "8a")]
        school = Principal(Role.admin, None, school_id="s1")
        await scope.audit_subject(session, school, "token", str(mine.id))
        for token_id, refusal in ((theirs.id, "bound to school"), (region.id, "region")):
            with pytest.raises(Forbidden, match=refusal):
                await scope.audit_subject(session, school, "token", str(token_id))
        with pytest.raises(NotFound):
            await scope.audit_subject(session, school, "token", "99999")
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(or_(scope.audit_of_school("s1"), scope.audit_of_school("s2")))
        )
        assert count and count < await session.scalar(select(func.count()).select_from(AuditEntry))


# -- API tokens ----------------------------------------------------------------------------


async def test_a_token_is_shown_once_works_and_stops_when_revoked(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _schools(api)
    async with runtime.sessions() as session:
        _, theirs = await create_token(
            session=session, role=Role.integration, school_id="s2", label="Журнал школы 2"
        )
    await sign_in(visitor, smtp, ADMIN_EMAIL)
    page = await visitor.get("/console/tokens")
    assert page.status_code == 200 and "Журнал школы 2" not in page.text  # not another's
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    form = {"csrf": token, "role": "integration", "label": "Электронный журнал", "key": key}
    made = await visitor.post("/console/tokens", data=form)
    assert made.status_code == 200, made.text
    secret = NEW_TOKEN.search(made.text).group(1)  # type: ignore[union-attr]
    assert 'data-copy="new-token"' in made.text and "/static/setup.js" in made.text

    # Shown once: not on the next load, and the same form sent again makes nothing new.
    page = await visitor.get("/console/tokens")
    assert secret not in page.text and "Электронный журнал" in page.text
    resent = await visitor.post("/console/tokens", data=form)
    assert secret not in resent.text and "уже была отправлена" in resent.text
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(ApiToken).where(ApiToken.school_id == "s1")))
        assert [(r.role, r.label) for r in rows] == [("integration", "Электронный журнал")]
        assert secret not in {r.token_hash for r in rows}
    [made_entry] = [e for e in await _trail(runtime, "token.create") if e.actor_staff_id]
    assert (made_entry.actor_role, made_entry.actor_staff_id) == ("admin", "a1")
    assert made_entry.detail == {
        "role": "integration",
        "school_id": "s1",
        "staff_id": None,
        "label": "set",
    }

    # It works on the API, for its school.
    bearer = {"Authorization": f"Bearer {secret}"}
    posted = await api.post(
        "/v1/events",
        content=json.dumps(mark("p1")),
        headers={**bearer, "Content-Type": "application/cloudevents+json"},
    )
    assert posted.status_code == 202, posted.text
    assert (await api.get("/v1/events/unmatched", headers=bearer)).status_code == 200

    # A teacher's token stands for a teacher of this school.
    for staff_id in ("", "a2"):
        refused = await visitor.post(
            "/console/tokens", data={"csrf": token, "role": "teacher", "staff_id": staff_id}
        )
        assert refused.status_code in (403, 422), refused.text
    teacher = await visitor.post(
        "/console/tokens", data={"csrf": token, "role": "teacher", "staff_id": "t1"}
    )
    assert teacher.status_code == 200 and NEW_TOKEN.search(teacher.text)

    # Revoked: refused at once. Another school's token cannot be revoked from here.
    [mine] = rows
    revoked = await visitor.post(f"/console/tokens/{mine.id}/revoke", data={"csrf": token})
    assert revoked.status_code == 303
    assert "Токен отозван." in (await visitor.get(revoked.headers["location"])).text
    assert (await api.get("/v1/events/unmatched", headers=bearer)).status_code == 401
    assert (
        await visitor.post(f"/console/tokens/{theirs.id}/revoke", data={"csrf": token})
    ).status_code == 403
    [revoke_entry] = await _trail(runtime, "token.revoke")
    assert revoke_entry.actor_staff_id == "a1"


# -- Console sessions ----------------------------------------------------------------------


async def test_sessions_are_listed_and_a_revoked_one_is_signed_out(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, ADMIN_EMAIL)
    async with (
        _another(settings, runtime) as anna,
        _another(settings, runtime) as anna_phone,
        _another(settings, runtime) as vera,
    ):
        for client, email in (
            (anna, "anna@s1.ru"),
            (anna_phone, "anna@s1.ru"),
            (vera, "vera@s2.ru"),
        ):
            await sign_in(client, smtp, email)
            assert (await client.get("/console/")).status_code == 200
        page = await visitor.get("/console/sessions")
        assert page.status_code == 200, page.text
        assert page.text.count("Учитель Анна</th>") == 2 and "это вы" in page.text
        assert "Завуч Вера" not in page.text  # another school's staff
        for client in (anna, anna_phone, vera):  # never a cookie
            assert client.cookies["notifier_session"] not in page.text
        async with runtime.sessions() as session:
            ids = {
                staff: [
                    s.id
                    for s in await session.scalars(
                        select(ConsoleSession).where(ConsoleSession.staff_id == staff)
                    )
                ]
                for staff in ("t1", "a2")
            }
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]

        # One device: that browser is signed out at its next request, the other stays.
        ended = await visitor.post(f"/console/sessions/{ids['t1'][0]}/end", data={"csrf": token})
        assert ended.status_code == 303
        assert "Сеанс завершён." in (await visitor.get(ended.headers["location"])).text
        assert (await anna.get("/console/")).headers["location"] == "/console/signin"
        assert (await anna_phone.get("/console/")).status_code == 200
        # All of hers.
        ended = await visitor.post("/console/sessions/staff/t1/end", data={"csrf": token})
        assert ended.status_code == 303
        assert (await anna_phone.get("/console/")).status_code == 303
        assert "Открытых сеансов нет." not in (await visitor.get("/console/sessions")).text

        # Another school's staff: the scope rule's 403, and she stays signed in.
        for path in (f"/console/sessions/{ids['a2'][0]}/end", "/console/sessions/staff/a2/end"):
            assert (await visitor.post(path, data={"csrf": token})).status_code == 403
        assert (await vera.get("/console/")).status_code == 200
        assert (await vera.get("/console/tokens")).status_code == 200  # her own school's

    entries = await _trail(runtime, "console.session.end")
    assert [(e.actor_staff_id, e.subject_id) for e in entries] == [("a1", "t1")]
    assert len(await _trail(runtime, "console.sessions.end")) == 1


async def test_teachers_do_not_open_the_operations_pages(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _schools(api)
    await sign_in(visitor, smtp, "anna@s1.ru")
    for path in ("dead-letters", "unmatched", "deliveries", "audit", "tokens", "sessions"):
        page = await visitor.get(f"/console/{path}")
        assert page.status_code == 403 and "Нет доступа" in page.text, path


async def test_the_delivery_log_and_trail_go_back_a_page_at_a_time(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _schools(api)
    batch = [mark("p1", mark_id=f"m-page-{n}") for n in range(55)]
    assert (await post_batch(api, batch)).status_code == 202
    await consume_all(runtime)
    await sign_in(visitor, smtp, ADMIN_EMAIL)
    first = await visitor.get("/console/deliveries", params={"guardian": "g1"})
    assert first.text.count("<tr>") == 1 + 50  # the head and a page
    older = re.search(r'href="/console/deliveries\?([^"]+)">Более ранние', first.text)
    assert older and "guardian=g1" in older.group(1)
    rest = await visitor.get(f"/console/deliveries?{html.unescape(older.group(1))}")
    assert rest.status_code == 200 and rest.text.count("<tr>") == 1 + 5
    assert "Более ранние" not in rest.text


async def test_an_english_speaking_admin_reads_the_pages_in_english(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _schools(api)
    await put(
        api,
        "/v1/staff/a3",
        {
            "school_id": "s1",
            "full_name": "Head",
            "role": "admin",
            "email": "head@s1.ru",
            "locale": "en",
        },
    )
    await runtime.redis.xadd(DEAD_STREAM, {"reason": "broken", "payload": "{", "school": "s1"})
    await sign_in(visitor, smtp, "head@s1.ru")
    for path, heading in (
        ("dead-letters", "Dead letters"),
        ("unmatched", "Unmatched events"),
        ("deliveries", "Delivery log"),
        ("audit", "Audit trail"),
        ("tokens", "API tokens"),
        ("sessions", "Console sessions"),
    ):
        page = await visitor.get(f"/console/{path}")
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text, path


async def test_a_region_admin_sees_every_token_and_makes_them_for_the_school_in_view(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api)
    async with runtime.sessions() as session:
        await create_token(session=session, role=Role.admin, label="Оператор региона")
        await create_token(session=session, role=Role.integration, school_id="s1", label="Журнал 1")
    await _as_region_admin(visitor, "s2")
    page = await visitor.get("/console/tokens")
    assert "Оператор региона" in page.text and "весь регион" in page.text
    assert "Журнал 1" in page.text and "Новый токен школы «Школа № 2»" in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    made = await visitor.post("/console/tokens", data={"csrf": token, "role": "admin"})
    assert made.status_code == 200 and NEW_TOKEN.search(made.text)
    async with runtime.sessions() as session:
        newest = await session.scalar(select(ApiToken).order_by(ApiToken.id.desc()).limit(1))
        assert newest is not None and (newest.role, newest.school_id) == ("admin", "s2")
