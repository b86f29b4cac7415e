"""The dashboard's figures (notifier/stats.py) against the database, on SQLite and PostgreSQL:
hours and days as the school's zone counts them (one half an hour off UTC too), the 30-day
window's edges, whose events and rows a school's figures hold, failures by kind with nothing a
provider quoted, skips by reason, the outbox's queue; and the stream as Redis tells it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from notifier import stats
from notifier.categories import Category
from notifier.db.models import DeliveryAttempt, JournalEvent, Notification
from notifier.db.states import EventStatus, Outcome, Reason, RowStatus
from notifier.errors import NotFound
from notifier.events.schema import validate_event
from notifier.events.stream import GROUP, STREAM, dead_letter, ensure_group, publish
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import mark, put

NOW = FakeClock.START  # 2026-11-23 09:00 UTC: 12:00 in Moscow, 14:30 in Kolkata
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+5:30: its hours start at :30 UTC


async def _schools(api: httpx.AsyncClient, zone: str = "Europe/Moscow") -> None:
    await put(api, "/v1/schools/s1", {"name": "Школа № 1", "timezone": zone})
    await put(api, "/v1/schools/s2", {"name": "Школа № 2"})
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А"})
    await put(api, "/v1/classes/9a", {"school_id": "s2", "name": "9А"})
    for pupil, klass, school in (("p1", "7a", "s1"), ("p2", "7a", "s1"), ("q1", "9a", "s2")):
        await put(
            api,
            f"/v1/students/{pupil}",
            {"school_id": school, "class_id": klass, "full_name": f"Ученик {pupil}"},
        )


class Seed:
    """Rows as the pipeline leaves them, at the times a test needs."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.n = 0

    async def event(
        self,
        *,
        type_: str = "journal.mark.created",
        data: dict[str, Any] | None = None,
        received_at: datetime = NOW,
        tenant: str = "",
        status: EventStatus = EventStatus.planned,
        source: str = "/journal/test",
    ) -> int:
        self.n += 1
        data = data if data is not None else {"student_id": "p1"}
        async with self.runtime.sessions() as session:
            event = JournalEvent(
                tenant=tenant,
                source=source,
                event_id=f"e{self.n}",
                type=type_,
                data=data,
                student_id=data.get("student_id"),
                received_at=received_at,
                status=status,
            )
            session.add(event)
            await session.commit()
            return event.pk

    async def row(
        self,
        *,
        pupil: str = "p1",
        status: RowStatus = RowStatus.sent,
        channel: str | None = "telegram",
        sent_at: datetime | None = None,
        due_at: datetime = NOW,
        reason: str | None = None,
        attempts: tuple[tuple[str, Outcome, str | None, datetime], ...] = (),
    ) -> None:
        event_pk = await self.event(data={"student_id": pupil})
        if status is RowStatus.sent and sent_at is None:
            sent_at = due_at
        async with self.runtime.sessions() as session:
            row = Notification(
                event_pk=event_pk,
                guardian_id=f"g{self.n}",
                student_id=pupil,
                category="marks",
                kind="mark_created",
                status=status,
                reason=reason,
                channel=channel if status is RowStatus.sent else None,
                due_at=due_at,
                sent_at=sent_at,
                created_at=due_at,
            )
            session.add(row)
            await session.flush()
            for ch, outcome, detail, at in attempts:
                session.add(
                    DeliveryAttempt(
                        notification_id=row.id, channel=ch, outcome=outcome, detail=detail, at=at
                    )
                )
            await session.commit()


async def _board(runtime: Runtime, school_id: str | None, charts: bool = True) -> stats.Dashboard:
    async with runtime.sessions() as session:
        return await stats.dashboard(
            session=session,
            redis=runtime.redis,
            school_id=school_id,
            now=runtime.clock(),
            charts=charts,
        )


def _minute(day: int, hour: int, minute: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo("UTC"))


