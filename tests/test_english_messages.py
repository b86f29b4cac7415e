"""The day's report, the evening and the evening SMS in English for a guardian whose locale is
`en` (issue 19), from one set of templates: the words come from notifier/message_words.py by the
render context's `locale`. A Russian guardian of the same school, in the same run, still reads
Russian.

The school here keeps the defaults (marks in the day's report at 15:30, homework and what came
after the report in the evening at 19:00). The journal's data is Latin, so an English message
with any Cyrillic in it has a word of ours left untranslated. The clock starts on Monday
23.11.2026 at 12:00 in Moscow."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

import notifier.message_words
from bots.dispatcher import build_dispatcher
from notifier.channels.sms_text import SmsEncoding, measure
from notifier.config import Settings, SmsProvider
from notifier.message_words import WORDS, Language, say
from notifier.rendering import ru_plural
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import cloud_event, mark, post_batch, post_structured, put
from tests.servers.sms_server import SmsGateway
from tests.servers.smtp_server import ReceivedMail, SmtpServer
from tests.servers.telegram import BotApiServer, SentMessage
from tests.test_telegram import link

MOSCOW = ZoneInfo("Europe/Moscow")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
MUM_CHAT = 700191
DAD = "dad@parents.example.org"  # English, email only
GRAN = "gran@parents.example.org"  # Russian, email only
UNCLE_PHONE = "+79161234567"  # English, a phone only
AUNT_PHONE = "+79161234568"  # Russian, a phone only

# Everything the journal says in this day, as the messages may quote it.
DATA = (
    "School 17",
    "7B",
    "3A",
    "Vera",
    "Lev",
    "Algebra",
    "History",
    "Oral answer",
    "Good",
    "Music",
    "Physics",
    "Read section 12",
    "No. 214, 215",
    "Reading",
    "Page 40",
    "English",
    "Exercise 112",
    "Art",
)


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    server = SmsGateway("http", api_key="test-key")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer, gateway: SmsGateway) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0.0,
            "sms_provider": SmsProvider(gateway.kind),
            "sms_url": gateway.url,
            "sms_api_key": SecretStr("test-key"),
            "sms_sender": "School17",
        }
    )


def _at(clock: FakeClock, hh: int, mm: int) -> None:
    clock.now = datetime(2026, 11, 23, hh, mm, tzinfo=MOSCOW).astimezone(UTC)


def _words_of(text: str) -> str:
    """The text without the journal's data: what is left are our words."""
    for value in sorted(DATA, key=len, reverse=True):
        text = text.replace(value, "")
    return text


def _english(text: str) -> None:
    assert not CYRILLIC.search(_words_of(text)), text
    assert not CYRILLIC.search(text), text  # the data is Latin too


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


async def _guardian(
    api: httpx.AsyncClient, guardian: str, children: list[str], locale: str, **contact: str
) -> None:
    body = {"full_name": "Orlova Maria", "student_ids": children, "locale": locale, **contact}
    await put(api, f"/v1/guardians/{guardian}", body)
    consent = await api.post(f"/v1/guardians/{guardian}/consent", json={"document": "No. 1"})
    assert consent.status_code == 201, consent.text


