"""Whom a class's messages reach (the console's "My classes"): each guardian's way in, the
families reached, what to do about the rest, the tenancy rule and a bounded number of queries;
and the same for a whole school at once (the connected-parents report), its figures counting
each family once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from notifier.auth import Principal, Role
from notifier.config import Settings
from notifier.db.models import ChannelBlock, Guardian
from notifier.errors import Forbidden, NotFound
from notifier.reach import (
    Advice,
    AdviceKind,
    ClassReach,
    Figures,
    Reach,
    SchoolReach,
    class_order,
    class_reach,
    region_reach,
    school_reach,
)
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import put
from tests.servers.max import MaxApiServer
from tests.servers.telegram import BotApiServer
from tests.sql_sent import statements_sent

ADMIN = Principal(role=Role.admin, token_id=None)
TEACHER = Principal(role=Role.teacher, token_id=None, staff_id="t-1")
SCHOOL_BOT = "777777:SCHOOL18-token"


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer, max_api: MaxApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0,
            "telegram_rate_per_second": 1000,
            "max_token": SecretStr(max_api.token),
            "max_api_base": max_api.base,
            "max_chat_interval_seconds": 0,
        }
    )


async def _reach(
    runtime: Runtime,
    class_id: str = "7b",
    principal: Principal = TEACHER,
    channels: dict[str, Any] | None = None,
) -> ClassReach:
    async with runtime.sessions() as session:
        return await class_reach(
            session=session,
            principal=principal,
            class_id=class_id,
            channels=runtime.channels if channels is None else channels,
            now=runtime.clock(),
        )


async def _guardian(
    api: httpx.AsyncClient,
    guardian_id: str,
    pupils: list[str],
    *,
    consent: bool = True,
    **addresses: str,
) -> None:
    body = {"full_name": f"Родитель {guardian_id}", "student_ids": pupils, **addresses}
    await put(api, f"/v1/guardians/{guardian_id}", body)
    if consent:
        r = await api.post(f"/v1/guardians/{guardian_id}/consent", json={"document": "Заявление"})
        assert r.status_code == 201, r.text


async def _link(runtime: Runtime, guardian_id: str, chat: str, bot: str) -> None:
    async with runtime.sessions() as session:
        guardian = await session.get(Guardian, guardian_id)
        assert guardian is not None
        guardian.telegram_chat_id, guardian.telegram_bot_id = chat, bot
        await session.commit()


async def _schools(api: httpx.AsyncClient) -> None:
    await put(api, "/v1/schools/s17", {"name": "Школа № 17"})
    await put(api, "/v1/schools/s18", {"name": "Школа № 18", "telegram_token": SCHOOL_BOT})
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова Нина Петровна"})
    await put(api, "/v1/staff/t-2", {"school_id": "s17", "full_name": "Петров Пётр"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    await put(api, "/v1/classes/8a", {"school_id": "s17", "name": "8А", "class_teacher_id": "t-2"})
    await put(api, "/v1/classes/9v", {"school_id": "s18", "name": "9В"})


async def _class_of_every_kind(api: httpx.AsyncClient, runtime: Runtime, bot: str) -> None:
    await _schools(api)
    pupils = {
        "p-tg": "Андреев Антон",
        "p-sib": "Андреева Алла",  # p-tg's sister: the same guardian
        "p-email": "Борисов Борис",
        "p-sms": "Васильев Василий",
        "p-paper": "Григорьев Глеб",
        "p-nocons": "Дмитриев Денис",
        "p-off": "Егоров Егор",
        "p-blocked": "Жуков Жан",
        "p-none": "Зайцев Захар",
        "p-two": "Иванов Илья",
        "p-orphan": "Климов Кирилл",
    }
    for pupil, name in pupils.items():
        body = {"school_id": "s17", "class_id": "7b", "full_name": name}
        await put(api, f"/v1/students/{pupil}", body)
    await _guardian(api, "g-tg", ["p-tg", "p-sib"], email="tg@parents.example.org")
    await _link(runtime, "g-tg", "7001", bot)
    await _guardian(api, "g-email", ["p-email"], email="email@parents.example.org")
    await _guardian(api, "g-sms", ["p-sms"], phone="+79160000001")
    await _guardian(api, "g-paper", ["p-paper"], email="paper@parents.example.org")
    r = await api.put("/v1/guardians/g-paper/preferences", json={"channels": ["paper"]})
    assert r.status_code == 200, r.text
    await _guardian(api, "g-nocons", ["p-nocons"], consent=False, email="no@parents.example.org")
    await _guardian(api, "g-off", ["p-off"], email="off@parents.example.org")
    r = await api.put(
        "/v1/guardians/g-off/preferences", json={"categories": {"announcements": "off"}}
    )
    assert r.status_code == 200, r.text
    await _guardian(api, "g-blocked", ["p-blocked"])  # Telegram only
    await _link(runtime, "g-blocked", "7002", bot)
    await _guardian(api, "g-none", ["p-none"])  # no chat, address or number
    await _guardian(api, "g-two-a", ["p-two"], consent=False, email="a@parents.example.org")
    await _guardian(api, "g-two-b", ["p-two"], phone="+79160000002")


def _by_guardian(reach: ClassReach) -> dict[tuple[str, str], Any]:
    return {(p.student_id, g.guardian_id): g for p in reach.pupils for g in p.guardians}


async def test_each_guardians_reach_the_families_reached_and_what_to_do(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    clock: FakeClock,
    pump: Any,
) -> None:
    await _class_of_every_kind(api, runtime, str(bot_api.bot_id))
    before = _by_guardian(await _reach(runtime))
    assert before[("p-blocked", "g-blocked")].reach is Reach.telegram  # until it fails

    bot_api.block_chat("7002")
    r = await api.post(
        "/v1/announcements",
        headers={},
        json={"audience": {"class_ids": ["7b"]}, "text": "Собрание в четверг в 18:00"},
    )
    assert r.status_code == 201, r.text
    await pump()

    reach = await _reach(runtime)
    assert (reach.class_id, reach.class_name, reach.school_id) == ("7b", "7Б", "s17")
    rows = _by_guardian(reach)
    expected = {
        ("p-tg", "g-tg"): (Reach.telegram, ("telegram", "email")),
        ("p-sib", "g-tg"): (Reach.telegram, ("telegram", "email")),
        ("p-email", "g-email"): (Reach.email, ("email",)),
        ("p-sms", "g-sms"): (Reach.sms, ("sms",)),
        ("p-paper", "g-paper"): (Reach.paper, ()),
        ("p-nocons", "g-nocons"): (Reach.no_consent, ("email",)),
        ("p-off", "g-off"): (Reach.opted_out, ("email",)),
        ("p-blocked", "g-blocked"): (Reach.unreachable, ()),
        ("p-none", "g-none"): (Reach.no_contact, ()),
        ("p-two", "g-two-a"): (Reach.no_consent, ("email",)),
        ("p-two", "g-two-b"): (Reach.sms, ("sms",)),
    }
    assert {k: (g.reach, g.channels) for k, g in rows.items()} == expected
    assert rows[("p-blocked", "g-blocked")].blocked == ("telegram",)
    assert all(g.blocked == () for k, g in rows.items() if k[1] != "g-blocked")
    assert {k[1] for k, g in rows.items() if g.linked_telegram} == {"g-tg", "g-blocked"}
    # The announcement went to four guardians; the rest never got anything.
    delivered = {k[1] for k, g in rows.items() if g.last_delivered is not None}
    assert delivered == {"g-tg", "g-email", "g-sms", "g-two-b"}
    assert all(rows[k].last_delivered == clock.now for k in rows if k[1] in delivered)

    # Pupils in name order; the orphan is a family with nobody to tell.
    assert [p.student_id for p in reach.pupils][:2] == ["p-tg", "p-sib"]
    assert [p.student_id for p in reach.pupils if not p.guardians] == ["p-orphan"]
    assert (reach.reachable_families, reach.families) == (6, 11)  # "6 of 11 families"
    assert [p.student_id for p in reach.on_paper] == ["p-paper"]
    assert reach.advice == [
        Advice(AdviceKind.collect_consent, 1, ("p-nocons",), ("g-nocons",)),  # not g-two-a
        Advice(AdviceKind.invite, 1, ("p-none",), ("g-none",)),
        Advice(AdviceKind.restart_bot, 1, ("p-blocked",), ("g-blocked",)),
        Advice(AdviceKind.opted_out, 1, ("p-off",), ("g-off",)),
        Advice(AdviceKind.add_guardian, 1, ("p-orphan",)),
        Advice(AdviceKind.print_paper, 1, ("p-paper",)),
    ]


async def test_telegram_counts_only_where_delivery_has_it(
    api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _class_of_every_kind(api, runtime, str(bot_api.bot_id))
    async with runtime.sessions() as session:  # a mailbox that rejects mail, for good
        session.add(ChannelBlock(guardian_id="g-email", channel="email", reason="550 no such"))
        await session.commit()
    without = {k: v for k, v in runtime.channels.items() if k != "telegram"}
    rows = _by_guardian(await _reach(runtime, channels=without))
    assert rows[("p-tg", "g-tg")].reach is Reach.email  # linked, but no bot in this process
    assert rows[("p-tg", "g-tg")].linked_telegram
    assert rows[("p-blocked", "g-blocked")].reach is Reach.no_contact
    assert rows[("p-email", "g-email")].reach is Reach.unreachable
    assert rows[("p-email", "g-email")].blocked == ("email",)
    advice = {a.kind: a for a in (await _reach(runtime)).advice}
    assert advice[AdviceKind.new_email] == Advice(
        AdviceKind.new_email, 1, ("p-email",), ("g-email",)
    )


async def test_a_chat_linked_through_the_schools_own_bot_counts(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api)
    await put(api, "/v1/students/q-1", {"school_id": "s18", "class_id": "9v", "full_name": "Ли"})
    await _guardian(api, "h-1", ["q-1"])
    await _link(runtime, "h-1", "9001", SCHOOL_BOT.split(":")[0])
    reach = await _reach(runtime, "9v", ADMIN)
    assert reach.pupils[0].guardians[0].reach is Reach.telegram
    assert (reach.reachable_families, reach.families, reach.advice) == (1, 1, [])


async def test_only_the_class_teacher_and_the_schools_admins_see_a_class(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api)
    await put(api, "/v1/students/p-1", {"school_id": "s17", "class_id": "7b", "full_name": "Ан"})
    for allowed in (TEACHER, ADMIN, Principal(role=Role.admin, token_id=None, school_id="s17")):
        assert (await _reach(runtime, principal=allowed)).families == 1
    for refused in (
        Principal(role=Role.teacher, token_id=None, staff_id="t-2"),  # another class's teacher
        Principal(role=Role.admin, token_id=None, school_id="s18"),  # another school's admin
        Principal(role=Role.integration, token_id=None, school_id="s17"),  # the journal
    ):
        with pytest.raises(Forbidden):
            await _reach(runtime, principal=refused)
    with pytest.raises(NotFound):
        await _reach(runtime, "nope", ADMIN)


async def test_the_number_of_queries_does_not_grow_with_the_class(
    api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _schools(api)
    for class_id, size in (("7b", 5), ("8a", 30)):
        for n in range(size):
            pupil = f"{class_id}-p{n}"
            body = {"school_id": "s17", "class_id": class_id, "full_name": f"Ученик {n}"}
            await put(api, f"/v1/students/{pupil}", body)
            await _guardian(api, f"{pupil}-m", [pupil], email=f"{pupil}@parents.example.org")
            await _guardian(api, f"{pupil}-f", [pupil], consent=n % 2 == 0, phone="+79160000003")
        await _link(runtime, f"{class_id}-p0-m", "8000", str(bot_api.bot_id))
    await _reach(runtime, "7b", ADMIN)  # the connection's own first statements, if any
    counts = {}
    for class_id in ("7b", "8a"):
        with statements_sent(runtime) as seen:
            reach = await _reach(runtime, class_id, ADMIN)
        assert reach.reachable_families == reach.families
        counts[class_id] = len(seen)
    assert counts["7b"] == counts["8a"] <= 12, counts


async def _school_reach(
    runtime: Runtime, school_id: str = "s17", principal: Principal = ADMIN
) -> SchoolReach:
    async with runtime.sessions() as session:
        return await school_reach(
            session=session,
            principal=principal,
            school_id=school_id,
            channels=runtime.channels,
            now=runtime.clock(),
        )


async def test_a_school_counts_each_family_once_by_its_best_way_in(
    api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer
) -> None:
    await _class_of_every_kind(api, runtime, str(bot_api.bot_id))
    await put(api, "/v1/classes/10a", {"school_id": "s17", "name": "10А"})
    await put(api, "/v1/students/q-10", {"school_id": "s17", "class_id": "10a", "full_name": "Ян"})
    await _guardian(api, "h-10", ["q-10"], phone="+79160000010")
    school = await _school_reach(runtime)
    assert (school.school_id, school.school_name) == ("s17", "Школа № 17")
    # Class order by the year as a number: 7Б, 8А (empty), 10А.
    assert [c.class_name for c in school.classes] == ["7Б", "8А", "10А"]
    seven, eight, ten = school.classes
    # Each class as its teacher's page has it.
    assert seven == await _reach(runtime, "7b", ADMIN)
    figures = seven.figures
    assert figures.families == 11 and sum(figures.counts.values()) == 11
    assert {reach: n for reach, n in figures.counts.items() if n} == {
        Reach.telegram: 3,  # p-tg, p-sib and p-blocked (not blocked until a message fails)
        Reach.email: 1,
        Reach.sms: 2,  # p-sms, and p-two (g-two-b on SMS beats g-two-a without consent)
        Reach.paper: 1,
        Reach.no_consent: 1,
        Reach.opted_out: 1,
        Reach.no_contact: 2,  # g-none, and the orphan with no guardian at all
    }
    assert (figures.electronic, figures.reached) == (6, 7) == (6, seven.reachable_families)
    assert figures.share(Reach.telegram) == 3 / 11
    assert eight.figures == Figures(0, dict.fromkeys(Reach, 0)) and eight.figures.share() == 0
    assert ten.figures.count(Reach.sms) == ten.figures.families == 1
    totals = school.totals
    assert totals.families == 12 and totals.count(Reach.sms) == 3
    assert totals.count(Reach.telegram, Reach.email) == 4
    # Another school's classes are not this school's.
    assert [c.class_id for c in (await _school_reach(runtime, "s18")).classes] == ["9v"]


async def test_a_school_is_for_its_own_and_the_regions_admins(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api)
    own = Principal(role=Role.admin, token_id=None, school_id="s17")
    assert [c.class_id for c in (await _school_reach(runtime, principal=own)).classes] == [
        "7b",
        "8a",
    ]
    for refused in (
        Principal(role=Role.admin, token_id=None, school_id="s18"),  # another school's admin
        TEACHER,  # a class teacher sees their class, not the school's report
        Principal(role=Role.integration, token_id=None, school_id="s17"),
    ):
        with pytest.raises(Forbidden):
            await _school_reach(runtime, principal=refused)
    with pytest.raises(NotFound):
        await _school_reach(runtime, "nope")
    async with runtime.sessions() as session:
        region = await region_reach(
            session=session, principal=ADMIN, channels=runtime.channels, now=runtime.clock()
        )
        assert [s.school_id for s in region] == ["s17", "s18"]
        mine = await region_reach(
            session=session, principal=own, channels=runtime.channels, now=runtime.clock()
        )
        assert [s.school_id for s in mine] == ["s17"]


def test_classes_go_by_their_year_as_a_number() -> None:
    names = ["11А", "Подготовительный", "5Б", "10Б", "5А", "1А", " 2В"]
    assert sorted(names, key=class_order) == [
        "1А",
        " 2В",
        "5А",
        "5Б",
        "10Б",
        "11А",
        "Подготовительный",
    ]


async def test_the_number_of_queries_does_not_grow_with_the_schools_classes(
    api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer
) -> None:
    for school_id, classes in (("s3", 3), ("s10", 10)):
        await put(api, f"/v1/schools/{school_id}", {"name": f"Школа {school_id}"})
        for c in range(classes):
            class_id = f"{school_id}-c{c}"
            await put(api, f"/v1/classes/{class_id}", {"school_id": school_id, "name": f"{c + 1}А"})
            for n in range(4):
                pupil = f"{class_id}-p{n}"
                body = {"school_id": school_id, "class_id": class_id, "full_name": f"Ученик {n}"}
                await put(api, f"/v1/students/{pupil}", body)
                await _guardian(
                    api, f"{pupil}-m", [pupil], consent=n != 3, email=f"{pupil}@parents.example.org"
                )
        await _link(runtime, f"{school_id}-c0-p0-m", "8000", str(bot_api.bot_id))
    await _school_reach(runtime, "s3")  # the connection's own first statements, if any
    counts = {}
    for school_id in ("s3", "s10"):
        with statements_sent(runtime) as seen:
            school = await _school_reach(runtime, school_id)
        assert school.totals.families == 4 * len(school.classes)
        assert school.totals.count(Reach.no_consent) == len(school.classes)
        counts[school_id] = len(seen)
    assert counts["s3"] == counts["s10"] <= 14, counts


async def _link_max(runtime: Runtime, guardian_id: str, user: str) -> None:
    async with runtime.sessions() as session:
        guardian = await session.get(Guardian, guardian_id)
        assert guardian is not None
        guardian.max_user_id = user
        await session.commit()


async def test_max_is_a_way_in_of_its_own_where_delivery_has_it(
    api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer, max_api: MaxApiServer, pump
) -> None:
    """A guardian linked in MAX hears by MAX (the default order puts it after Telegram and
    before email); a family counts once, by its best way in; a blocked MAX bot is advice to
    press Start again; without a MAX bot in this process the guardian is counted by email."""
    await _schools(api)
    for pupil, name in (("p-max", "Алексеев Алексей"), ("p-both", "Борисова Бела")):
        await put(
            api, f"/v1/students/{pupil}", {"school_id": "s17", "class_id": "7b", "full_name": name}
        )
    await _guardian(api, "g-max", ["p-max"], email="max@parents.example.org")
    await _link_max(runtime, "g-max", "4300001")
    await _guardian(api, "g-only", ["p-both"])  # MAX and nothing else
    await _link_max(runtime, "g-only", "4300002")
    await _guardian(api, "g-tg", ["p-both"])  # the other parent: Telegram
    await _link(runtime, "g-tg", "7003", str(bot_api.bot_id))
    rows = _by_guardian(await _reach(runtime))
    assert (rows[("p-max", "g-max")].reach, rows[("p-max", "g-max")].channels) == (
        Reach.max,
        ("max", "email"),
    )
    assert rows[("p-max", "g-max")].linked_max and not rows[("p-max", "g-max")].linked_telegram
    assert rows[("p-max", "g-max")].electronic
    school = await _school_reach(runtime)
    figures = school.classes[0].figures
    # Борисова's family: Telegram (g-tg) beats MAX (g-only); each family once.
    assert {r: n for r, n in figures.counts.items() if n} == {Reach.telegram: 1, Reach.max: 1}
    assert figures.electronic == figures.reached == figures.families == 2

    # Both block the bot in MAX: a message goes by email for g-max; g-only has nothing left.
    max_api.block(4300001)
    max_api.block(4300002)
    r = await api.post(
        "/v1/announcements",
        json={"audience": {"class_ids": ["7b"]}, "text": "Собрание в четверг в 18:00"},
    )
    assert r.status_code == 201, r.text
    await pump()
    reach = await _reach(runtime)
    rows = _by_guardian(reach)
    assert rows[("p-max", "g-max")].reach is Reach.email
    assert rows[("p-max", "g-max")].blocked == ("max",)
    assert rows[("p-both", "g-only")].reach is Reach.unreachable
    assert reach.reachable_families == 2  # Борисова's family still hears by Telegram
    assert reach.advice == []  # nobody left out: nothing to do
    # Without the Telegram bot, Борисова's family is left out, and its advice says why.
    without = {k: v for k, v in runtime.channels.items() if k != "telegram"}
    advice = {a.kind: a for a in (await _reach(runtime, channels=without)).advice}
    assert advice[AdviceKind.restart_bot] == Advice(
        AdviceKind.restart_bot, 1, ("p-both",), ("g-only",)
    )
    # Without a MAX bot in this process, a MAX chat carries nothing: g-max is counted by email.
    no_max = {k: v for k, v in runtime.channels.items() if k != "max"}
    fresh = _by_guardian(await _reach(runtime, channels=no_max))
    assert fresh[("p-max", "g-max")].reach is Reach.email
