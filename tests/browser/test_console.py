"""The teacher console in Chromium (issue 15), against the real serve, worker and bot: signing
in through the emailed link, a class's reach, invitation slips, compose with the live preview,
the report refreshing itself, cancel, printouts, refusals, English, the keyboard. Every page a
test visits passes axe and is photographed at a phone's and a desktop's width.

One school serves the whole module, and teacher 1 signs in once (`teacher_session`); the tests
that send count mail and messages from where they start, so their order does not matter."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from playwright.sync_api import Browser, Locator, Page, expect
from pypdf import PdfReader

from notifier.console.web import SESSION_COOKIE
from tests.browser.checks import PHONE, check_axe, screenshot
from tests.browser.seed import Guardian, SeededSchool, Teacher
from tests.browser.stack import Stack
from tests.pdf_reader import pdf_text

# Long enough for the worker to send a whole class while the report polls every 2 s.
DELIVERY_MS = 20_000
SCHOOL_ZONE = ZoneInfo("Europe/Moscow")  # the seeded school's (the default) time zone
TEXT = "Собрание <b>в пятницу</b> в 18:00 & без опозданий"
SEGMENTS = re.compile(r"[1-9] из 2 SMS-частей, кодировка UCS2")


@pytest.fixture(scope="module")
def school(stack: Stack) -> SeededSchool:
    return stack.seed_school()


@pytest.fixture(scope="module")
def teacher_session(chromium: Browser, stack: Stack, school: SeededSchool) -> str:
    """Teacher 1 signed in once, through the emailed link: her session cookie."""
    context = chromium.new_context(base_url=stack.base_url, locale="ru-RU")
    try:
        sign_in(context.new_page(), stack, school.teacher)
        [value] = [c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE]
    finally:
        context.close()
    return value


@pytest.fixture
def teacher(tab: Page, stack: Stack, teacher_session: str) -> Iterator[Page]:
    """`tab` with teacher 1's session."""
    host = urlsplit(stack.base_url).hostname or "127.0.0.1"
    tab.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": teacher_session, "domain": host, "path": "/console"}]
    )
    yield tab


def checked(page: Page, name: str) -> None:
    """axe at a desktop's width and at a phone's (where wide tables scroll), then the page
    photographed at both as `name`."""
    check_axe(page)
    before = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        check_axe(page)
    finally:
        if before is not None:
            page.set_viewport_size(before)
    screenshot(page, name)


def ask_for_link(page: Page, stack: Stack, email: str) -> str:
    """Type the address into the sign-in form, submit, and return the link the mail brings."""
    before = len(stack.mail_to(email))
    page.goto("/console/signin")
    page.get_by_label("Электронная почта").fill(email)
    page.get_by_role("button", name="Прислать ссылку").click()
    expect(page.get_by_role("heading", name="Проверьте почту")).to_be_visible()
    mail = stack.wait_for_mail(email, before + 1)
    return stack.link_in(mail, "/console/signin/link/")


def sign_in(page: Page, stack: Stack, who: Teacher, *, shots: str | None = None) -> None:
    """The whole way in: ask for a link, open it from the mail, press «Войти». With `shots`,
    each page on the way is checked with axe and photographed under that name."""
    link = ask_for_link(page, stack, who.email)
    if shots:
        checked(page, f"{shots}-sent")
    page.goto(link)
    enter = page.get_by_role("button", name="Войти")
    expect(enter).to_be_visible()
    if shots:
        checked(page, f"{shots}-confirm")
    enter.click()
    page.wait_for_url(re.compile(r"/console/$"))


def _row(page: Page, text: str) -> Locator:
    return page.get_by_role("row").filter(has_text=text)


def _email_guardians(school: SeededSchool) -> list[Guardian]:
    return [
        school.guardian_of(p.id)
        for p in school.pupils_in(school.class_id)
        if school.guardian_of(p.id).email
    ]


def test_a_teacher_signs_in_with_the_emailed_link_and_sees_only_her_class(
    stack: Stack, tab: Page, school: SeededSchool
) -> None:
    tab.goto("/console/")  # not signed in: sent to the sign-in page
    expect(tab).to_have_url(re.compile(r"/console/signin$"))
    expect(tab.get_by_label("Электронная почта")).to_be_visible()
    checked(tab, "console-signin")
    sign_in(tab, stack, school.teacher, shots="console-signin")
    expect(tab.get_by_role("heading", name="Мои классы")).to_be_visible()
    main = tab.locator("main")
    expect(main.get_by_role("link", name=school.class_name, exact=True)).to_be_visible()
    expect(main).not_to_contain_text(school.other_class_name)
    expect(tab.locator("header")).to_contain_text(school.teacher.full_name)
    checked(tab, "console-home")