async def _school(
    api: httpx.AsyncClient, settings: Settings, runtime: Runtime, bot_api: BotApiServer
) -> None:
    """Vera (7B) and Lev (3A). Their mother reads Telegram in English, their father email in
    English, an uncle SMS in English; Vera's grandmother reads email in Russian, her aunt SMS
    in Russian."""
    await put(api, "/v1/schools/s17", {"name": "School 17", "timezone": "Europe/Moscow"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7B"})
    await put(api, "/v1/classes/3a", {"school_id": "s17", "name": "3A"})
    for student, klass, name in (
        ("st-vera", "7b", "Orlova Vera Andreevna"),
        ("st-lev", "3a", "Orlov Lev Andreevich"),
    ):
        body = {"school_id": "s17", "class_id": klass, "full_name": name}
        await put(api, f"/v1/students/{student}", body)
    both = ["st-vera", "st-lev"]
    await _guardian(api, "g-mum", both, "en", email="mum@parents.example.org")
    await _guardian(api, "g-dad", both, "en", email=DAD)
    await _guardian(api, "g-uncle", both, "en", phone=UNCLE_PHONE)
    await _guardian(api, "g-gran", ["st-vera"], "ru", email=GRAN)
    await _guardian(api, "g-aunt", ["st-vera"], "ru", phone=AUNT_PHONE)
    await link(api, build_dispatcher(settings), runtime, bot_api, "g-mum", MUM_CHAT)


async def _the_day(api: httpx.AsyncClient, clock: FakeClock, pump, *, evening: bool) -> None:  # type: ignore[no-untyped-def]
    """Marks at noon wait for the report; homework and a timetable change for Friday wait for
    the evening, with a correction and a mark for last week that came after the report."""
    _at(clock, 12, 5)
    marks = [
        mark("st-vera", subject="Algebra", value="5", mark_id="vera-algebra"),
        mark("st-vera", subject="History", value="4", work_type="Oral answer", comment="Good"),
        mark("st-lev", subject="Music", value="5"),
    ]
    assert (await post_batch(api, marks)).status_code == 202
    await pump()
    _at(clock, 14, 20)
    homework = [
        _homework("7b", "Algebra", "No. 214, 215", "2026-11-25"),
        _homework("7b", "Physics", "Read section 12", "2026-11-24"),
        _homework("3a", "Reading", "Page 40", "2026-11-24"),
        _homework("3a", "English", "Exercise 112", "2026-11-25"),
    ]
    assert (await post_batch(api, homework)).status_code == 202
    change = {
        "class_id": "7b",
        "date": "2026-11-27",
        "change": "cancelled",
        "lesson_number": 5,
        "subject": "Physics",
    }
    await post_structured(api, cloud_event("journal.schedule.changed", change))
    await pump()
    _at(clock, 15, 30)
    await pump()
    if not evening:
        return
    _at(clock, 16, 10)
    corrected = {
        "mark_id": "vera-algebra",
        "student_id": "st-vera",
        "subject": "Algebra",
        "value": "4",
        "old_value": "5",
    }
    await post_structured(api, cloud_event("journal.mark.updated", corrected))
    await post_structured(api, mark("st-lev", subject="Art", value="5", lesson_date="2026-11-20"))
    await pump()
    _at(clock, 19, 0)
    await pump()


def _told(bot_api: BotApiServer, heading: str) -> SentMessage:
    [message] = [m for m in bot_api.messages_to(MUM_CHAT) if heading in m.plain]
    return message


def _mail(smtp: SmtpServer, to: str, subject: str) -> ReceivedMail:
    [mail] = [m for m in smtp.messages if to in m.rcpt_tos and str(m.message["Subject"]) == subject]
    return mail


def _parts(mail: ReceivedMail) -> tuple[str, str]:
    plain, html = mail.message.get_body(("plain",)), mail.message.get_body(("html",))
    assert plain is not None and html is not None
    return str(plain.get_content()).replace("\r\n", "\n"), str(html.get_content())


async def test_the_days_report_reads_in_english_and_in_russian_beside_it(
    api: httpx.AsyncClient,
    settings: Settings,
    runtime: Runtime,
    smtp: SmtpServer,
    bot_api: BotApiServer,
    clock: FakeClock,
    pump,  # type: ignore[no-untyped-def]
) -> None:
    await _school(api, settings, runtime, bot_api)
    await _the_day(api, clock, pump, evening=False)

    report = _told(bot_api, "Day report, 23 November")
    _english(report.text)
    assert report.plain.splitlines() == [
        "🗓️ Day report, 23 November",
        "",
        "Vera · 7B",
        "📘 Marks",
        "• Algebra: 5",
        "• History: 4 (Oral answer) — Good",
        "",
        "Lev · 3A",
        "📘 Marks",
        "• Music: 5",
    ]

    plain, html = _parts(_mail(smtp, DAD, "Day report, 23 November (Vera, Lev)"))
    _english(plain)
    _english(html)
    assert plain.startswith("Hello!\n\nDay report, 23 November.\n\nVera, class 7B\n"), plain
    assert "Marks:\n• Algebra: 5\n• History: 4 (Oral answer) — Good\n" in plain
    assert "Lev, class 3A\n-------------\nMarks:\n• Music: 5\n" in plain
    assert (
        "This is an automatic message from the notification service of School 17; there is no "
        "need to reply.\nNotification settings: http" in plain
    )
    assert "\nUnsubscribe from these emails: http" in plain
    assert '<html lang="en">' in html and "<h1" in html and "Day report, 23 November</h1>" in html
    assert ">Notification settings</a>" in html and ">Unsubscribe from these emails</a>" in html

    # Vera's grandmother, Russian, in the same run: the same report as before issue 19's English.
    plain, html = _parts(_mail(smtp, GRAN, "Итоги дня, 23 ноября (Vera)"))
    assert plain.startswith("Здравствуйте!\n\nИтоги дня, 23 ноября.\n\nVera, 7B класс\n"), plain
    assert "Оценки:\n• Algebra: 5\n• History: 4 (Oral answer) — Good\n" in plain
    assert "\nОтписаться от таких писем: http" in plain
    assert '<html lang="ru">' in html and ">Отписаться от таких писем</a>" in html


async def test_the_evening_for_two_children_reads_in_english_by_the_day_homework_is_due(
    api: httpx.AsyncClient,
    settings: Settings,
    runtime: Runtime,
    smtp: SmtpServer,
    bot_api: BotApiServer,
    clock: FakeClock,
    pump,  # type: ignore[no-untyped-def]
) -> None:
    await _school(api, settings, runtime, bot_api)
    await _the_day(api, clock, pump, evening=True)

    evening = _told(bot_api, "Evening summary, 23 November")
    _english(evening.text)
    assert evening.plain.splitlines() == [
        "🗓️ Evening summary, 23 November",
        "",
        "Vera · 7B",
        "📅 Timetable",
        "• 27 November, lesson 5 (Physics): cancelled",
        "📚 Homework for 24 November",
        "• Physics: Read section 12",
        "📚 Homework for 25 November",
        "• Algebra: No. 214, 215",
        "📘 Marks",
        "• Algebra: 5 → 4 (corrected)",
        "",
        "Lev · 3A",
        "📚 Homework for 24 November",
        "• Reading: Page 40",
        "📚 Homework for 25 November",
        "• English: Exercise 112",
        "📘 Marks",
        "• Art: 5 · 20 November",
    ]

    plain, html = _parts(_mail(smtp, DAD, "Evening summary, 23 November (Vera, Lev)"))
    _english(plain)
    _english(html)
    assert "Homework for 24 November:\n• Physics: Read section 12\n" in plain, plain
    assert plain.index("Homework for 24 November") < plain.index("Homework for 25 November")
    assert "Timetable:\n• 27 November, lesson 5 (Physics): cancelled\n" in plain
    assert "Lev, class 3A" in plain and "• Art: 5 · 20 November" in plain

    plain, _ = _parts(_mail(smtp, GRAN, "Вечерняя сводка, 23 ноября (Vera)"))
    assert "Домашние задания на 24 ноября:\n• Physics: Read section 12\n" in plain, plain
    assert "Расписание:\n• 27 ноября, 5-й урок (Physics): отменён\n" in plain
    assert "• Algebra: 5 → 4 (исправлено)" in plain


async def test_the_evening_sms_reads_in_english_in_the_latin_alphabet(
    api: httpx.AsyncClient,
    settings: Settings,
    runtime: Runtime,
    gateway: SmsGateway,
    bot_api: BotApiServer,
    clock: FakeClock,
    pump,  # type: ignore[no-untyped-def]
) -> None:
    await _school(api, settings, runtime, bot_api)
    await _the_day(api, clock, pump, evening=True)

    [english] = [m.text for m in gateway.messages if m.to == UNCLE_PHONE]
    assert english == (
        "Vera: sched. 27.11 lesson 5 Physics cancelled; HW Physics, Algebra; History 4, "
        "Algebra 4 Lev: HW Reading, English; Music 5, Art 5"
    )
    # Latin words and data: GSM-7, 160 characters a segment where Cyrillic has 70.
    assert measure(english).encoding is SmsEncoding.gsm7
    [russian] = [m.text for m in gateway.messages if m.to == AUNT_PHONE]
    assert russian == (
        "Vera: расп. 27.11 5-й ур. Physics отмена; ДЗ Physics, Algebra; History 4, Algebra 4"
    )


# -- The words table ---------------------------------------------------------------------------


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_word_has_both_languages_and_the_same_blanks() -> None:
    for key, (russian, english) in WORDS.items():
        assert russian and english, key
        assert not CYRILLIC.search(english), f"{key}: {english!r}"
        assert _fields(russian) == _fields(english), key
        assert len(russian.split("|")) in (1, 3) and len(english.split("|")) in (1, 2), key


def test_plural_forms_follow_each_languages_rule() -> None:
    marks = {n: say(Language.en, "digest.sms.marks", n=n) for n in (0, 1, 2, 21)}
    assert marks == {0: "0 marks", 1: "1 mark", 2: "2 marks", 21: "21 marks"}
    russian = {n: say(Language.ru, "digest.sms.marks", n=n) for n in (1, 3, 5, 11, 21, 22)}
    assert russian == {
        1: "1 оценка",
        3: "3 оценки",
        5: "5 оценок",
        11: "11 оценок",
        21: "21 оценка",
        22: "22 оценки",
    }
    assert ru_plural(22, "ученик", "ученика", "учеников") == "ученика"  # the console's, as was
    with pytest.raises(ValueError, match="pass n"):
        say(Language.en, "digest.sms.marks")


def test_the_english_sms_words_are_gsm_7() -> None:
    sms = [english for key, (_, english) in WORDS.items() if key.startswith("sms.")]
    assert sms and all(measure(w).encoding is SmsEncoding.gsm7 for w in sms), sms


def test_a_key_defined_twice_stops_the_import() -> None:
    path = Path(notifier.message_words.__file__)
    source = path.read_text(encoding="utf-8")
    opening = "WORDS: dict[str, tuple[str, str]] = _table(\n"
    assert opening in source
    twice = source.replace(opening, f'{opening}    ("digest.child", "Дитя", "Kid"),\n')
    with pytest.raises(RuntimeError, match=re.escape("defines 'digest.child' twice")):
        exec(compile(twice, str(path), "exec"), {"__name__": "message_words_twice"})