async def test_hours_and_days_are_the_schools_even_half_an_hour_off_utc(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api, zone="Asia/Kolkata")
    seed = Seed(runtime)
    await seed.row(sent_at=_minute(22, 18, 29))  # 23:59 on the 22nd in Kolkata
    await seed.row(sent_at=_minute(22, 18, 31), channel="email")  # 00:01 on the 23rd
    await seed.row(sent_at=_minute(23, 8, 59))  # 14:29, this hour
    await seed.row(sent_at=_minute(23, 8, 45), channel="max")  # 14:15, this hour, by MAX
    await seed.row(sent_at=_minute(25, 18, 31, month=10))  # 00:01 on 26 October: in
    await seed.row(sent_at=_minute(24, 18, 29, month=10))  # 23:59 on 24 October: out
    await seed.row(sent_at=_minute(23, 8, 0), pupil="q1")  # another school's
    board = await _board(runtime, "s1")
    assert board.zone == KOLKATA and board.now.strftime("%H:%M") == "14:30"
    assert board.today.since == datetime(2026, 11, 23, tzinfo=KOLKATA)
    assert [(c.channel, c.count) for c in board.today.sent] == [
        ("telegram", 1),
        ("max", 1),
        ("email", 1),
        ("sms", 0),
    ]
    charts = board.charts
    assert charts is not None and charts.channels == ("telegram", "max", "email", "sms")
    hours = charts.hours
    assert len(hours) == stats.HOURS
    assert hours[-1].start == datetime(2026, 11, 23, 14, tzinfo=KOLKATA)
    assert hours[0].start == datetime(2026, 11, 22, 15, tzinfo=KOLKATA)
    by_hour = {b.start.strftime("%d %H:%M"): b.counts for b in hours if b.total}
    assert by_hour == {
        "22 23:00": (1, 0, 0, 0),
        "23 00:00": (0, 0, 1, 0),
        "23 14:00": (1, 1, 0, 0),
    }
    days = charts.days
    assert len(days) == stats.DAYS
    assert days[0].start == datetime(2026, 10, 25, tzinfo=KOLKATA)
    assert days[-1].start == datetime(2026, 11, 23, tzinfo=KOLKATA)
    by_day = {b.start.strftime("%m-%d"): b.total for b in days if b.total}
    assert by_day == {"10-26": 1, "11-22": 1, "11-23": 3}
    # Without the charts, today's counts are the same (a shorter window).
    quick = await _board(runtime, "s1", charts=False)
    assert quick.charts is None and quick.today.sent == board.today.sent


async def test_the_region_counts_every_school_in_the_zone_most_of_them_keep(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api, zone="Asia/Kolkata")
    await put(api, "/v1/schools/s3", {"name": "Школа № 3", "timezone": "Europe/Moscow"})
    seed = Seed(runtime)
    await seed.row(sent_at=_minute(23, 8, 0))
    await seed.row(sent_at=_minute(23, 9, 0), pupil="q1", channel="sms")  # now
    board = await _board(runtime, None)
    assert board.school_id is None and board.zone == ZoneInfo("Europe/Moscow")
    assert [c.count for c in board.today.sent] == [1, 0, 0, 1]
    assert board.charts is not None and board.charts.hours[-1].total == 1  # 12:00 Moscow
    assert board.charts.hours[-2].total == 1  # 11:00 Moscow: 08:00 UTC
    async with runtime.sessions() as session:
        with pytest.raises(NotFound):
            await stats.zone_of(session, "nope")


async def test_a_schools_events_are_its_tokens_its_pupils_and_its_classes(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api)
    seed = Seed(runtime)
    await seed.event(data={"student_id": "p1"})  # its pupil, the region's token
    await seed.event(
        type_="journal.homework.assigned", data={"class_id": "7a", "homework_id": "h1"}
    )  # its class
    await seed.event(
        data={"student_id": "new"}, tenant="s1", status=EventStatus.unmatched
    )  # its own token, a pupil not on the roster yet
    await seed.event(
        type_="journal.attendance.recorded",
        data={"student_id": "p2", "status": "present"},
        status=EventStatus.ignored,
    )
    await seed.event(
        type_="journal.library.book_due", data={"student_id": "p2"}, status=EventStatus.ignored
    )
    await seed.event(data={"student_id": "q1"})  # another school's pupil
    await seed.event(data={"student_id": "q1"}, tenant="s1", status=EventStatus.refused)
    await seed.event(data={"student_id": "p1"}, received_at=_minute(22, 20, 59))  # 23:59: no
    await seed.event(data={"student_id": "p1"}, received_at=_minute(22, 21, 1))  # 00:01 today
    await seed.event(
        type_="notifier.announcement", data={}, source="/notifier/announcements"
    )  # the service's own: not an event in
    board = await _board(runtime, "s1", charts=False)
    events = board.today.events
    assert events.by_category == {
        Category.marks: 3,
        Category.homework: 1,
        Category.attendance: 1,
    }
    assert list(events.by_category) == [Category.marks, Category.homework, Category.attendance]
    assert events.other == 1 and events.total == 6
    assert events.by_status == {
        EventStatus.planned: 3,
        EventStatus.unmatched: 1,
        EventStatus.ignored: 2,
    }
    region = (await _board(runtime, None, charts=False)).today.events
    assert region.total == 7 and region.by_category[Category.marks] == 4  # and q1's