def test_the_reach_page_shows_each_family_and_what_to_do(
    teacher: Page, school: SeededSchool
) -> None:
    teacher.goto("/console/")
    teacher.locator("main").get_by_role("link", name=school.class_name, exact=True).click()
    expect(teacher).to_have_url(re.compile(rf"/console/classes/{school.class_id}$"))
    expect(teacher.get_by_text("Сообщения получают 4 из 5 семей.")).to_be_visible()
    expect(teacher.locator("main ul")).to_contain_text("Соберите подписанные согласия")
    badges = {
        "Антонова Мария Петровна": "Почта",
        "Белов Олег Игоревич": "SMS",  # phone only
        "Васильева Елена Андреевна": "Telegram",  # linked through the bot
        "Григорьев Игорь": "Нет согласия",
        "Dmitrieva Anna": "Почта",  # email before SMS
    }
    for guardian, badge in badges.items():
        expect(_row(teacher, guardian).locator("td .badge")).to_have_text(badge)
    # The family not reached comes first, and the other class's pupil not at all.
    first = teacher.locator("tbody tr").first
    expect(first).to_contain_text("Григорьева Дарья")
    expect(first).to_contain_text("не на связи")
    expect(teacher.locator("main")).not_to_contain_text("Егоров Михаил")
    checked(teacher, "console-class")


def test_invitation_slips_download_with_a_qr_for_each_guardian_not_yet_linked(
    stack: Stack, teacher: Page, school: SeededSchool
) -> None:
    teacher.goto(f"/console/classes/{school.class_id}")
    with teacher.expect_download() as download:
        teacher.get_by_role("button", name="Скачать приглашения (PDF)").click()
    assert download.value.suggested_filename.endswith(".pdf")
    pdf = download.value.path().read_bytes()
    text = pdf_text(pdf)
    linked = "Васильева Елена Андреевна"
    guardians = [school.guardian_of(p.id) for p in school.pupils_in(school.class_id)]
    unlinked = [g.full_name for g in guardians if g.telegram_chat_id is None]
    assert len(unlinked) == 4
    for name in unlinked:
        assert name in text, f"{name} has no slip:\n{text}"
    assert linked not in text and "Егорова Ольга" not in text
    links = [
        barcode.text
        for page in PdfReader(io.BytesIO(pdf)).pages
        for image in page.images
        for barcode in zxingcpp.read_barcodes(image.image)
    ]
    prefix = f"https://t.me/{stack.bot_api.username}?start="
    assert len(links) == 4 and len(set(links)) == 4, links
    assert all(link.startswith(prefix) and len(link) > len(prefix) for link in links), links
    check_axe(teacher)  # the page stays as it was: the answer was a download


