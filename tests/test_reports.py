"""Marks and attendance for a period, from what the journal sent: corrections applied,
deletions gone, averages and weighted averages as a teacher computes them by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from notifier.reports.marks import pupil_report, week_of
from notifier.runtime import Runtime
from tests.factories import (
    attendance,
    cloud_event,
    consume_all,
    mark,
    post_batch,
    pupil_with_guardian,
    school_with_class,
)


async def _week_of_marks(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await pupil_with_guardian(api, "st-2", "g-2")
    events = [
        mark("st-1", mark_id="m1", subject="Алгебра", value="5", lesson_date="2026-11-23"),
        mark(
            "st-1", mark_id="m2", subject="Алгебра", value="3", weight=2, lesson_date="2026-11-24"
        ),
        mark("st-1", mark_id="m3", subject="Алгебра", value="2", lesson_date="2026-11-25"),
        cloud_event(
            "journal.mark.updated",
            {"mark_id": "m3", "student_id": "st-1", "subject": "Алгебра", "value": "4"},
        ),
        mark("st-1", mark_id="m4", subject="Физика", value="4-", lesson_date="2026-11-23"),
        mark("st-1", mark_id="m5", subject="Физика", value="5", lesson_date="2026-11-24"),
        cloud_event("journal.mark.deleted", {"mark_id": "m5", "student_id": "st-1"}),
        mark("st-1", mark_id="m6", subject="Физика", value="2", lesson_date="2026-11-20"),
        mark("st-1", mark_id="m7", subject="Физика", value="н", lesson_date="2026-11-26"),
        mark("st-2", mark_id="m8", subject="Алгебра", value="2", lesson_date="2026-11-23"),
        attendance("st-1", "2026-11-23", "absent"),
        attendance("st-1", "2026-11-24", "late"),
        attendance("st-1", "2026-11-25", "excused"),
        attendance("st-1", "2026-11-26", "present"),
        attendance("st-1", "2026-11-16", "absent"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await consume_all(runtime)


async def test_a_week_of_marks_with_weights_a_correction_and_a_deletion(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _week_of_marks(api, runtime)
    async with runtime.sessions() as session:
        report = await pupil_report(
            session=session, student_id="st-1", start=date(2026, 11, 23), end=date(2026, 11, 29)
        )
    algebra, physics = report.subjects
    assert algebra.name == "Алгебра" and [m.value for m in algebra.marks] == ["5", "3", "4"]
    assert algebra.average == pytest.approx(4.0)  # (5 + 3 + 4) / 3
    assert algebra.weighted == pytest.approx(3.75)  # (5·1 + 3·2 + 4·1) / (1 + 2 + 1)
    # "4-" counts as 4, "н" (absent from the test) has no points, m5 was deleted, m6 is last week.
    assert physics.name == "Физика" and [m.value for m in physics.marks] == ["4-", "н"]
    assert physics.average == pytest.approx(4.0) and physics.weighted == pytest.approx(4.0)
    assert (report.absent, report.late, report.excused) == (1, 1, 1)


def test_the_school_week_is_monday_to_sunday_in_the_schools_zone() -> None:
    # Sunday 20:30 UTC is 23:30 on Sunday in Moscow and already Monday in Novosibirsk (UTC+7).
    sunday_night = datetime(2026, 11, 29, 20, 30, tzinfo=UTC)
    assert week_of(sunday_night, "Europe/Moscow") == (date(2026, 11, 23), date(2026, 11, 29))
    assert week_of(sunday_night, "Asia/Novosibirsk") == (date(2026, 11, 30), date(2026, 12, 6))
    assert week_of(sunday_night, "Europe/Moscow", previous=True) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
    )