async def test_failures_by_kind_and_skips_by_reason_of_today(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api)
    seed = Seed(runtime)
    today, yesterday = NOW - timedelta(hours=1), NOW - timedelta(days=1)
    await seed.row(
        status=RowStatus.failed,
        reason="gave up after 3 tries: smtp 451 4.3.0 Try again later",
        attempts=(("email", Outcome.transient, "smtp 451 4.3.0 Try again later", today),) * 3,
    )
    await seed.row(
        status=RowStatus.failed,
        reason="telegram: telegram 403 Forbidden: bot was blocked by the user; "
        "email: smtp 550 5.1.1 <anna@parents.example.org>: no such user",
        attempts=(
            ("telegram", Outcome.permanent, "telegram 403 Forbidden: bot was blocked", today),
            ("email", Outcome.permanent, "smtp 550 5.1.1 <anna@parents.example.org>", today),
        ),
    )
    await seed.row(
        status=RowStatus.failed,
        reason="max: MAX 403 chat.denied; "
        "email: smtp 550 5.1.1 <boris@parents.example.org>: no such user",
        attempts=(
            ("max", Outcome.permanent, "MAX 403 chat.denied", today),
            ("email", Outcome.permanent, "smtp 550 5.1.1 <boris@parents.example.org>", today),
        ),
    )
    await seed.row(
        channel="max",
        attempts=(
            ("max", Outcome.transient, "MAX 429 too many requests", today),
            ("max", Outcome.transient, "MAX connection failed (ClientConnectorError)", today),
            ("max", Outcome.sent, None, today),
        ),
    )
    await seed.row(status=RowStatus.failed, reason=None)  # an erased guardian's: text cleared
    await seed.row(status=RowStatus.failed, reason="internal error (KeyError)", due_at=yesterday)
    await seed.row(
        status=RowStatus.failed,
        reason="sms: sms gateway 400 bad number",
        pupil="q1",
        attempts=(("sms", Outcome.permanent, "sms gateway 400 bad number", today),),
    )
    await seed.row(
        attempts=(
            ("telegram", Outcome.transient, "telegram TelegramNetworkError: boom", today),
            ("telegram", Outcome.sent, None, today),
            ("telegram", Outcome.permanent, "telegram 400 chat not found", yesterday),
        )
    )
    for reason in (Reason.no_consent, Reason.no_consent, Reason.paper, Reason.superseded):
        await seed.row(status=RowStatus.skipped, reason=reason)
    await seed.row(status=RowStatus.skipped, reason=Reason.opted_out, due_at=yesterday)
    await seed.row(status=RowStatus.skipped, reason=Reason.no_channel, pupil="q1")
    today_ = (await _board(runtime, "s1", charts=False)).today
    assert [(f.kind, f.count) for f in today_.failed_messages] == [
        ("max: MAX 403 chat.denied + email: smtp 550", 1),
        ("smtp 451", 1),
        ("telegram: telegram 403 + email: smtp 550", 1),
        (stats.UNKNOWN, 1),
    ]
    assert [(f.channel, f.outcome, f.kind, f.count) for f in today_.failed_attempts] == [
        ("email", Outcome.transient, "smtp 451", 3),
        ("email", Outcome.permanent, "smtp 550", 2),
        ("max", Outcome.permanent, "MAX 403 chat.denied", 1),
        ("max", Outcome.transient, "MAX 429", 1),
        ("max", Outcome.transient, "MAX connection failed (ClientConnectorError)", 1),
        ("telegram", Outcome.permanent, "telegram 403", 1),
        ("telegram", Outcome.transient, "telegram TelegramNetworkError", 1),
    ]
    assert "anna" not in repr(today_) and "boris" not in repr(today_)
    assert today_.skipped == {Reason.no_consent: 2, Reason.paper: 1, Reason.superseded: 1}
    region = (await _board(runtime, None, charts=False)).today
    assert ("sms gateway 400", 1) in [(f.kind, f.count) for f in region.failed_attempts]
    assert region.skipped[Reason.no_channel] == 1


