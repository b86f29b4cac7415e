"""A school's SMS this month (issue 18) where people read it: the figures (stats.sms_this_month)
against the budget's own count, month by month in each school's zone; the delivery log (the API
and the console's search) with an SMS's parts, price and receipt; the console's "Running" page
with the month against the budget, its 80% and 100% marks, a school's and the region's; and the
school's setup page, where the budget is set. SMS go through the smsc.ru provider to the local
gateway (tests/servers/sms_server.py), which bills 1.50 ₽ a part; receipts come back by its
signed callback. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from notifier import stats
from notifier.config import Settings, SmsProvider
from notifier.db.models import AuditEntry, DeliveryAttempt, JournalEvent, Notification, School
from notifier.db.states import RowStatus
from notifier.delivery.budget import alert_admins, spent_this_month
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN, FakeClock
from tests.console_client import CSRF, csrf_of, sign_in, teacher_client, visitor
from tests.factories import mark, post_structured, put, put_school
from tests.servers.sms_server import SmsGateway, smsc_segments
from tests.servers.smtp_server import SmtpServer
from tests.test_metrics import _get, _scrape

__all__ = ["visitor"]

SECRET = "cb-" + "spend" * 8
PRICE = 1.5  # roubles a part, as the local smsc.ru bills
DELIVERED, UNDELIVERED = 1, 20  # smsc.ru's receipt codes


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway("smsc", api_key="test-key", price=PRICE) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, gateway: SmsGateway) -> Settings:
    return settings.model_copy(
        update={
            "sms_provider": SmsProvider.smsc,
            "sms_url": gateway.url,
            "sms_api_key": SecretStr("test-key"),
            "sms_callback_secret": SecretStr(SECRET),
        }
    )


async def _schools(api: httpx.AsyncClient) -> None:
    """School 1 (Moscow): two SMS-only parents and an admin (by email, for the console). School
    2 (Vladivostok): one SMS-only parent. School 3: nobody by SMS."""
    await put_school(api, "s1", {"name": "Школа № 1"})
    await put_school(api, "s2", {"name": "Школа № 2", "timezone": "Asia/Vladivostok"})
    await put_school(api, "s3", {"name": "Школа № 3"})
    for klass, school in (("7a", "s1"), ("9a", "s2"), ("5a", "s3")):
        await put(api, f"/v1/classes/{klass}", {"school_id": school, "name": klass})
    await put(
        api,
        "/v1/staff/head",
        {"school_id": "s1", "full_name": "Завуч", "role": "admin", "email": "head@school1.ru"},
    )
    for n, (pupil, klass, school) in enumerate(
        (("p1", "7a", "s1"), ("p2", "7a", "s1"), ("q1", "9a", "s2")), start=1
    ):
        await put(
            api,
            f"/v1/students/{pupil}",
            {"school_id": school, "class_id": klass, "full_name": f"Ученик {pupil}"},
        )
        await put(
            api,
            f"/v1/guardians/g-{pupil}",
            {"full_name": f"Родитель {pupil}", "phone": f"+7916123450{n}", "student_ids": [pupil]},
        )
        consent = await api.post(f"/v1/guardians/g-{pupil}/consent", json={"document": "№ 1"})
        assert consent.status_code == 201


async def _marks(api: httpx.AsyncClient, pump, *pupils: str) -> None:  # type: ignore[no-untyped-def]
    for pupil in pupils:
        assert (await post_structured(api, mark(pupil))).status_code == 202
    await pump()


async def _spend(runtime: Runtime, school_id: str | None = None) -> tuple[stats.SmsSpend, ...]:
    async with runtime.sessions() as session:
        return await stats.sms_this_month(session, now=runtime.clock(), school_id=school_id)


def _figure(page: str, name: str) -> str:
    found = re.search(rf'<dd data-sms="{name}">([^<]*)</dd>', page)
    assert found, f"no SMS figure {name!r} on the page"
    return found.group(1)


def _row(page: str, school_id: str) -> str:
    found = re.search(rf'<tr data-school="{school_id}">.*?</tr>', page, re.S)
    assert found, f"no row of {school_id} in the SMS table"
    return found.group(0)


async def _post(visitor: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    token = await csrf_of(visitor, path)
    return await visitor.post(path, data={"csrf": token, **data})


async def _as_bootstrap_admin(visitor: httpx.AsyncClient, school_id: str | None = None) -> None:
    token = await csrf_of(visitor, "/console/signin")
    signed = await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    assert signed.status_code == 303
    if school_id is not None:
        page = await visitor.get("/console/schools")
        chosen = await visitor.post(
            "/console/schools",
            data={"csrf": CSRF.search(page.text).group(1), "school_id": school_id},  # type: ignore[union-attr]
        )
        assert chosen.status_code == 303


async def _sms_ids(runtime: Runtime, guardian_id: str) -> list[str]:
    """The provider's ids of the SMS sent to a guardian, oldest first."""
    async with runtime.sessions() as session:
        ids = await session.scalars(
            select(DeliveryAttempt.provider_id)
            .join(Notification, Notification.id == DeliveryAttempt.notification_id)
            .where(
                Notification.guardian_id == guardian_id,
                DeliveryAttempt.channel == "sms",
                DeliveryAttempt.outcome == "sent",
            )
            .order_by(DeliveryAttempt.id)
        )
        return [str(i) for i in ids]


