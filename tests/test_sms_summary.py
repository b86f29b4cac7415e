"""The weekly summary for parents who have SMS only (issue 18): each child's week in one UCS-2
segment through the local SMS gateway, with a short link to the week's page (/s/<token>);
the page shows the marks and absences, and a tampered, expired or withdrawn link is refused
with a page that says so. The class printout puts those parents on paper only when the
school's month's SMS are spent."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from notifier.api.app import create_app
from notifier.channels.sms_text import SmsEncoding, measure
from notifier.config import Settings, SmsProvider
from notifier.db.models import Notification
from notifier.delivery.message import (
    MAC_CHARS,
    PAGE_PATH,
    page_link,
    page_row,
    page_token,
    page_token_valid,
    summary_sms,
)
from notifier.rendering import PupilView, Renderer
from notifier.reports.marks import Mark, Report, Subject
from notifier.runtime import Runtime, run_until_idle
from notifier.summaries import PAGE_DAYS, plan_weekly
from tests.conftest import FakeClock
from tests.factories import attendance, mark, post_batch, put, school_with_class
from tests.servers.sms_server import Sms, SmsGateway
from tests.servers.smtp_server import SmtpServer

# Saturday 28 November 2026, 19:00 in Moscow: the school's digest time.
SATURDAY_1900 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
PUBLIC_URL = "https://uved17.ru"  # a school's short address: the link takes 27-28 characters
PHONE = "+79161234567"
SMS_LINK = re.compile(r"https://uved17\.ru/s/[0-9A-Za-z]+$")


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    server = SmsGateway("http", api_key="test-key")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(settings: Settings, gateway: SmsGateway) -> Settings:
    return settings.model_copy(
        update={
            "sms_provider": SmsProvider.http,
            "sms_url": gateway.url,
            "sms_api_key": SecretStr("test-key"),
            "public_url": PUBLIC_URL,
        }
    )


@pytest.fixture
async def public(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A browser's view of the API: no token."""
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as client:
        yield client


async def _family(api: httpx.AsyncClient, *, locale: str = "ru") -> None:
    """g-1 has a phone only and two children in 7Б; st-1 has a second guardian, g-2, by
    email. Вера's week (23-29 Nov): Алгебра 5 4 3 (4,00), Физика 3 3 (3,00), Русский язык 5;
    all six marks average 23/6 = 3,83; two lessons missed (one excused), one late. Пётр's:
    Литература 5, nothing missed."""
    await school_with_class(api)
    await put(
        api,
        "/v1/students/st-1",
        {"school_id": "s17", "class_id": "7b", "full_name": "Соколова Вера Андреевна"},
    )
    await put(
        api,
        "/v1/students/st-2",
        {"school_id": "s17", "class_id": "7b", "full_name": "Соколов Пётр Андреевич"},
    )
    await put(
        api,
        "/v1/guardians/g-1",
        {
            "full_name": "Соколова Ирина",
            "phone": PHONE,
            "locale": locale,
            "student_ids": ["st-1", "st-2"],
        },
    )
    await put(
        api,
        "/v1/guardians/g-2",
        {
            "full_name": "Соколов Андрей",
            "email": "g-2@parents.example.org",
            "student_ids": ["st-1"],
        },
    )
    for guardian in ("g-1", "g-2"):
        r = await api.post(f"/v1/guardians/{guardian}/consent", json={"document": "Заявление"})
        assert r.status_code == 201, r.text
    days = ("2026-11-23", "2026-11-24", "2026-11-25")
    events = [
        *(
            mark("st-1", subject="Алгебра", value=v, lesson_date=d)
            for v, d in zip("543", days, strict=True)
        ),
        mark("st-1", subject="Физика", value="3", lesson_date="2026-11-23"),
        mark("st-1", subject="Физика", value="3", lesson_date="2026-11-26"),
        mark("st-1", subject="Русский язык", value="5", lesson_date="2026-11-27"),
        mark("st-1", subject="Физика", value="2", lesson_date="2026-11-16"),  # the week before
        mark("st-2", subject="Литература", value="5", lesson_date="2026-11-24"),
        attendance("st-1", "2026-11-23", "absent"),
        attendance("st-1", "2026-11-24", "excused"),
        attendance("st-1", "2026-11-25", "late"),
    ]
    assert (await post_batch(api, events)).status_code == 202