def test_compose_with_live_preview_send_and_watch_the_report_fill_in(
    stack: Stack, teacher: Page, school: SeededSchool
) -> None:
    mailed = _email_guardians(school)[0]
    assert mailed.email is not None
    mails_before = len(stack.mail_to(mailed.email))
    [linked] = [g for g in school.guardians if g.telegram_chat_id is not None]
    assert linked.telegram_chat_id is not None
    chats_before = len(stack.telegram_to(linked.telegram_chat_id))

    teacher.goto("/console/announcements/new")
    # Her only class is chosen for her, and its pupils offered (none ticked: the whole class).
    expect(teacher.get_by_label("Класс", exact=True)).to_have_value(school.class_id)
    for pupil in school.pupils_in(school.class_id):
        expect(teacher.get_by_label(pupil.full_name)).not_to_be_checked()
    expect(teacher.get_by_label("Сейчас")).to_be_checked()
    checked(teacher, "console-compose")

    teacher.get_by_label("Текст объявления").press_sequentially(TEXT)
    preview = teacher.locator("#preview")  # filled by htmx while typing, no button pressed
    for channel in ("Telegram", "Письмо", "SMS"):
        expect(preview.get_by_role("article", name=channel)).to_contain_text(TEXT)
    expect(preview.locator("#sms-segments")).to_have_text(SEGMENTS)
    # Typed markup stays text (Telegram, the subject, the email, the SMS), no element of it.
    expect(preview.locator("b", has_text="в пятницу")).to_have_count(0)
    assert preview.inner_html().count("&lt;b&gt;в пятницу&lt;/b&gt; в 18:00 &amp; без") == 4
    checked(teacher, "console-compose-preview")

    refreshes: list[str] = []
    teacher.on(
        "request", lambda r: refreshes.append(r.url) if r.headers.get("hx-request") else None
    )
    teacher.get_by_role("button", name="Отправить").click()
    expect(teacher.get_by_role("heading", name="Отчёт о доставке")).to_be_visible()
    expect(teacher).to_have_url(re.compile(r"/console/announcements/[^/]+$"))
    report_url = teacher.url
    report = teacher.locator("#report")
    # Usually the worker has not sent everything yet: then the report polls until it has.
    polling = report.locator("[hx-trigger]").count() > 0
    expect(report).to_contain_text("Доставлено 4 из 5 родителям.", timeout=DELIVERY_MS)
    if polling:
        assert report_url in refreshes, refreshes
    expect(report.locator("[hx-trigger]")).to_have_count(0)  # nothing left to wait for
    expect(report.locator("[data-status=sent]")).to_have_count(4)
    expect(_row(teacher, "Григорьев Игорь")).to_contain_text("Нет согласия")
    expect(_row(teacher, "Васильева Елена Андреевна")).to_contain_text("Отправлено")
    expect(report).not_to_contain_text("Запланировано")
    # Done: the page loaded once more (HX-Refresh), without the button to cancel.
    expect(teacher.get_by_role("button", name="Отменить неотправленное")).to_have_count(0)
    expect(teacher.locator("blockquote")).to_have_text(TEXT)
    checked(teacher, "console-report")

    mail = stack.wait_for_mail(mailed.email, mails_before + 1)
    plain = mail.message.get_body(("plain",))
    assert plain is not None and TEXT in plain.get_content()
    html = mail.message.get_body(("html",))
    assert html is not None and "&lt;b&gt;в пятницу&lt;/b&gt;" in html.get_content()
    chat = stack.telegram_to(linked.telegram_chat_id)
    assert len(chat) == chats_before + 1 and TEXT in chat[-1].plain, chat[chats_before:]

    teacher.get_by_role("link", name="Объявления", exact=True).last.click()
    expect(teacher.locator("main table")).to_contain_text(TEXT)
    checked(teacher, "console-announcements")


def test_a_scheduled_announcement_is_cancelled_before_it_goes(
    stack: Stack, teacher: Page, school: SeededSchool
) -> None:
    addresses = [g.email for g in _email_guardians(school) if g.email]
    mails_before = {a: len(stack.mail_to(a)) for a in addresses}
    tomorrow = datetime.now(SCHOOL_ZONE).replace(second=0, microsecond=0) + timedelta(days=1)
    teacher.goto("/console/announcements/new")
    teacher.get_by_label("Текст объявления").fill("Завтра экскурсия в музей, сбор в 9:00.")
    teacher.get_by_label("В выбранное время").check()
    teacher.get_by_label("Дата и время (время школы)").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    teacher.get_by_role("button", name="Отправить").click()

    expect(teacher.get_by_role("heading", name="Отчёт о доставке")).to_be_visible()
    report = teacher.locator("#report")
    expect(report.locator("[data-status=scheduled]")).to_have_count(4)
    expect(report).to_contain_text(f"Отправится {tomorrow.strftime('%d.%m.%Y %H:%M')}")
    checked(teacher, "console-report-scheduled")

    teacher.get_by_role("button", name="Отменить неотправленное").click()
    expect(teacher.get_by_text("Объявление отменено.")).to_be_visible()
    expect(report).to_contain_text("Доставлено 0 из 5 родителям.")
    expect(report.locator("[data-status=cancelled]")).to_have_count(4)
    expect(teacher.get_by_role("button", name="Отменить неотправленное")).to_have_count(0)
    checked(teacher, "console-report-cancelled")
    assert {a: len(stack.mail_to(a)) for a in mails_before} == mails_before