async def test_the_outbox_queue_of_a_school_and_of_the_region(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _schools(api)
    seed = Seed(runtime)
    for minutes in (-10, -1, 60):
        await seed.row(status=RowStatus.pending, due_at=NOW + timedelta(minutes=minutes))
    await seed.row(status=RowStatus.pending, pupil="q1", due_at=NOW - timedelta(hours=2))
    async with runtime.sessions() as session:
        school = await stats.outbox_queue(session, now=NOW, school_id="s1")
        region = await stats.outbox_queue(session, now=NOW)
        none_due = await stats.outbox_queue(session, now=NOW - timedelta(hours=3))
    assert (school.due_now, school.later) == (2, 1)
    assert school.waited(NOW) == timedelta(minutes=10)
    assert (region.due_now, region.later) == (3, 1)
    assert region.waited(NOW) == timedelta(hours=2)
    assert none_due.due_now == 0 and none_due.oldest_due_at is None
    assert none_due.waited(NOW) is None
    board = await _board(runtime, "s1", charts=False)
    assert board.outbox == school


async def test_the_stream_as_redis_tells_it(runtime: Runtime) -> None:
    redis = runtime.redis
    assert await stats.stream_state(redis) == stats.StreamState(0, None, 0, 0)
    await publish(redis, [validate_event(mark("p1"), max_bytes=65536) for _ in range(3)])
    assert (await stats.stream_state(redis)).length == 3
    await ensure_group(redis)
    await redis.xreadgroup(GROUP, "reader", {STREAM: ">"}, count=1)
    await dead_letter(redis, entry_id="1-0", reason="cannot parse", payload=b"{")
    assert await stats.stream_state(redis) == stats.StreamState(length=3, lag=2, pending=1, dead=1)


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (None, stats.UNKNOWN),
        ("", stats.UNKNOWN),
        ("smtp 550 5.1.1 <anna@example.org>: Recipient address rejected", "smtp 550"),
        ("smtp connection: SMTPConnectError", "smtp connection"),
        ("telegram 429 flood control", "telegram 429"),
        ("telegram TelegramServerError: Bad Gateway", "telegram TelegramServerError"),
        ("sms gateway: ClientConnectorError", "sms gateway: ClientConnectorError"),
        ("sms gateway 503", "sms gateway 503"),
        ("sms.ru 207 На этот номер нельзя отправлять сообщения", "sms.ru 207"),
        ("sms.ru HTTP 502", "sms.ru HTTP 502"),
        ("guardian has no email address", "guardian has no email address"),
        ("internal error (ValueError)", "internal error"),
        ("gave up after 7 tries: telegram 429 flood control", "telegram 429"),
        ("email: cannot render (UndefinedError)", "email: cannot render"),
        ("telegram: telegram 403 x; sms: sms.ru 207 y; email: smtp 550 a; b", None),
        ("Иван Петров, +79161234567", stats.UNKNOWN),
        # MAX's refusals: its status and error code, never its message or our request's text.
        ("MAX 403 chat.denied", "MAX 403 chat.denied"),
        ("MAX 404 chat.not.found", "MAX 404 chat.not.found"),
        ("MAX 429 too many requests", "MAX 429"),
        ("gave up after 7 tries: MAX 503 service.unavailable", "MAX 503 service.unavailable"),
        ("MAX 500 error", "MAX 500"),
        ("MAX 401: the token was refused; check NOTIFIER_MAX_TOKEN", "MAX 401"),
        (
            "MAX connection failed (ClientConnectorError)",
            "MAX connection failed (ClientConnectorError)",
        ),
        ("MAX timeout", "MAX timeout"),
        (
            "MAX's certificate is not trusted on this machine: it chains to …",
            "MAX's certificate is not trusted",
        ),
        ("guardian has no linked MAX chat", "guardian has no linked MAX chat"),
        (
            "max: MAX 403 chat.denied; email: smtp 550 <a@b.ru>",
            "max: MAX 403 chat.denied + email: smtp 550",
        ),
        ("MAX 400 Иван.Петров", "MAX 400"),
    ],
)
def test_a_failure_is_told_by_its_kind_only(reason: str | None, kind: str | None) -> None:
    expected = kind or "telegram: telegram 403 + sms: sms.ru 207 + email: smtp 550"
    assert stats.failure_kind(reason) == expected
