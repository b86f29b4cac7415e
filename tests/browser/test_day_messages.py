"""The day's report (15:30) and the evening message (19:00) of issue 19 as a parent sees them: in
Telegram, drawn from the text and entities the Bot API server recorded (what Telegram makes of
our HTML, tests/browser/telegram_view.py), and in email, the HTML part the SMTP server got, at a
phone's and a desktop's width. The screenshots are kept for a person to look at
(tests/browser/checks.py: screenshot_dir).

A mother of Вера (7Б) and Лев (3А) reads Telegram; Вера's father has email only. In the English
variant both have the locale `en`: the same day, our words in English, the journal's as it wrote
them (the screenshots end in `-en`). The pipeline
runs in process on a FakeClock (as in tests/test_quiet_defaults.py) on its own thread and loop,
and the browser runs after it on another thread: Playwright's sync API takes over its thread's
event loop, and the package's `chromium` fixture, when another test started it, holds this
one's (tests/browser/conftest.py). The package's fixtures would start the whole stack, which
these pages do not need, so Chromium is launched here the way they launch it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, sync_playwright
from pydantic import SecretStr
from redis import Redis as SyncRedis

from bots.dispatcher import build_dispatcher
from notifier.api.app import create_app
from notifier.config import Settings
from notifier.runtime import Runtime, build_runtime, run_until_idle
from tests.browser.checks import DESKTOP, PHONE, screenshot_dir
from tests.browser.chromium import LAUNCH_ARGS, find_chromium, missing_reason
from tests.browser.telegram_view import Bubble, chat_page, message_html
from tests.conftest import ADMIN_TOKEN, FakeClock
from tests.factories import (
    cloud_event,
    mark,
    post_batch,
    post_structured,
    pupil_with_guardian,
    put,
    school_with_class,
)
from tests.servers.smtp_server import ReceivedMail, SmtpServer
from tests.servers.telegram import BotApiServer, SentMessage, parse_html
from tests.test_telegram import link

MOSCOW = ZoneInfo("Europe/Moscow")
MUM_CHAT = 700019
DAD_EMAIL = "orlov.andrey@parents.example.org"
EMAIL_DESKTOP = ViewportSize(width=1024, height=DESKTOP["height"])
T = TypeVar("T")

# The day's journal, 23.11.2026. Вера's 2 in physics goes at once (an important mark); the
# rest waits for the report. Вера's 5 in algebra is corrected to a 4 after the report went.
VERA_MARKS = [
    mark("st-vera", subject="Алгебра", value="5", mark_id="vera-algebra"),
    mark("st-vera", subject="Русский язык", value="4", work_type="Диктант"),
    mark("st-vera", subject="История", value="3", work_type="Ответ на уроке"),
    mark("st-vera", subject="Физика", value="2", work_type="Самостоятельная работа"),
]
LEV_MARKS = [
    mark("st-lev", subject="Математика", value="5"),
    mark("st-lev", subject="Литературное чтение", value="4", work_type="Чтение наизусть"),
    mark("st-lev", subject="Окружающий мир", value="5", work_type="Ответ на уроке"),
]
THE_TWO = "Физика: 2"
HOMEWORK = [
    ("7b", "Алгебра", "№ 214, 215 (а, в); повторить формулы сокращённого умножения", "2026-11-25"),
    ("7b", "Физика", "§ 12 читать, ответить на вопросы 1–4 письменно", "2026-11-24"),
    ("7b", "Английский язык", "Workbook p. 34, ex. 2, 3; слова к тесту", "2026-11-25"),
    ("3a", "Окружающий мир", "Стр. 40–43, пересказ; принести гербарий", "2026-11-24"),
    ("3a", "Русский язык", "Упр. 112, словарные слова на с. 60", "2026-11-25"),
    # A long link must wrap, not widen the email past a phone's screen.
    (
        "7b",
        "Информатика",
        "Презентация: https://school17.example.ru/files/informatika/7b/2026-11-23/"
        "prezentaciya_algoritmy_vetvleniya_final_v2.pptx",
        "2026-11-25",
    ),
]


@dataclass(frozen=True)
class Headings:
    """How the day's report and the evening begin in a language."""

    report: str
    evening: str