async def _summaries(
    runtime: Runtime, gateway: SmsGateway, clock: FakeClock, *, planned: int = 3
) -> dict[str, Sms]:
    """Plan and send the week's summaries; each child's SMS by the child's first name."""
    await run_until_idle(runtime)  # the marks' own messages
    gateway.clear()
    clock.now = SATURDAY_1900
    async with runtime.sessions() as session:
        written = await plan_weekly(session=session, now=clock.now, public_url=PUBLIC_URL)
        assert written == planned
    await run_until_idle(runtime)
    return {sms.text.split(":")[0]: sms for sms in gateway.messages_to(PHONE)}


def _path(sms: Sms) -> str:
    found = SMS_LINK.search(sms.text)
    assert found, sms.text
    return urlsplit(found.group()).path


async def test_an_sms_only_parent_gets_each_childs_week_in_one_segment_with_its_page(
    api: httpx.AsyncClient,
    runtime: Runtime,
    gateway: SmsGateway,
    smtp: SmtpServer,
    public: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    await _family(api)
    by_child = await _summaries(runtime, gateway, clock)

    # One SMS per child, each one segment of UCS-2 (70 characters) with its link: the average,
    # the absences, then the weakest subject as far as it fits (the dates do not, here).
    assert sorted(by_child) == ["Вера", "Пётр"]
    vera, petr = by_child["Вера"].text, by_child["Пётр"].text
    assert vera.startswith("Вера: ср. 3,8, пропуски 2; физ 3,0 https://uved17.ru/s/"), vera
    assert petr.startswith("Пётр: ср. 5,0, пропуски 0; лит 5,0 https://uved17.ru/s/"), petr
    for text in (vera, petr):
        size = measure(text)
        assert (size.encoding, size.segments) == (SmsEncoding.ucs2, 1), (text, size)
    assert _path(by_child["Вера"]) != _path(by_child["Пётр"])
    # The other guardian reads email: the table and the PDF, no SMS.
    summaries = [m for m in smtp.messages if "Итоги недели" in str(m.message["Subject"])]
    assert [m.rcpt_tos for m in summaries] == [["g-2@parents.example.org"]]
    async with runtime.sessions() as session:
        rows = list(
            await session.scalars(select(Notification).where(Notification.category == "summary"))
        )
    assert sorted((n.guardian_id, n.student_id, n.channel, n.segments) for n in rows) == [
        ("g-1", "st-1", "sms", 1),
        ("g-1", "st-2", "sms", 1),
        ("g-2", "st-1", "email", None),
    ]

    # The link opens Вера's week, without logging in: marks, averages, absences.
    page = await public.get(_path(by_child["Вера"]))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in page.headers["content-security-policy"]  # none allowed
    text = page.text
    assert '<html lang="ru">' in text and "<script" not in text
    assert "Соколова Вера Андреевна" in text and "класс 7Б" in text
    assert "23.11.2026 – 29.11.2026" in text
    for subject in ("Алгебра", "Физика", "Русский язык"):
        assert f"<h3>{subject}</h3>" in text
    assert "Средний балл: <b>4,00</b>" in text and "Средний балл: <b>3,00</b>" in text
    assert "(16.11)" not in text  # the week before's mark is not in this week
    assert "Пропущено уроков: <b>2</b>, по уважительной причине: <b>1</b>" in text
    assert "Опозданий: <b>1</b>" in text
    assert "Ссылка действует до 27 января 2027." in text

    # Пётр's link is Пётр's week only.
    other = await public.get(_path(by_child["Пётр"]))
    assert other.status_code == 200
    assert "<h3>Литература</h3>" in other.text and "Алгебра" not in other.text


async def test_a_tampered_expired_or_withdrawn_link_is_refused_with_a_page(
    api: httpx.AsyncClient,
    runtime: Runtime,
    gateway: SmsGateway,
    public: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    await _family(api)
    by_child = await _summaries(runtime, gateway, clock)
    vera, petr = _path(by_child["Вера"]), _path(by_child["Пётр"])
    token = vera.removeprefix(PAGE_PATH)
    row = page_row(token)
    assert row is not None
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    # Another row's id under this row's MAC, and this row's id under Пётр's MAC.
    swapped = petr.removeprefix(PAGE_PATH)[:-MAC_CHARS] + token[-MAC_CHARS:]
    for bad in (
        flipped,
        token[:-1],
        swapped,
        "1" + token,
        "zzzzzzzzzzzzzzzz",  # a row id past any INTEGER column: refused, not a 500
        "0" * 12,
        "not-a-token",
    ):
        refused = await public.get(f"{PAGE_PATH}{bad}")
        assert refused.status_code == 404, bad
        assert "Ссылка недействительна" in refused.text and "Соколова" not in refused.text
    assert (await public.get(vera)).status_code == 200

    # The guardian stops being the pupil's: the link stops at once.
    await put(
        api,
        "/v1/guardians/g-1",
        {"full_name": "Соколова Ирина", "phone": PHONE, "student_ids": ["st-2"]},
    )
    gone = await public.get(vera)
    assert gone.status_code == 410 and "Ссылка больше не действует" in gone.text
    assert "Соколова Вера" not in gone.text
    assert (await public.get(petr)).status_code == 200

    # Sixty days after the week was planned, the link has expired.
    clock.now = SATURDAY_1900 + timedelta(days=PAGE_DAYS) - timedelta(seconds=1)
    assert (await public.get(petr)).status_code == 200
    clock.now = SATURDAY_1900 + timedelta(days=PAGE_DAYS)
    expired = await public.get(petr)
    assert expired.status_code == 410 and "Срок ссылки истёк" in expired.text
    assert "Литература" not in expired.text

    # Consent withdrawn: no page either.
    clock.now = SATURDAY_1900
    assert (await api.delete("/v1/guardians/g-1/consent")).status_code == 204
    withdrawn = await public.get(petr)
    assert withdrawn.status_code == 410 and "Ссылка больше не действует" in withdrawn.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_page_speaks_english_to_an_english_guardian_and_escapes_the_journal(
    api: httpx.AsyncClient,
    runtime: Runtime,
    gateway: SmsGateway,
    public: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    await _family(api, locale="en")
    hostile = "<script>alert(1)</script>"
    marks = [mark("st-2", subject=hostile, value="4", lesson_date="2026-11-25")]
    assert (await post_batch(api, marks)).status_code == 202
    by_child = await _summaries(runtime, gateway, clock)
    page = await public.get(_path(by_child["Пётр"]))
    assert page.status_code == 200
    text = page.text
    assert '<html lang="en">' in text and "Summary of the week" in text
    assert "Average: <b>5.00</b>" in text and "Lessons missed: <b>0</b>" in text
    assert "This link works until January 27, 2027." in text
    assert hostile not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text
    token = _path(by_child["Пётр"]).removeprefix(PAGE_PATH)
    clock.now += timedelta(days=PAGE_DAYS)
    expired = await public.get(f"{PAGE_PATH}{token}")
    assert expired.status_code == 410 and '<html lang="en">' in expired.text
    assert "This link has expired" in expired.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sms_only_guardians_are_on_paper_only_when_the_months_sms_are_spent(
    api: httpx.AsyncClient,
) -> None:
    await _family(api)
    period = {"from": "2026-11-23", "to": "2026-11-29"}
    printed = await api.get("/v1/classes/7b/summary.html", params=period)
    assert printed.status_code == 200, printed.text
    assert "Нет учеников для печати" in printed.text  # g-1 by SMS, g-2 by email: no paper

    school = {"name": "Школа № 17", "sms_budget_month": 0}  # this month's SMS: none left
    assert (await api.put("/v1/schools/s17", json=school)).status_code == 200
    printed = await api.get("/v1/classes/7b/summary.html", params=period)
    assert printed.text.count('class="page"') == 2
    assert "Соколова Вера Андреевна" in printed.text and "Соколов Пётр Андреевич" in printed.text
    assert "Для: Соколова Ирина" in printed.text and "Соколов Андрей" not in printed.text


# -- Each child's part is one segment, whatever the week (no database) ----------------------


def _week(subjects: dict[str, str], *, absent: int = 0, excused: int = 0) -> Report:
    day = date(2026, 11, 24)
    return Report(
        "st-1",
        date(2026, 11, 23),
        date(2026, 11, 29),
        [
            Subject(name, [Mark(name, v, 1.0, day) for v in values])
            for name, values in subjects.items()
        ],
        absent=absent,
        excused=excused,
    )


FULL_WEEK = {
    "Алгебра": "5443",
    "Геометрия": "45",
    "Русский язык": "3",
    "Литература": "55",
    "Английский язык": "4",
    "Физика": "3",
    "История": "5",
    "Обществознание": "4",
    "Основы безопасности и защиты Родины": "5",
    "Вероятность и статистика": "2",
}


VERA = "Соколова Вера Андреевна"
LONG_NAME = "Константинопольская Александра-Виктория Андреевна"
WEEKS = {
    "usual": (VERA, _week({"Алгебра": "543", "Физика": "33", "Русский язык": "5"}, absent=1)),
    "no marks": (VERA, _week({})),
    "full": (LONG_NAME, _week(FULL_WEEK, absent=12, excused=30)),
    "unknown subject": ("Ким Ли", _week({"Астрономия": "4", "ОДНКНР": "5"})),
}
# Typical: a short address and a row id of millions (a year of a region's outbox).
TYPICAL = {
    "usual": "Вера: ср. 3,8, пропуски 1; физ 3,0",
    "no marks": "Вера: оценок нет, пропуски 0",
    "full": "Александра: ср. 4,1, пропуски 42",
    "unknown subject": "Ли: ср. 4,5, пропуски 0; астр 4,0",
}


@pytest.mark.parametrize("week", sorted(WEEKS))
@pytest.mark.parametrize(
    "base",
    [
        "https://uved17.ru",
        "http://127.0.0.1:8000",
        "https://uved.school17.ru",
        "https://notify.school-17.edu.ru",  # 31 characters: the longest that still fits
    ],
)
@pytest.mark.parametrize("row_id", [1, 4_000_000, 2**31 - 1])
def test_each_childs_part_is_exactly_one_segment_with_its_whole_link(
    week: str, base: str, row_id: int
) -> None:
    name, report = WEEKS[week]
    link = page_link({"page": {"key": "k" * 22, "base": base + PAGE_PATH}}, row_id)
    assert link is not None
    text = summary_sms(Renderer(), {"student": PupilView("st-1", name)}, report, link)
    size = measure(text)
    assert (size.encoding, size.segments) == (SmsEncoding.ucs2, 1), (text, size)
    assert text.endswith(" " + link), text
    if (base, row_id) == ("https://uved17.ru", 4_000_000):
        assert text.removesuffix(" " + link) == TYPICAL[week]
    # As much is said as fits: with room for the dates they are there (unless it is terse).
    assert "23–29.11" in text or " проп." in text or size.units + len(" 23–29.11") > 70, text


def test_a_public_url_too_long_for_one_segment_keeps_its_link_whole_in_two() -> None:
    name, report = WEEKS["usual"]
    link = page_link({"page": {"key": "k", "base": "https://" + "x" * 60 + ".ru/s/"}}, 5)
    assert link is not None
    text = summary_sms(Renderer(), {"student": PupilView("st-1", name)}, report, link)
    assert text == f"Вера: ср.3,8 проп.1 {link}"
    assert measure(text).segments == 2


def test_without_a_public_url_the_sms_has_no_link_but_the_dates() -> None:
    week = _week({"Алгебра": "543", "Физика": "33"}, absent=1)
    pupil = {"student": PupilView("st-1", "Соколова Вера Андреевна")}
    text = summary_sms(Renderer(), pupil, week, None)
    assert text == "Вера 23–29.11: ср. 3,6, пропуски 1; физ 3,0, алг 4,0"
    assert page_link({"page": {"key": "k"}}, 7) is None


def test_a_token_names_its_row_and_only_its_week_key_makes_it() -> None:
    for row_id in (1, 61, 62, 3844, 2**31 - 1):
        token = page_token("week-key", row_id)
        assert re.fullmatch(r"[0-9A-Za-z]+", token) and len(token) <= MAC_CHARS + 6
        assert page_row(token) == row_id
        assert page_token_valid({"page": {"key": "week-key"}}, token)
        assert not page_token_valid({"page": {"key": "another-week"}}, token)
        assert not page_token_valid({}, token)
    assert len(page_token("k", 1)) == MAC_CHARS + 1
    for malformed in ("", "abc", "0" + page_token("k", 5), "a-b" * 5, "я" * 12, "z" * 17):
        assert page_row(malformed) is None, malformed
    assert page_row("zzzzzzz" + "0" * MAC_CHARS) is None  # past an INTEGER row id