async def _receipt(api: httpx.AsyncClient, gateway: SmsGateway, sms_id: str, code: int) -> None:
    for status, body in await gateway.post_callback(
        f"/sms/callback/{SECRET}", client=api, secret=SECRET, statuses=[(sms_id, code)]
    ):
        assert status == 200, body


# -- The figures -----------------------------------------------------------------------------


class Seed:
    """SMS rows as the dispatcher leaves them: a message's parts and price on its first row,
    and on that row's sent attempt (which the month's spend sums)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.n = 0

    async def row(
        self,
        pupil: str,
        sent_at: datetime,
        *,
        segments: int | None = 1,
        cost: str | None = "1.50",
        channel: str = "sms",
    ) -> None:
        self.n += 1
        async with self.runtime.sessions() as session:
            event = JournalEvent(
                tenant="",
                source="/journal/test",
                event_id=f"e{self.n}",
                type="journal.mark.created",
                data={"student_id": pupil},
                student_id=pupil,
                received_at=sent_at,
                status="planned",
            )
            session.add(event)
            await session.flush()
            note = Notification(
                event_pk=event.pk,
                guardian_id=f"g-{pupil}",
                student_id=pupil,
                category="marks",
                kind="mark_created",
                status=RowStatus.sent,
                channel=channel,
                due_at=sent_at,
                sent_at=sent_at,
                created_at=sent_at,
                segments=segments,
                cost=Decimal(cost) if cost is not None else None,
            )
            session.add(note)
            await session.flush()
            session.add(
                DeliveryAttempt(
                    notification_id=note.id,
                    channel=channel,
                    at=sent_at,
                    outcome="sent",
                    segments=segments,
                    cost=Decimal(cost) if cost is not None else None,
                )
            )
            await session.commit()


def _utc(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def test_each_school_counts_its_own_month_as_its_budget_does(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    """At 20:30 UTC on 30 November it is still November in Moscow (23:30) and already December
    in Vladivostok (06:30 on the 1st): one query, each school's month."""
    await _schools(api)
    await put_school(api, "s1", {"name": "Школа № 1", "sms_budget_month": 4})
    await put_school(api, "s3", {"name": "Школа № 3", "sms_budget_month": 100})
    clock.now = _utc(11, 30, 20, 30)
    seed = Seed(runtime)
    await seed.row("p1", _utc(10, 31, 20, 59))  # 23:59 on 31 October in Moscow: out
    await seed.row("p1", _utc(10, 31, 21, 0), segments=2, cost="3.00")  # 00:00 on 1 November
    await seed.row("p2", _utc(11, 30, 20, 0), cost=None)  # a provider that says no price
    await seed.row("p2", _utc(11, 30, 20, 0), segments=None, cost=None)  # the same SMS's 2nd row
    await seed.row("p2", _utc(11, 30, 20, 0), channel="email", segments=None, cost=None)
    await seed.row("q1", _utc(11, 30, 13, 59))  # 23:59 on 30 November in Vladivostok: out
    await seed.row("q1", _utc(11, 30, 14, 0), segments=3, cost="4.50")  # 00:00 on 1 December

    region = await _spend(runtime)
    # School 3 sent nothing but has a budget; a school with neither is not listed.
    assert [s.school_id for s in region] == ["s1", "s2", "s3"]
    s1, s2, s3 = region
    assert (s1.month, s1.messages, s1.segments, s1.cost, s1.priced) == (
        "2026-11",
        2,
        3,
        Decimal("3.00"),
        1,
    )
    assert (s1.budget, s1.share, s1.level) == (4, 0.75, stats.SpendLevel.under)
    assert (s2.month, s2.messages, s2.segments, s2.cost) == ("2026-12", 1, 3, Decimal("4.50"))
    assert (s2.budget, s2.share, s2.level) == (None, None, stats.SpendLevel.no_cap)
    assert (s3.messages, s3.segments, s3.cost, s3.level) == (0, 0, None, stats.SpendLevel.under)
    # The same figures as the dispatcher's budget reads, school by school.
    async with runtime.sessions() as session:
        for spend in region:
            school = await session.get(School, spend.school_id)
            assert school is not None
            assert await spent_this_month(session, school, clock.now) == spend.segments
    # A school asked for by itself is listed even with nothing to show.
    await put_school(api, "s3", {"name": "Школа № 3"})
    [alone] = await _spend(runtime, "s3")
    assert (alone.school_id, alone.messages, alone.budget) == ("s3", 0, None)
    assert [s.school_id for s in await _spend(runtime)] == ["s1", "s2"]
    # The levels: 80% is the alert (as alert_admins reads it), a whole budget is spent, and a
    # budget of 0 is spent from the start.
    await put_school(api, "s1", {"name": "Школа № 1", "sms_budget_month": 3})
    assert (await _spend(runtime, "s1"))[0].level is stats.SpendLevel.spent
    await seed.row("p1", _utc(11, 30, 20, 10))
    await put_school(api, "s1", {"name": "Школа № 1", "sms_budget_month": 5})
    assert (await _spend(runtime, "s1"))[0].level is stats.SpendLevel.alert
    await put_school(api, "s3", {"name": "Школа № 3", "sms_budget_month": 0})
    [zero] = await _spend(runtime, "s3")
    assert (zero.share, zero.level) == (1.0, stats.SpendLevel.spent)


