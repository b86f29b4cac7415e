"""The weekly summary: planned on Saturday at the digest time, sent by email with a table and a
PDF that reads back as it should; the class's printable summary; one-click unsubscribe."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import event, select

from notifier.auth import Principal, Role, create_token
from notifier.db.models import AuditEntry, Notification
from notifier.errors import InvalidInput
from notifier.runtime import Runtime, run_until_idle
from notifier.summaries import (
    WEEK_MARKER,
    class_printout,
    plan_weekly,
    printout_html,
    printout_pdf,
)
from tests.conftest import FakeClock
from tests.factories import (
    attendance,
    cloud_event,
    consume_all,
    mark,
    post_batch,
    pupil_with_guardian,
    put,
    school_with_class,
)
from tests.pdf_reader import pdf_pages, pdf_text
from tests.servers.smtp_server import SmtpServer

# Saturday 28 November 2026, Moscow (UTC+3): the school's digest time is 19:00.
SATURDAY_1858 = datetime(2026, 11, 28, 15, 58, tzinfo=UTC)
SATURDAY_1900 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)


async def _week(api: httpx.AsyncClient, runtime: Runtime) -> None:
    """A week (23-29 Nov) worked out by hand: Алгебра 5, 3 (weight 2), 2 corrected to 4:
    average 4,00, weighted (5 + 3·2 + 4) / 4 = 3,75; Физика 4- (its 5 deleted): 4,00; two
    absences, one of them excused, and one lateness."""
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1", full_name="Соколова Вера Андреевна")
    await pupil_with_guardian(api, "st-2", "g-2", full_name="Орлов Пётр Ильич")
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
        mark("st-1", mark_id="m6", subject="Физика", value="2", lesson_date="2026-11-16"),
        mark("st-2", mark_id="m8", subject="Алгебра", value="2", lesson_date="2026-11-23"),
        attendance("st-1", "2026-11-23", "absent"),
        attendance("st-1", "2026-11-24", "late"),
        attendance("st-1", "2026-11-25", "excused"),
    ]
    assert (await post_batch(api, events)).status_code == 202
    await consume_all(runtime)


def _part(message: EmailMessage, content_type: str) -> EmailMessage:
    return next(p for p in message.walk() if p.get_content_type() == content_type)  # type: ignore[misc]


async def test_weekly_summary_goes_on_saturday_by_email_with_a_table_and_a_pdf(
    api: httpx.AsyncClient,
    runtime: Runtime,
    smtp: SmtpServer,
    clock: FakeClock,
) -> None:
    await _week(api, runtime)
    await run_until_idle(runtime)
    smtp.clear()

    clock.now = SATURDAY_1858
    async with runtime.sessions() as session:
        assert await plan_weekly(session=session, now=clock.now) == 0  # not yet 19:00
    clock.now = SATURDAY_1900
    async with runtime.sessions() as session:
        assert await plan_weekly(session=session, now=clock.now) == 2
        assert await plan_weekly(session=session, now=clock.now) == 0  # once a week
    await run_until_idle(runtime)

    mails = await smtp.wait_for(2)
    [vera] = [m for m in mails if m.rcpt_tos == ["g-1@parents.example.org"]]
    message = vera.message
    assert str(message["Subject"]) == "Итоги недели: Вера, 23 ноября – 29 ноября"
    text = _part(message, "text/plain").get_content()
    assert "Алгебра: 5 3 4" in text
    assert "средний балл 4,00, средневзвешенный 3,75" in text
    assert "Физика: 4-" in text
    assert "Пропущено уроков: 2, из них по уважительной причине: 1" in text
    assert "Опозданий: 1" in text
    html = _part(message, "text/html").get_content()
    assert "<th" in html and "Средний балл" in html and "3,75" in html
    pdf_part = _part(message, "application/pdf")
    assert pdf_part.get_filename() == "summary-2026-11-23-st-1.pdf"
    printed = pdf_text(pdf_part.get_content())
    assert "Соколова Вера Андреевна" in printed
    assert "Школа № 17" in printed and "7Б" in printed
    assert "3,75" in printed and "4,00" in printed
    assert "23.11.2026 – 29.11.2026" in printed
    # The summary has its own unsubscribe link.
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/unsubscribe/")

    async with runtime.sessions() as session:
        rows = list(
            await session.scalars(select(Notification).where(Notification.category == "summary"))
        )
    assert sorted((n.guardian_id, n.status) for n in rows) == [("g-1", "sent"), ("g-2", "sent")]


async def test_a_week_another_worker_is_planning_is_left_to_it_and_the_next_school_planned(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    """Two workers' minutely jobs at once: the first school's week is claimed by the other
    between our check and our claim (here, by the very statement we were about to run, on a
    connection of its own)."""
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await school_with_class(api, school="s18", klass="8a")
    await pupil_with_guardian(api, "st-2", "g-2", school="s18", klass="8a")
    raced: list[str] = []

    def other_worker_first(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        week = [p for p in context.compiled_parameters if p.get("type") == WEEK_MARKER]
        if week and not raced:
            raced.append(week[0]["event_id"])
            with runtime.engine.sync_engine.begin() as other:
                other.execute(context.compiled.statement, week[0])

    clock.now = SATURDAY_1900
    event.listen(runtime.engine.sync_engine, "before_cursor_execute", other_worker_first)
    try:
        async with runtime.sessions() as session:
            assert await plan_weekly(session=session, now=clock.now) == 1
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", other_worker_first)
    assert raced == ["s17:2026-11-23"]
    async with runtime.sessions() as session:
        rows = list(
            await session.scalars(select(Notification).where(Notification.category == "summary"))
        )
    # s17's rows are the other worker's to plan; s18's are ours.
    assert [n.guardian_id for n in rows] == ["g-2"]


async def test_summary_respects_opt_out_consent_and_sms_only_guardians(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, clock: FakeClock
) -> None:
    await _week(api, runtime)
    bad = await api.put(
        "/v1/guardians/g-2/preferences", json={"categories": {"summary": "instant"}}
    )
    assert bad.status_code == 422
    assert "summary" in bad.text and "weekly or off" in bad.text
    ok = await api.put("/v1/guardians/g-2/preferences", json={"categories": {"summary": "off"}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["categories"]["summary"] == "off"
    # A parent with a phone only gets it by SMS, one segment (issue 18; tests/test_sms_summary.py).
    await put(api, "/v1/students/st-3", {"school_id": "s17", "class_id": "7b", "full_name": "Б В"})
    await put(
        api,
        "/v1/guardians/g-3",
        {"full_name": "Г", "phone": "+79001234567", "student_ids": ["st-3"]},
    )
    assert (await api.post("/v1/guardians/g-3/consent", json={"document": "З"})).status_code == 201
    await pupil_with_guardian(api, "st-4", "g-4", consent=False)
    await run_until_idle(runtime)
    smtp.clear()

    clock.now = SATURDAY_1900
    async with runtime.sessions() as session:
        await plan_weekly(session=session, now=clock.now)
    await run_until_idle(runtime)
    async with runtime.sessions() as session:
        rows = {
            n.guardian_id: (n.status, n.reason)
            for n in await session.scalars(
                select(Notification).where(Notification.category == "summary")
            )
        }
    assert rows == {
        "g-1": ("sent", None),
        "g-2": ("skipped", "opted_out"),
        "g-3": ("sent", None),
        "g-4": ("skipped", "no_consent"),
    }
    assert [m.rcpt_tos for m in smtp.messages] == [["g-1@parents.example.org"]]


async def test_one_click_unsubscribe_turns_off_that_category_for_that_guardian_only(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await pupil_with_guardian(api, "st-2", "g-2")
    assert (await post_batch(api, [mark("st-1"), mark("st-2")])).status_code == 202
    await run_until_idle(runtime)
    mails = await smtp.wait_for(2)
    [mail] = [m for m in mails if m.rcpt_tos == ["g-1@parents.example.org"]]
    header = mail.message["List-Unsubscribe"]
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = urlsplit(header.strip("<>"))
    assert link.path.startswith("/unsubscribe/")
    assert link.path.split("/")[-1] in _part(mail.message, "text/html").get_content()
    public = httpx.AsyncClient(
        transport=api._transport, base_url="http://notifier.test"
    )  # no token

    async with public:
        # Opening the link asks; it changes nothing (mail scanners open links).
        page = await public.get(link.path)
        assert page.status_code == 200
        assert "Отписаться от уведомлений?" in page.text and "Оценки" in page.text
        assert (await api.get("/v1/guardians/g-1/preferences")).json()["categories"][
            "marks"
        ] == "instant"

        # A forged or damaged link is refused, and changes nothing.
        token = link.path.split("/")[-1]
        signature = token.split(".")[-1]
        forged = base64.urlsafe_b64encode(b'["g-2",["marks"]]').decode().rstrip("=")
        tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        for bad in (f"{forged}.{signature}", tampered, "x", token[: len(token) // 2]):
            refused = await public.post(
                f"/unsubscribe/{bad}", data={"List-Unsubscribe": "One-Click"}
            )
            assert refused.status_code == 400, bad
            assert "Ссылка недействительна" in refused.text

        # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click.
        done = await public.post(link.path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200
        assert "вы отписались" in done.text and "Оценки" in done.text

    mine = (await api.get("/v1/guardians/g-1/preferences")).json()["categories"]
    theirs = (await api.get("/v1/guardians/g-2/preferences")).json()["categories"]
    assert mine["marks"] == "off" and mine["homework"] == "instant"
    assert theirs["marks"] == "instant"
    async with runtime.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.subject_id == "g-1").order_by(AuditEntry.id.desc())
        )
    assert entry is not None and entry.detail is not None
    assert entry.detail["via"] == "unsubscribe_link" and entry.detail["category"] == "marks"

    smtp.clear()
    assert (await post_batch(api, [mark("st-1"), mark("st-2")])).status_code == 202
    await run_until_idle(runtime)
    assert [m.rcpt_tos for m in await smtp.wait_for(1)] == [["g-2@parents.example.org"]]


async def test_paper_guardians_get_nothing_electronic(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    r = await api.put("/v1/guardians/g-1/preferences", json={"channels": ["paper"]})
    assert r.status_code == 200, r.text
    assert (await post_batch(api, [mark("st-1")])).status_code == 202
    await run_until_idle(runtime)
    assert smtp.messages == []
    async with runtime.sessions() as session:
        note = await session.scalar(select(Notification))
    assert note is not None and (note.status, note.reason) == ("skipped", "paper")


async def _class_of_three(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await _week(api, runtime)  # st-1 (g-1, email) and st-2 (g-2, email)
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Классный руководитель"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    r = await api.put("/v1/guardians/g-1/preferences", json={"channels": ["paper"]})
    assert r.status_code == 200, r.text
    # st-3's guardian has a phone only: the summary goes by SMS, not on paper (issue 18).
    await put(
        api,
        "/v1/students/st-3",
        {"school_id": "s17", "class_id": "7b", "full_name": "Ауэзов Марат"},
    )
    await put(
        api,
        "/v1/guardians/g-3",
        {"full_name": "Ауэзова Дина", "phone": "+79001234567", "student_ids": ["st-3"]},
    )
    assert (await api.post("/v1/guardians/g-3/consent", json={"document": "З"})).status_code == 201


async def test_class_summary_pdf_has_one_page_per_pupil_on_paper(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _class_of_three(api, runtime)
    period = {"from": "2026-11-23", "to": "2026-11-29"}
    r = await api.get("/v1/classes/7b/summary.pdf", params=period)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert pdf_pages(r.content) == 1  # st-1 (paper); st-3's guardian gets it by SMS
    printed = pdf_text(r.content)
    assert "Соколова Вера Андреевна" in printed and "Ауэзов Марат" not in printed
    assert "Орлов Пётр Ильич" not in printed  # his guardian reads email
    assert "Школа № 17" in printed and "7Б" in printed and "3,75" in printed
    assert "Петрова Анна" in printed and "Ауэзова Дина" not in printed  # whom the page is for

    everyone = await api.get("/v1/classes/7b/summary.pdf", params={**period, "all": "true"})
    assert pdf_pages(everyone.content) == 3

    page = await api.get("/v1/classes/7b/summary.html", params=period)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('class="page"') == 1
    assert "Соколова Вера Андреевна" in page.text and "3,75" in page.text

    bad = await api.get(
        "/v1/classes/7b/summary.pdf", params={"from": "2026-11-29", "to": "2026-11-23"}
    )
    assert bad.status_code == 422 and "to" in bad.text
    assert (await api.get("/v1/classes/nope/summary.pdf")).status_code == 404


@pytest.mark.parametrize(
    ("role", "staff", "status"),
    [
        (Role.teacher, "t-1", 200),  # the class teacher
        (Role.teacher, "t-2", 403),  # another teacher
        (Role.integration, None, 403),
        (Role.admin, None, 200),
    ],
)
async def test_class_summary_is_for_the_class_teacher_and_admins(
    api: httpx.AsyncClient, runtime: Runtime, role: Role, staff: str | None, status: int
) -> None:
    await _class_of_three(api, runtime)
    async with runtime.sessions() as session:
        token, _ = await create_token(session=session, role=role, school_id="s17", staff_id=staff)
    r = await api.get("/v1/classes/7b/summary.html", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == status, r.text


async def test_the_paper_list_comes_first_when_the_whole_class_is_printed(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _class_of_three(api, runtime)
    # Соколова (asked for paper) first, then by name: Ауэзов (SMS), Орлов (email).
    paper_first = ["Соколова Вера Андреевна", "Ауэзов Марат", "Орлов Пётр Ильич"]
    period = {"from": "2026-11-23", "to": "2026-11-29", "all": "true"}

    pdf = await api.get("/v1/classes/7b/summary.pdf", params=period)
    assert pdf.status_code == 200, pdf.text
    sheets = pdf_text(pdf.content).split("\f")
    assert [next(n for n in paper_first if n in sheet) for sheet in sheets] == paper_first
    assert "Для:" in sheets[0] and "Для:" not in sheets[1] and "Для:" not in sheets[2]

    page = await api.get("/v1/classes/7b/summary.html", params=period)
    assert page.status_code == 200, page.text
    where = [page.text.index(f"<b>{name}</b>") for name in paper_first]
    assert where == sorted(where)

    # The console calls the same service: the same pages, the same page and file.
    teacher = Principal(Role.teacher, token_id=None, school_id="s17", staff_id="t-1")
    async with runtime.sessions() as session:
        printout = await class_printout(
            session=session,
            principal=teacher,
            class_id="7b",
            start=date(2026, 11, 23),
            end=date(2026, 11, 29),
            everyone=True,
            now=runtime.clock(),
        )
    assert [p.pupil for p in printout.pages] == paper_first
    assert [p.guardians for p in printout.pages] == [("Петрова Анна",), (), ()]
    assert printout_html(runtime.renderer, printout) == page.text
    assert printout_pdf(printout, runtime.clock().date()) == pdf.content
    assert printout.filename == "summary-7b-2026-11-23.pdf"
    assert pdf.headers["content-disposition"] == f'inline; filename="{printout.filename}"'


@pytest.mark.parametrize(
    ("now", "week"),
    [
        # Friday 27 November: the week before is the last whole one.
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), (date(2026, 11, 16), date(2026, 11, 22))),
        # Saturday 28 November, 00:30 in Moscow (still Friday in UTC): this week.
        (datetime(2026, 11, 27, 21, 30, tzinfo=UTC), (date(2026, 11, 23), date(2026, 11, 29))),
        (datetime(2026, 11, 29, 20, 0, tzinfo=UTC), (date(2026, 11, 23), date(2026, 11, 29))),
    ],
)
async def test_a_printout_defaults_to_the_last_school_week_and_checks_its_period(
    api: httpx.AsyncClient, runtime: Runtime, now: datetime, week: tuple[date, date]
) -> None:
    await _class_of_three(api, runtime)
    admin = Principal(Role.admin, token_id=None, school_id="s17")
    async with runtime.sessions() as session:
        printout = await class_printout(
            session=session,
            principal=admin,
            class_id="7b",
            start=None,
            end=None,
            everyone=False,
            now=now,
        )
        assert (printout.start, printout.end) == week
        assert all((p.start, p.end) == week for p in printout.pages)
        for start, end, field in [
            (date(2026, 11, 23), None, "from"),
            (None, date(2026, 11, 23), "from"),
            (date(2026, 11, 29), date(2026, 11, 23), "to"),
            (date(2025, 11, 22), date(2026, 11, 23), "to"),  # 367 days
        ]:
            with pytest.raises(InvalidInput) as error:
                await class_printout(
                    session=session,
                    principal=admin,
                    class_id="7b",
                    start=start,
                    end=end,
                    everyone=False,
                    now=now,
                )
            assert error.value.field == field
        longest = await class_printout(
            session=session,
            principal=admin,
            class_id="7b",
            start=date(2025, 11, 23),
            end=date(2026, 11, 23),  # 366 days
            everyone=False,
            now=now,
        )
        assert (longest.start, longest.end) == (date(2025, 11, 23), date(2026, 11, 23))