RUSSIAN = Headings("Итоги дня", "Вечерняя сводка")
ENGLISH = Headings("Day report", "Evening summary")


@dataclass(frozen=True)
class Day:
    """What the family got: the mother's Telegram messages, the father's mail."""

    report: SentMessage
    evening: SentMessage
    report_mail: ReceivedMail
    evening_mail: ReceivedMail


# A Redis database of its own, flushed alone: the conftest's redis_clean flushes every database,
# the browser stacks' (stack.py's REDIS_DB, test_max_console's) among them, while they run.
REDIS_DB = 11


@pytest.fixture
def redis_clean(redis_url: str) -> str:
    url = f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}"
    client = SyncRedis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    # SQLite only: the pictures do not depend on the database, and the pipeline's SQL is tested
    # on both elsewhere.
    target = tmp_path / "notifier.db"
    target.write_bytes(sqlite_template.read_bytes())
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0.2,
        }
    )


def _in_thread(work: Callable[[], T]) -> T:
    """`work` on a thread of its own: no event loop of this one's is in its way."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def _at(clock: FakeClock, hh: int, mm: int) -> None:
    clock.now = datetime(2026, 11, 23, hh, mm, tzinfo=MOSCOW).astimezone(UTC)


def _homework(klass: str, subject: str, text: str, due: str) -> dict[str, object]:
    return cloud_event(
        "journal.homework.assigned",
        {
            "homework_id": f"hw-{klass}-{subject}",
            "class_id": klass,
            "subject": subject,
            "text": text,
            "due_date": due,
        },
    )


@asynccontextmanager
async def _pipeline(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The runtime and the API, as tests/conftest.py's `runtime` and `api` make them."""
    runtime = build_runtime(settings, clock=clock)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://notifier.test",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as api:
            yield runtime, api
    finally:
        await runtime.close()


async def _family(api: httpx.AsyncClient, locale: str) -> None:
    await school_with_class(api, quiet_defaults=True)
    await put(api, "/v1/classes/3a", {"school_id": "s17", "name": "3А"})
    await pupil_with_guardian(
        api,
        "st-vera",
        "g-mum",
        email="orlova.mariya@parents.example.org",
        full_name="Орлова Вера Андреевна",
        guardian_name="Орлова Мария Сергеевна",
    )
    await pupil_with_guardian(
        api,
        "st-lev",
        "g-mum",
        email="orlova.mariya@parents.example.org",
        full_name="Орлов Лев Андреевич",
        guardian_name="Орлова Мария Сергеевна",
        klass="3a",
        extra_students=("st-vera",),
    )
    await pupil_with_guardian(
        api,
        "st-vera",
        "g-dad",
        email=DAD_EMAIL,
        full_name="Орлова Вера Андреевна",
        guardian_name="Орлов Андрей Викторович",
    )
    if locale != "ru":  # the same guardians, in another language
        mum = {
            "full_name": "Орлова Мария Сергеевна",
            "email": "orlova.mariya@parents.example.org",
            "student_ids": ["st-lev", "st-vera"],
        }
        dad = {
            "full_name": "Орлов Андрей Викторович",
            "email": DAD_EMAIL,
            "student_ids": ["st-vera"],
        }
        for guardian, body in (("g-mum", mum), ("g-dad", dad)):
            await put(api, f"/v1/guardians/{guardian}", {**body, "locale": locale})


def _one(found: list[T], what: str) -> T:
    assert len(found) == 1, f"expected one {what}, got {len(found)}"
    return found[0]