# -- /metrics --------------------------------------------------------------------------------


async def test_metrics_report_each_schools_month(
    api: httpx.AsyncClient, runtime: Runtime, gateway: SmsGateway, clock: FakeClock, pump
) -> None:
    await _schools(api)
    await put_school(api, "s1", {"name": "Школа № 1", "sms_budget_month": 5})
    await _marks(api, pump, "p1", "p2", "q1")
    assert [smsc_segments(m.text) for m in gateway.messages] == [1, 1, 1]
    samples = await _scrape(api)
    assert _get(samples, "notifier_sms_segments_month", school="s1") == 2
    assert _get(samples, "notifier_sms_cost_month_rubles", school="s1") == 2 * PRICE
    assert _get(samples, "notifier_sms_budget_month", school="s1") == 5
    assert _get(samples, "notifier_sms_segments_month", school="s2") == 1
    assert _get(samples, "notifier_sms_cost_month_rubles", school="s2") == PRICE
    assert ("notifier_sms_budget_month", (("school", "s2"),)) not in samples  # no cap
    assert not [key for key in samples if ("school", "s3") in key[1]]  # no SMS, no budget

    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a new month in both schools
    samples = await _scrape(api)
    assert _get(samples, "notifier_sms_segments_month", school="s1") == 0
    assert _get(samples, "notifier_sms_budget_month", school="s1") == 5
    assert ("notifier_sms_cost_month_rubles", (("school", "s1"),)) not in samples
    assert not [key for key in samples if ("school", "s2") in key[1]]


# -- The delivery log ------------------------------------------------------------------------


