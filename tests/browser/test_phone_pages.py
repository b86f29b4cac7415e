"""The pages a parent opens from an SMS, on an old phone's screen (issue 18): the week's summary
(/s/<token>) and a long announcement (/a/<id>) read at 320 px wide with scripts off, in one
column, in type large enough, axe-clean. The week is planned for the stack's worker to send by
SMS (the file outbox) and its link is opened in Chromium; screenshots at 320 px are kept with
the others (tests/browser/checks.py: screenshot_dir) for a person to look at."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from notifier.api.app import create_app
from notifier.channels.sms_text import measure
from notifier.config import Settings
from notifier.db.engine import create_engine, session_factory
from notifier.rendering import Renderer
from notifier.summaries import plan_weekly
from tests.browser.checks import OLD_PHONE, check_axe, screenshot, screenshot_dir
from tests.browser.seed import SeededSchool
from tests.browser.stack import Stack
from tests.conftest import ADMIN_TOKEN
from tests.processes import steady_port

SMALLEST_TEXT_PX = 16
WAIT_SECONDS = 30
LONG_ANNOUNCEMENT = (
    "Уважаемые родители!\n"
    "В пятницу, 27 ноября, занятия проходят по сокращённому расписанию: уроки по 30 минут, "
    "начало в 8:30.\n"
    "Расписание: https://school17.example.ru/news/2026/11/raspisanie-na-pyatnicu-sokrashchennoe"
    "?utm_source=sms&utm_campaign=notifier\n"
    "Классный руководитель Орлова Наталья Викторовна"
)


# -- The week's page server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API over the stack's database, served in this process at a public URL of its own
    (the links in the week's SMS point at it)."""
    port = steady_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=stack.database_url,
        redis_url=stack.redis_url,
        public_url=base_url,
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path_factory.mktemp("pages") / "var",
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="pages", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"the page server at {base_url} did not start")
        time.sleep(0.05)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# -- A week, planned and sent by SMS ---------------------------------------------------------


@dataclass(frozen=True)
class SentWeek:
    school: SeededSchool
    links: dict[str, str]  # guardian id → the link in their SMS
    texts: dict[str, str]  # guardian id → the SMS


def _last_saturday_morning() -> datetime:
    """07:00 in Moscow on the last Saturday before today: the seeded school's summaries are due
    then (its digest time is set to 06:00), every other school's not yet (19:00)."""
    today = datetime.now(UTC).date()
    saturday = today - timedelta(days=(today.weekday() - 5) % 7 or 7)
    return datetime(saturday.year, saturday.month, saturday.day, 4, 0, tzinfo=UTC)