def test_the_summary_opens_for_print_as_a_page_and_as_a_pdf(
    stack: Stack, teacher: Page, school: SeededSchool
) -> None:
    pupil = school.pupils_in(school.class_id)[0].full_name
    today = datetime.now(SCHOOL_ZONE).date()
    teacher.goto(f"/console/classes/{school.class_id}")
    # A period typed in: the form left blank sends from=&to=, which the console refuses (422)
    # as long as notifier/console/pages/printouts.py reads a blank date as a date, not as none.
    teacher.get_by_label("С", exact=True).fill((today - timedelta(days=7)).isoformat())
    teacher.get_by_label("По", exact=True).fill(today.isoformat())
    teacher.get_by_label("Все ученики").check()
    teacher.get_by_role("button", name="Открыть страницу для печати").click()
    expect(teacher).to_have_url(re.compile(r"/summary\.html\?"))
    expect(teacher.locator("body")).to_contain_text(pupil)
    checked(teacher, "console-summary-print")

    teacher.go_back()
    pdf_url = f"/console/classes/{school.class_id}/summary.pdf?all=true"
    answer = teacher.request.get(pdf_url)  # the context's cookies: the teacher's session
    assert answer.status == 200, answer.text()
    assert answer.headers["content-type"] == "application/pdf"
    assert pupil in pdf_text(answer.body())


def test_refusals_are_pages_that_say_what_to_do(
    stack: Stack, teacher: Page, school: SeededSchool
) -> None:
    # Another teacher's class.
    answer = teacher.goto(f"/console/classes/{school.other_class_id}")
    assert answer is not None and answer.status == 403
    expect(teacher.get_by_role("heading", name="Нет доступа")).to_be_visible()
    expect(teacher.locator("main")).not_to_contain_text("Егоров Михаил")
    checked(teacher, "console-403")

    # A form without its CSRF token: the page's own form, the hidden field taken out.
    teacher.goto(f"/console/classes/{school.class_id}")
    slips = teacher.locator("form", has=teacher.get_by_role("button", name="Скачать приглашения"))
    slips.locator("input[name=csrf]").evaluate("input => input.remove()")
    with teacher.expect_response(re.compile(r"/invitations$")) as response:
        slips.get_by_role("button").click()
    assert response.value.status == 403
    expect(teacher.get_by_role("alert")).to_contain_text("Обновите страницу")
    checked(teacher, "console-403-csrf")

    # A link voided by a newer one.
    first = ask_for_link(teacher, stack, school.teacher.email)
    ask_for_link(teacher, stack, school.teacher.email)
    answer = teacher.goto(first)
    assert answer is not None and answer.status == 410
    expect(teacher.get_by_role("heading", name="Срок действия ссылки истёк")).to_be_visible()
    again = teacher.get_by_role("link", name="Получить новую ссылку")
    expect(again).to_have_attribute("href", "/console/signin")
    checked(teacher, "console-link-expired")
    again.click()
    expect(teacher.get_by_label("Электронная почта")).to_be_visible()


def test_an_english_speaking_teacher_gets_the_console_in_english(
    stack: Stack, tab: Page, school: SeededSchool
) -> None:
    sign_in(tab, stack, school.other_teacher)
    expect(tab.get_by_role("heading", name="My classes")).to_be_visible()
    expect(tab.locator("html")).to_have_attribute("lang", "en")
    main = tab.locator("main")
    expect(main.get_by_role("link", name=school.other_class_name, exact=True)).to_be_visible()
    expect(main).not_to_contain_text(school.class_name)
    expect(tab.get_by_role("button", name="Sign out")).to_be_visible()
    checked(tab, "console-home-en")


def test_the_sign_in_form_works_from_the_keyboard(
    stack: Stack, tab: Page, school: SeededSchool
) -> None:
    email = school.teacher.email
    before = len(stack.mail_to(email))
    tab.goto("/console/signin")
    tab.keyboard.press("Tab")
    skip = tab.get_by_role("link", name="К содержанию")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # hidden off-screen until it has the focus
    focused = []
    for _ in range(3):
        tab.keyboard.press("Tab")
        focused.append(tab.evaluate("document.activeElement.id || document.activeElement.text"))
        if focused[-1] == "email":
            break
    assert focused == ["Уведомления школы", "email"], focused  # the header's link, the field
    tab.keyboard.type(email)
    tab.keyboard.press("Tab")
    expect(tab.get_by_role("button", name="Прислать ссылку")).to_be_focused()
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("heading", name="Проверьте почту")).to_be_visible()
    stack.wait_for_mail(email, before + 1)