async def test_the_delivery_log_shows_an_sms_parts_price_and_receipt(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    gateway: SmsGateway,
    pump,
) -> None:
    await _schools(api)
    await _marks(api, pump, "p1", "p2")
    await _as_bootstrap_admin(visitor, "s1")
    page = (await visitor.get("/console/deliveries")).text
    assert "SMS за ноябрь 2026: сообщений — 2, SMS-частей — 2, стоимость — 3,00\xa0₽." in page, page
    assert 'href="/console/dashboard#d-sms"' in page

    [delivered] = await _sms_ids(runtime, "g-p1")
    [undelivered] = await _sms_ids(runtime, "g-p2")
    await _receipt(api, gateway, delivered, DELIVERED)
    await _receipt(api, gateway, undelivered, UNDELIVERED)
    await pump()  # p2's parent has no other channel: the message fails, for the paper list

    [entry] = (await api.get("/v1/guardians/g-p1/notifications")).json()["items"]
    assert (entry["channel"], entry["segments"], entry["receipt"]) == ("sms", 1, "delivered")
    assert Decimal(entry["cost"]) == Decimal("1.50")
    assert [a["outcome"] for a in entry["attempts"]] == ["sent", "delivered"]
    [entry] = (await api.get("/v1/guardians/g-p2/notifications")).json()["items"]
    assert entry["receipt"] == "undelivered" and entry["status"] in ("failed", "skipped")
    assert [a["outcome"] for a in entry["attempts"]][:2] == ["sent", "undelivered"]

    page = (await visitor.get("/console/deliveries")).text
    assert page.count('data-billed="1"') == 2  # the undelivered one was billed too
    assert "SMS-частей: 1, 1,50\xa0₽" in page
    assert '<div data-receipt="delivered"><span class="badge ok">SMS доставлено на телефон' in page
    assert '<div data-receipt="undelivered"><span class="badge bad">SMS не доставлено' in page
    assert "· SMS · доставлено на телефон · smsc receipt" in page
    assert "· SMS · не доставлено на телефон, отправляется другим каналом" in page
    found = (await visitor.get("/console/deliveries?channel=sms&guardian=g-p1")).text
    assert "SMS-частей: 1, 1,50\xa0₽" in found and "data-receipt" in found


# -- The console: the month against the budget -----------------------------------------------


async def test_the_dashboard_shows_the_month_against_the_budget_with_its_marks(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    gateway: SmsGateway,
    smtp: SmtpServer,
    settings: Settings,
    pump,
) -> None:
    await _schools(api)
    await put_school(api, "s1", {"name": "Школа № 1", "sms_budget_month": 5})
    await sign_in(visitor, smtp, "head@school1.ru")  # school 1's admin

    await _marks(api, pump, "p1", "p2", "q1")  # school 1: 2 of 5 parts; school 2: no cap
    page = (await visitor.get("/console/dashboard")).text
    assert '<h2 id="d-sms">SMS за ноябрь 2026</h2>' in page
    assert (_figure(page, "messages"), _figure(page, "segments")) == ("2", "2")
    assert _figure(page, "cost") == "3,00\xa0₽" and _figure(page, "budget") == "5"
    assert _figure(page, "share") == "40%"
    assert 'data-level="under"' in page and "На 80% администраторы школы" in page
    # The bar: 0-125% of the budget; the marks at 80% and 100%, labelled.
    bar = re.search(r'<svg class="sms-bar sms-under".*?</svg>', page, re.S)
    assert bar, page
    assert '<rect class="fill" x="0" y="2" width="96.0"' in bar.group(0)  # 40% of 240
    assert 'class="mark alert" x1="192.0"' in bar.group(0)
    assert 'class="mark full" x1="240.0"' in bar.group(0)
    assert ">80%</text>" in bar.group(0) and ">100%</text>" in bar.group(0)
    assert 'href="/console/setup/school#sms_budget_month">Изменить бюджет SMS' in page

    announced = await api.post(
        "/v1/announcements",
        json={"audience": {"student_ids": ["p1"]}, "text": "Собрание родителей " * 5},
    )
    assert announced.status_code == 201, announced.text
    await pump()
    assert smsc_segments(gateway.messages[-1].text) == 2  # 4 of 5 parts: 80%
    told = await alert_admins(
        sessions=runtime.sessions, channels=runtime.channels, now=runtime.clock()
    )
    assert told == 1
    page = (await visitor.get("/console/dashboard")).text
    assert (_figure(page, "messages"), _figure(page, "segments")) == ("3", "4")
    assert _figure(page, "share") == "80%" and _figure(page, "cost") == "6,00\xa0₽"
    assert 'class="sms-bar sms-alert' in page
    assert "Израсходовано не меньше 80% бюджета. Администраторы школы предупреждены." in page

    await _marks(api, pump, "p2")  # 5 of 5: spent; then SMS stop but for urgent announcements
    await _marks(api, pump, "p1")
    assert len(gateway.messages) == 5  # school 2's one among them
    page = (await visitor.get("/console/dashboard")).text
    assert _figure(page, "share") == "100%" and _figure(page, "segments") == "5"
    assert 'role="status">Бюджет исчерпан: до конца месяца SMS уходят только' in page
    assert '<rect class="fill" x="0" y="2" width="240.0"' in page
    assert "style=" not in page  # the CSP allows no inline style
    skipped = (await visitor.get("/console/deliveries?status=skipped")).text
    assert "SMS-бюджет школы на месяц исчерпан, другого канала нет" in skipped
    guardian = (await visitor.get("/console/roster/guardians/g-p1")).text
    assert "SMS-бюджет исчерпан" in guardian

    # The region's admin: a row per school with SMS or a budget, the badge where it matters.
    async with teacher_client(settings, runtime) as region:
        await _as_bootstrap_admin(region)
        page = (await region.get("/console/dashboard")).text
        s1, s2 = _row(page, "s1"), _row(page, "s2")
        assert "Школа № 3" not in page.split('id="d-sms"')[1].split("</section>")[0]
        assert '<td data-sms="segments">5</td>' in s1 and "7,50\xa0₽" in s1
        assert '<span data-sms="share" data-level="spent">100%</span>' in s1
        assert '<span class="badge bad">исчерпан</span>' in s1
        assert 'class="sms-bar sms-spent small"' in s1 and "<text" not in s1
        assert '<td data-sms="budget">без ограничения</td>' in s2 and "<svg" not in s2
        assert "Черты на полосе — 80%" in page