async def _live_the_day(
    settings: Settings, clock: FakeClock, bot_api: BotApiServer, locale: str = "ru"
) -> None:
    async with _pipeline(settings, clock) as (runtime, api):

        async def pump() -> None:
            await run_until_idle(runtime)

        await _family(api, locale)
        await link(api, build_dispatcher(settings), runtime, bot_api, "g-mum", MUM_CHAT)
        _at(clock, 12, 5)
        assert (await post_batch(api, VERA_MARKS + LEV_MARKS)).status_code == 202
        await pump()
        _at(clock, 14, 20)
        assert (await post_batch(api, [_homework(*hw) for hw in HOMEWORK])).status_code == 202
        await pump()
        _at(clock, 15, 30)
        await pump()
        _at(clock, 16, 10)
        correction = cloud_event(
            "journal.mark.updated",
            {
                "mark_id": "vera-algebra",
                "student_id": "st-vera",
                "subject": "Алгебра",
                "value": "4",
                "old_value": "5",
            },
        )
        assert (await post_structured(api, correction)).status_code == 202
        await pump()
        _at(clock, 19, 0)
        await pump()


def _collect(bot_api: BotApiServer, smtp: SmtpServer, headings: Headings = RUSSIAN) -> Day:
    told = bot_api.messages_to(MUM_CHAT)
    mails = [m for m in smtp.messages if DAD_EMAIL in m.rcpt_tos]
    report, evening = headings.report, headings.evening
    return Day(
        report=_one([m for m in told if report in m.plain], "day's report in Telegram"),
        evening=_one([m for m in told if evening in m.plain], "evening in Telegram"),
        report_mail=_one(
            [m for m in mails if report in str(m.message["Subject"])], "day's report mail"
        ),
        evening_mail=_one(
            [m for m in mails if evening in str(m.message["Subject"])], "evening mail"
        ),
    )


def _html_part(mail: ReceivedMail) -> str:
    body = mail.message.get_body(("html",))
    assert body is not None, f"the mail {mail.message['Subject']!r} has no HTML part"
    return str(body.get_content())


def _shoot(page: Page, content: str, size: ViewportSize, path: Path) -> int:
    """Open `content` at `size`, save a full-page screenshot; return how many pixels the page
    is wider than the screen (0 when it does not scroll sideways)."""
    page.set_viewport_size(size)
    page.set_content(content, wait_until="load")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    wider: int = page.evaluate("document.documentElement.scrollWidth") - size["width"]
    return wider


def _photograph(day: Day, folder: Path, suffix: str = "") -> dict[str, int]:
    """Each screenshot's name (+ `suffix`) → how far its page scrolls sideways."""
    executable = find_chromium()
    assert executable is not None, missing_reason()
    telegram = {
        "day-report-telegram": Bubble(day.report.plain, day.report.entities, "15:30"),
        "evening-telegram": Bubble(day.evening.plain, day.evening.entities, "19:00"),
    }
    email = {
        "day-report-email-phone": (_html_part(day.report_mail), PHONE),
        "evening-email-phone": (_html_part(day.evening_mail), PHONE),
        "evening-email-desktop": (_html_part(day.evening_mail), EMAIL_DESKTOP),
    }
    folder.mkdir(parents=True, exist_ok=True)
    sideways: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(LAUNCH_ARGS), headless=True
        )
        try:
            context = browser.new_context(locale="ru-RU", timezone_id="Europe/Moscow")
            page = context.new_page()
            for name, bubble in telegram.items():
                page_html = chat_page([bubble], chat_name="Школа № 17")
                sideways[name] = _shoot(page, page_html, PHONE, folder / f"{name}{suffix}.png")
            for name, (content, size) in email.items():
                sideways[name] = _shoot(page, content, size, folder / f"{name}{suffix}.png")
            context.close()
        finally:
            browser.close()
    return sideways


