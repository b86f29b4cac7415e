"""Quiet by default (SPEC §8): what needs a parent goes now, the day's marks in one report at
15:30, homework in one evening message, siblings in one message, quiet hours everywhere.

The school here keeps the defaults (`school_with_class(..., quiet_defaults=True)`). The clock
starts on Monday 23.11.2026 at 12:00 in Moscow."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import FakeClock
from tests.factories import (
    attendance,
    cloud_event,
    mark,
    post_batch,
    post_structured,
    pupil_with_guardian,
    put,
    school_with_class,
)
from tests.servers.smtp_server import SmtpServer

MOSCOW = ZoneInfo("Europe/Moscow")


def _text(mail) -> str:  # type: ignore[no-untyped-def]
    return f"{mail.message['Subject']}\n{mail.message.get_body(('plain',)).get_content()}"


def at(clock: FakeClock, hh: int, mm: int, zone: ZoneInfo = MOSCOW, day: int = 23) -> None:
    clock.now = datetime(2026, 11, day, hh, mm, tzinfo=zone).astimezone(UTC)


async def _family(api: httpx.AsyncClient, *, timezone: str = "Europe/Moscow") -> None:
    await school_with_class(api, quiet_defaults=True, timezone=timezone)
    await pupil_with_guardian(
        api, "st-1", "g-1", email="mum@parents.example.org", full_name="Орлова Вера Андреевна"
    )


async def _siblings(api: httpx.AsyncClient) -> None:
    """Вера in 7Б and Лев in 3А, one mother."""
    await _family(api)
    await put(api, "/v1/classes/3a", {"school_id": "s17", "name": "3А"})
    await pupil_with_guardian(
        api,
        "st-2",
        "g-1",
        email="mum@parents.example.org",
        full_name="Орлов Лев Андреевич",
        klass="3a",
        extra_students=("st-1",),
    )


def homework(klass: str, subject: str, text: str, due: str) -> dict[str, object]:
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


def corrected(mark_id: str, value: str, old: str) -> dict[str, object]:
    return cloud_event(
        "journal.mark.updated",
        {
            "mark_id": mark_id,
            "student_id": "st-1",
            "subject": "Алгебра",
            "value": value,
            "old_value": old,
        },
    )


async def test_an_absence_goes_at_once(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, attendance("st-1", "2026-11-23", "absent"))
    await pump()
    [mail] = smtp.messages
    assert "отсутствовал" in _text(mail)


async def test_a_5_waits_for_the_days_report_and_a_2_goes_now(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_batch(
        api,
        [
            mark("st-1", subject="Алгебра", value="5", mark_id="algebra-5"),
            mark("st-1", subject="Физика", value="2", mark_id="physics-2"),
            mark("st-1", subject="Химия", value="4", work_type="Контрольная работа"),
        ],
    )
    await pump()
    assert len(smtp.messages) == 1  # the 2 and the test, together, now
    now = _text(smtp.messages[0])
    assert "Физика" in now and "Химия" in now and "Алгебра" not in now
    at(clock, 15, 29)
    await pump()
    assert len(smtp.messages) == 1
    at(clock, 15, 30)
    await pump()
    assert len(smtp.messages) == 2
    report = _text(smtp.messages[1])
    assert "Итоги дня" in report and "Алгебра: 5" in report, report
    assert "Физика" not in report and "Химия" not in report  # not told twice


async def test_homework_for_two_children_arrives_as_one_evening_message(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _siblings(api)
    await post_batch(
        api,
        [
            homework("7b", "Алгебра", "№ 214, 215", "2026-11-25"),
            homework("3a", "Окружающий мир", "Стр. 40, пересказ", "2026-11-24"),
            homework("7b", "Физика", "§ 12 читать", "2026-11-24"),
        ],
    )
    await pump()
    at(clock, 18, 59)
    await pump()
    assert smtp.messages == []
    at(clock, 19, 0)
    await pump()
    [mail] = smtp.messages
    text = _text(mail)
    assert "Вечерняя сводка" in text
    assert "Вера" in text and "Лев" in text
    assert "№ 214, 215" in text and "Стр. 40, пересказ" in text and "§ 12 читать" in text
    # Due dates grouped: Вера's homework for the 24th comes before the 25th's.
    assert "на 24 ноября" in text and "на 25 ноября" in text
    assert text.index("§ 12 читать") < text.index("№ 214, 215")


async def test_siblings_absent_the_same_morning_get_one_message(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _siblings(api)
    await post_batch(
        api,
        [
            attendance("st-1", "2026-11-23", "absent"),
            attendance("st-2", "2026-11-23", "absent"),
        ],
    )
    await pump()
    [mail] = smtp.messages
    text = _text(mail)
    assert "Вера" in text and "Лев" in text


async def test_a_correction_after_the_report_went_is_one_line_in_the_evening(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, mark("st-1", subject="Алгебра", value="5", mark_id="mk-1"))
    await pump()
    at(clock, 15, 30)
    await pump()
    assert len(smtp.messages) == 1  # the report
    at(clock, 16, 10)
    await post_structured(api, corrected("mk-1", "4", "5"))
    await pump()
    assert len(smtp.messages) == 1  # not a message of its own
    at(clock, 19, 0)
    await pump()
    assert len(smtp.messages) == 2
    evening = _text(smtp.messages[1])
    assert "5 → 4" in evening and "Вечерняя сводка" in evening


async def test_a_correction_before_the_report_shows_only_the_final_value(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, mark("st-1", subject="Алгебра", value="5", mark_id="mk-1"))
    await pump()
    at(clock, 13, 0)
    await post_structured(api, corrected("mk-1", "4", "5"))
    await pump()
    at(clock, 15, 30)
    await pump()
    [mail] = smtp.messages
    assert "Алгебра: 4" in _text(mail) and "→" not in _text(mail)


async def test_a_correction_of_an_important_mark_goes_now(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, mark("st-1", subject="Алгебра", value="2", mark_id="mk-1"))
    await pump()
    assert len(smtp.messages) == 1
    clock.advance(600)
    await post_structured(api, corrected("mk-1", "4", "2"))
    await pump()
    assert len(smtp.messages) == 2
    assert "2 → 4" in _text(smtp.messages[1])
    at(clock, 15, 30)
    await pump()
    assert len(smtp.messages) == 2  # the report does not repeat it


async def test_a_5_corrected_to_a_2_goes_now_and_the_report_does_not_tell_the_5(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await post_structured(api, mark("st-1", subject="Алгебра", value="5", mark_id="mk-1"))
    await pump()
    clock.advance(600)
    await post_structured(api, corrected("mk-1", "2", "5"))
    await pump()
    [mail] = smtp.messages
    assert "Алгебра" in _text(mail) and "2" in _text(mail)
    at(clock, 15, 30)
    await pump()
    assert len(smtp.messages) == 1


async def test_a_school_override_to_instant(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    answer = await api.put(
        "/v1/schools/s17/subscriptions", json={"categories": {"marks": "instant"}}
    )
    assert answer.status_code == 200, answer.text
    await post_structured(api, mark("st-1", subject="Алгебра", value="5"))
    await pump()
    [mail] = smtp.messages
    assert "Алгебра" in _text(mail)


async def test_a_school_moves_its_report_and_its_important_marks(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)
    await put(
        api,
        "/v1/schools/s17",
        {
            "name": "Школа № 17",
            "day_report_time": "14:00",
            "important_marks": {"values": ["2", "3"], "work_types": ["зачёт"]},
        },
    )
    await post_batch(
        api,
        [
            mark("st-1", subject="Алгебра", value="3"),
            mark("st-1", subject="Физика", value="4", work_type="Контрольная работа"),
        ],
    )
    await pump()
    [now] = smtp.messages
    assert "Алгебра" in _text(now) and "Физика" not in _text(now)
    at(clock, 14, 0)
    await pump()
    assert "Физика" in _text(smtp.messages[1])


async def test_a_timetable_change_for_a_later_day_waits_for_the_evening(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    await _family(api)

    def change(day: str, lesson: int) -> dict[str, object]:
        return cloud_event(
            "journal.schedule.changed",
            {
                "class_id": "7b",
                "date": day,
                "change": "cancelled",
                "lesson_number": lesson,
                "subject": "Физика",
            },
        )

    await post_structured(api, change("2026-11-24", 3))  # tomorrow: now
    await pump()
    assert len(smtp.messages) == 1
    await post_structured(api, change("2026-11-27", 5))  # Friday: the evening
    await pump()
    assert len(smtp.messages) == 1
    at(clock, 19, 0)
    await pump()
    assert len(smtp.messages) == 2


RUSSIAN_ZONES = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
]


@pytest.mark.parametrize("zone", RUSSIAN_ZONES)
async def test_quiet_hours_still_defer_in_every_russian_time_zone(
    zone: str, api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    """An absence recorded at 22:00 local goes at 08:00 local; the evening's homework posted
    at 20:00, after the digest time, goes the next evening, not at night."""
    await _family(api, timezone=zone)
    local = ZoneInfo(zone)
    at(clock, 20, 0, local)
    await post_structured(api, homework("7b", "Алгебра", "№ 1", "2026-11-25"))
    at(clock, 22, 0, local)
    await post_structured(api, attendance("st-1", "2026-11-23", "absent"))
    await pump()
    at(clock, 7, 59, local, day=24)
    await pump()
    assert smtp.messages == []
    at(clock, 8, 0, local, day=24)
    await pump()
    [absence] = smtp.messages
    assert "отсутствовал" in _text(absence)
    assert clock.now.astimezone(local).hour == 8
    at(clock, 19, 0, local, day=24)
    await pump()
    assert len(smtp.messages) == 2 and "№ 1" in _text(smtp.messages[1])


async def test_an_absence_before_the_report_takes_the_report_with_it(
    api: httpx.AsyncClient, smtp: SmtpServer, clock: FakeClock, pump
) -> None:
    """In the two hours before 15:30 a message that goes now carries the marks waiting for the
    report; marks after it wait for the evening, not for a second report."""
    await _family(api)
    await post_structured(api, mark("st-1", subject="Алгебра", value="5"))
    await pump()
    at(clock, 14, 0)
    await post_structured(api, attendance("st-1", "2026-11-23", "absent"))
    await pump()
    [mail] = smtp.messages
    text = _text(mail)
    assert "отсутствовал" in text and "Алгебра: 5" in text
    assert text.index("отсутствовал") < text.index("Алгебра")  # the absence first
    at(clock, 14, 30)
    await post_structured(api, mark("st-1", subject="Физика", value="4"))
    await pump()
    at(clock, 15, 30)
    await pump()
    assert len(smtp.messages) == 1  # no second report
    at(clock, 19, 0)
    await pump()
    assert len(smtp.messages) == 2 and "Физика: 4" in _text(smtp.messages[1])