async def test_the_dashboard_in_english_and_with_no_cap(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    gateway: SmsGateway,
    smtp: SmtpServer,
    pump,
) -> None:
    await _schools(api)
    await put(
        api,
        "/v1/staff/head",
        {
            "school_id": "s1",
            "full_name": "Завуч",
            "role": "admin",
            "email": "head@school1.ru",
            "locale": "en",
        },
    )
    await _marks(api, pump, "p1")
    await sign_in(visitor, smtp, "head@school1.ru")
    page = (await visitor.get("/console/dashboard")).text
    assert '<h2 id="d-sms">SMS in November 2026</h2>' in page
    assert _figure(page, "cost") == "1.50\xa0₽" and _figure(page, "budget") == "no cap"
    assert 'data-sms="share"' not in page and '<svg class="sms-bar' not in page
    assert "No budget is set: SMS go without a cap." in page
    assert ">Set an SMS budget</a>" in page


# -- Setup: the budget -----------------------------------------------------------------------


async def test_the_setup_page_sets_the_budget_and_refuses_what_is_not_one(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    gateway: SmsGateway,
    pump,
) -> None:
    await _schools(api)
    await _marks(api, pump, "p1", "p2")
    await _as_bootstrap_admin(visitor, "s1")
    page = (await visitor.get("/console/setup/school")).text
    assert '<input type="number" id="sms_budget_month" name="sms_budget_month" value=""' in page
    assert '<label for="sms_budget_month">SMS-частей в месяц (пусто — без ограничения)' in page
    assert "За ноябрь 2026 израсходовано частей: 2" in page
    form = {
        "timezone": "Europe/Moscow",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "digest_time": "19:00",
        "channel_1": "telegram",
        "channel_2": "max",
        "channel_3": "email",
        "channel_4": "sms",
    }
    for typed, reason in (
        ("пять", "SMS-бюджет — целое число SMS-частей в месяц, например 5000."),
        ("-5", "SMS-бюджет — целое число SMS-частей в месяц, например 5000."),
        ("2.5", "SMS-бюджет — целое число SMS-частей в месяц, например 5000."),
        ("20000000", "SMS-бюджет — не больше 10 000 000 частей в месяц."),
    ):
        refused = await _post(visitor, "/console/setup/school", **form, sms_budget_month=typed)
        assert refused.status_code == 422, typed
        assert f'<p class="notice bad" role="alert">{reason}' in refused.text, refused.text
        assert f'value="{typed}"' in refused.text and 'aria-invalid="true"' in refused.text
    async with runtime.sessions() as session:
        school = await session.get(School, "s1")
        assert school is not None and school.sms_budget_month is None

    saved = await _post(visitor, "/console/setup/school", **form, sms_budget_month="2 500")
    assert saved.status_code == 303, saved.text
    page = (await visitor.get(saved.headers["location"])).text
    assert 'name="sms_budget_month" value="2500"' in page and "(0%)" in page
    async with runtime.sessions() as session:
        school = await session.get(School, "s1")
        assert school is not None and school.sms_budget_month == 2500
        [entry] = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "school.put")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        assert entry.subject_id == "s1"
    dashboard = (await visitor.get("/console/dashboard")).text
    assert _figure(dashboard, "budget") == "2500"

    cleared = await _post(visitor, "/console/setup/school", **form, sms_budget_month="")
    assert cleared.status_code == 303
    async with runtime.sessions() as session:
        school = await session.get(School, "s1")
        assert school is not None and school.sms_budget_month is None