def _plan(database_url: str, now: datetime, public_url: str) -> int:
    """plan_weekly on its own loop and thread (Playwright holds this thread's loop)."""

    async def run() -> int:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                return await plan_weekly(session=session, now=now, public_url=public_url)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _events(
    pupil: str, monday: date, marks: list[tuple[str, str, int]], absent: int
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n, (subject, value, day) in enumerate(marks):
        lesson = (monday + timedelta(days=day)).isoformat()
        data: dict[str, Any] = {
            "mark_id": f"{pupil}-m{n}",
            "student_id": pupil,
            "subject": subject,
            "value": value,
            "lesson_date": lesson,
        }
        events.append(_cloud(f"{pupil}-m{n}", "journal.mark.created", data))
    for n in range(absent):
        lesson = (monday + timedelta(days=n)).isoformat()
        absence = {"student_id": pupil, "lesson_date": lesson, "status": "absent"}
        events.append(_cloud(f"{pupil}-a{n}", "journal.attendance.recorded", absence))
    return events


def _cloud(ident: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"phone-{ident}",
        "source": "/journal/phone-pages",
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def _stored(stack: Stack, pupils: tuple[str, str]) -> int:
    database = stack.database_url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(database)) as db:
        row = db.execute(
            "SELECT count(*) FROM journal_events WHERE student_id IN (?, ?)", pupils
        ).fetchone()
    return int(row[0])


def _sms_with_link(stack: Stack, phone: str) -> str | None:
    folder = stack.data_dir / "outbox" / "sms"
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        record = json.loads(path.read_text())
        if record["to"] == phone and "/s/" in record["text"]:
            return str(record["text"])
    return None


@pytest.fixture(scope="module")
def week(stack: Stack, pages: str) -> SentWeek:
    """A seeded school's week: Белова Алиса's guardian has SMS only; Dmitrieva Anna (locale
    en) asks for SMS. The week is planned for last Saturday and the stack's worker sends it."""
    school = stack.seed_school()
    body = {
        "name": school.school_name,
        "quiet_hours": {"start": "00:00", "end": "00:00"},
        "digest_time": "06:00",
    }
    assert stack.api.put(f"/v1/schools/{school.school_id}", json=body).status_code == 200
    alisa, lev = school.pupils[1], school.pupils[4]
    readers = {p.id: school.guardian_of(p.id) for p in (alisa, lev)}
    answer = stack.api.put(
        f"/v1/guardians/{readers[lev.id].id}/preferences", json={"channels": ["sms"]}
    )
    assert answer.status_code == 200, answer.text
    now = _last_saturday_morning()
    monday = now.date() - timedelta(days=5)
    events = [
        *_events(
            alisa.id,
            monday,
            [
                ("Алгебра", "5", 0),
                ("Алгебра", "3", 2),
                ("Физика", "3", 1),
                ("Русский язык", "4", 3),
            ],
            absent=2,
        ),
        *_events(lev.id, monday, [("Литература", "5", 1), ("Английский язык", "4", 2)], absent=0),
    ]
    posted = stack.api.post(
        "/v1/events",
        content=json.dumps(events),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    assert posted.status_code == 202, posted.text
    deadline = time.monotonic() + WAIT_SECONDS
    while _stored(stack, (alisa.id, lev.id)) < len(events):
        stack.assert_running()
        assert time.monotonic() < deadline, f"the worker did not store the events\n{stack.logs()}"
        time.sleep(0.1)

    assert _plan(stack.database_url, now, pages) >= 2
    texts: dict[str, str] = {}
    for pupil, guardian in readers.items():
        assert guardian.phone is not None
        deadline = time.monotonic() + WAIT_SECONDS
        while (text := _sms_with_link(stack, guardian.phone)) is None:
            stack.assert_running()
            assert time.monotonic() < deadline, f"no summary SMS for {pupil}\n{stack.logs()}"
            time.sleep(0.1)
        texts[guardian.id] = text
    links = {g: text.rsplit(" ", 1)[-1] for g, text in texts.items()}
    return SentWeek(school, links, texts)


# -- On the phone ----------------------------------------------------------------------------


def _reads_well_at_320(page: Page, name: str) -> Path:
    """One column that fits 320 px, no script, type of 16 px or more; the whole page saved at
    320 px as `<name>-320.png`."""
    assert page.viewport_size == OLD_PHONE
    assert page.evaluate("document.documentElement.scrollWidth") <= OLD_PHONE["width"]
    assert page.locator("script").count() == 0
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('p, li, h1, h2, h3, td, th'))"
        ".map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert sizes and min(sizes) >= SMALLEST_TEXT_PX, sizes
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-320.png"
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    return path


def _axe_at_320(tab: Page) -> None:
    """axe-core needs script (and its timers), so it runs in the harness's tab, at 320 px."""
    tab.set_viewport_size(OLD_PHONE)
    check_axe(tab)


def test_the_sms_holds_each_childs_week_in_one_segment_with_a_link(
    week: SentWeek, pages: str
) -> None:
    for guardian, text in week.texts.items():
        assert measure(text).segments == 1, text
        assert week.links[guardian].startswith(f"{pages}/s/"), text
    alisa = week.texts[week.school.guardian_of(week.school.pupils[1].id).id]
    assert alisa.startswith("Алиса: ср. 3,8, пропуски 2"), alisa


def test_the_weeks_page_reads_well_on_an_old_phone(week: SentWeek, phone: Page, tab: Page) -> None:
    alisa = week.school.pupils[1]
    link = week.links[week.school.guardian_of(alisa.id).id]
    answer = phone.goto(link)
    assert answer is not None and answer.status == 200
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    expect(phone.get_by_role("heading", name="Итоги недели", level=1)).to_be_visible()
    expect(phone.get_by_text(alisa.full_name)).to_be_visible()
    for subject in ("Алгебра", "Физика", "Русский язык"):
        expect(phone.get_by_role("heading", name=subject, level=3)).to_be_visible()
    expect(phone.locator("main")).to_contain_text("Средний балл: 4,00")
    expect(phone.locator("main")).to_contain_text("Пропущено уроков: 2")
    assert phone.locator("html").get_attribute("lang") == "ru"
    _reads_well_at_320(phone, "phone-summary")
    # With scripts on: axe, and the harness's phone and desktop widths.
    tab.goto(link)
    _axe_at_320(tab)
    screenshot(tab, "phone-summary")


def test_the_weeks_page_speaks_english_and_a_broken_link_says_so(
    week: SentWeek, phone: Page, tab: Page
) -> None:
    lev = week.school.pupils[4]
    link = week.links[week.school.guardian_of(lev.id).id]
    answer = phone.goto(link)
    assert answer is not None and answer.status == 200
    assert phone.locator("html").get_attribute("lang") == "en"
    expect(phone.get_by_role("heading", name="Summary of the week")).to_be_visible()
    expect(phone.get_by_role("heading", name="Английский язык")).to_be_visible()
    _reads_well_at_320(phone, "phone-summary-en")
    tab.goto(link)
    _axe_at_320(tab)

    broken = phone.goto(link[:-1])
    assert broken is not None and broken.status == 404
    expect(phone.get_by_role("heading", name="Ссылка недействительна")).to_be_visible()
    expect(phone.locator("main")).not_to_contain_text(lev.full_name)
    _reads_well_at_320(phone, "phone-summary-broken")
    tab.goto(link[:-1])
    _axe_at_320(tab)


def test_the_announcement_page_template_reads_well_on_an_old_phone(phone: Page, tab: Page) -> None:
    html = Renderer().page(
        "_public/announcement.html.j2", {"text": LONG_ANNOUNCEMENT, "school": "Школа № 17"}
    )
    phone.set_content(html)
    expect(phone.get_by_role("heading", name="Объявление")).to_be_visible()
    expect(phone.get_by_text("начало в 8:30.", exact=False)).to_be_visible()
    # The text keeps its lines; a long address wraps instead of widening the page.
    assert phone.locator(".text").evaluate("e => getComputedStyle(e).whiteSpace") == "pre-line"
    _reads_well_at_320(phone, "phone-announcement")
    tab.set_content(html)
    _axe_at_320(tab)


def test_the_announcement_route_reads_well_on_an_old_phone(
    stack: Stack, phone: Page, tab: Page
) -> None:
    school = stack.seed_school()
    created = stack.api.post(
        "/v1/announcements",
        json={"audience": {"class_ids": [school.class_id]}, "text": LONG_ANNOUNCEMENT},
    )
    assert created.status_code == 201, created.text
    answer = phone.goto(f"{stack.base_url}/a/{created.json()['id']}")
    assert answer is not None and answer.status == 200
    expect(phone.get_by_role("heading", name="Объявление")).to_be_visible()
    _reads_well_at_320(phone, "phone-announcement-route")
    tab.goto(f"/a/{created.json()['id']}")
    _axe_at_320(tab)