def test_the_days_report_and_the_evening_as_a_parent_sees_them(
    settings: Settings, clock: FakeClock, bot_api: BotApiServer, smtp: SmtpServer
) -> None:
    if find_chromium() is None:
        pytest.skip(missing_reason())
    _in_thread(lambda: asyncio.run(_live_the_day(settings, clock, bot_api)))
    day = _collect(bot_api, smtp)

    report, evening = day.report.plain, day.evening.plain
    for text in (report, evening):
        assert "Вера" in text and "Лев" in text, text
    assert "Алгебра: 5" in report and "История: 3 (Ответ на уроке" in report, report
    assert THE_TWO not in report and "Физика" not in report, report  # it went at 12:05
    assert any(THE_TWO in m.plain for m in bot_api.messages_to(MUM_CHAT)), "the 2 went at once"
    assert "на 24 ноября" in evening and "на 25 ноября" in evening, evening
    assert "5 → 4" in evening, evening
    # Within a child, the homework due first comes first.
    assert evening.index("§ 12 читать") < evening.index("№ 214, 215"), evening
    assert evening.index("Стр. 40–43") < evening.index("Упр. 112"), evening

    # The entities land on the right characters (the heading's emoji is two UTF-16 units).
    drawn = message_html(report, day.report.entities)
    assert "<b>Итоги дня, 23 ноября" in drawn and "<b>Вера</b>" in drawn, drawn
    assert "<i>Оценки</i>" in drawn, drawn

    folder = screenshot_dir()
    sideways = _in_thread(lambda: _photograph(day, folder))
    too_wide = {name: px for name, px in sideways.items() if px > 0}
    assert not too_wide, f"pages wider than the screen (px): {too_wide}; see {folder}"


def test_the_days_report_and_the_evening_in_english(
    settings: Settings, clock: FakeClock, bot_api: BotApiServer, smtp: SmtpServer
) -> None:
    """The same day for parents whose locale is `en`: our words English, the journal's (the
    subjects, the homework) as it wrote them."""
    if find_chromium() is None:
        pytest.skip(missing_reason())
    _in_thread(lambda: asyncio.run(_live_the_day(settings, clock, bot_api, locale="en")))
    day = _collect(bot_api, smtp, ENGLISH)

    report, evening = day.report.plain, day.evening.plain
    assert "Алгебра: 5" in report and "История: 3 (Ответ на уроке" in report, report
    assert "Homework for 24 November" in evening and "Homework for 25 November" in evening
    assert "5 → 4 (corrected)" in evening, evening
    drawn = message_html(report, day.report.entities)
    assert "<b>Day report, 23 November" in drawn and "<i>Marks</i>" in drawn, drawn
    assert str(day.report_mail.message["Subject"]) == "Day report, 23 November (Вера)"
    assert "Hello!" in _html_part(day.evening_mail)

    folder = screenshot_dir()
    sideways = _in_thread(lambda: _photograph(day, folder, "-en"))
    too_wide = {name: px for name, px in sideways.items() if px > 0}
    assert not too_wide, f"pages wider than the screen (px): {too_wide}; see {folder}"


def test_the_chat_draws_telegrams_entities_as_tags() -> None:
    """Our HTML through Telegram's parser and back: nesting, a link, a quote (its line break
    drawn by the block), an emoji of two UTF-16 units; and entities that overlap without
    nesting, which the Bot API allows."""
    plain, entities = parse_html(
        "🗓 <b>Итог <i>дня</i></b> &lt;7Б&gt;\n<blockquote>Цитата</blockquote>\n"
        'См. <a href="https://school17.example.ru/a?b=1&amp;c=2">журнал</a>'
    )
    assert message_html(plain, entities) == (
        "🗓 <b>Итог <i>дня</i></b> &lt;7Б&gt;\n<blockquote>Цитата</blockquote>См. "
        '<a href="https://school17.example.ru/a?b=1&amp;c=2">журнал</a>'
    )
    overlapping = [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 2, "length": 4},
    ]
    assert message_html("абвгде", overlapping) == "<b>аб<i>вг</i></b><i>де</i>"
    bare = message_html("Подробнее: https://school17.example.ru/news.", [])
    assert bare == (
        'Подробнее: <a href="https://school17.example.ru/news">'
        "https://school17.example.ru/news</a>."
    )
