"""The admin's console in Chromium (issue 16), against the real serve, worker and bot: the whole
onboarding of an empty school by the bootstrap admin, then one journal event posted with the
token the console made and its mail arriving. Every page a test visits passes axe at a phone's
and a desktop's width and is photographed (`checked`, from test_console.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect
from redis import Redis as SyncRedis

from notifier.events.stream import DEAD_STREAM, STREAM
from tests.browser.seed import SeededSchool, Teacher
from tests.browser.stack import Stack
from tests.browser.test_console import checked, sign_in
from tests.conftest import ADMIN_TOKEN
from tests.factories import mark
from tests.servers.telegram import BotApiServer

SCHOOL = "adm-school"
PARENT_EMAIL = "adm-g1@parents.example.org"
TEACHER_EMAIL = "adm-teacher@school.example.org"
BAD_CSV = (
    "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email;consent_date\n"
    f"{SCHOOL};7a;adm-p1;Орлова Мария;adm-g1;Орлов Пётр;;{PARENT_EMAIL};01.09.2026\n"
    f"{SCHOOL};9z;adm-p2;Белов Денис;adm-g2;Белова Ольга;+79161234567;;01.09.2026\n"
)
GOOD_CSV = BAD_CSV.replace(";9z;", ";7a;")


def _csv(text: str) -> FilePayload:
    return FilePayload(name="roster.csv", mimeType="text/csv", buffer=text.encode())


def _submit(page: Page, action: str) -> None:
    """Press the submit button of the form posting to `action` (the path's end)."""
    page.locator(f'form[action$="{action}"] button[type=submit]').first.click()


def admin_signs_in(page: Page) -> None:
    page.goto("/console/signin")
    page.locator("details summary").click()  # the admin's way in is folded away
    page.locator("#token").fill(ADMIN_TOKEN)
    _submit(page, "/signin/admin")
    page.wait_for_url(re.compile(r"/console/"))


def test_an_empty_school_is_onboarded_and_its_first_journal_event_is_mailed(
    stack: Stack, tab: Page
) -> None:
    answer = stack.api.put(f"/v1/schools/{SCHOOL}", json={"name": "Школа № 900"})
    assert answer.status_code == 200, answer.text
    school_bot = BotApiServer(token="765432:ADMIN-school-bot", username="adm_school_bot")
    stack.bot_api.serve_also(school_bot)

    admin_signs_in(tab)
    tab.goto("/console/schools")
    checked(tab, "admin-schools")
    tab.locator("form", has=tab.locator(f'input[name=school_id][value="{SCHOOL}"]')).locator(
        "button"
    ).click()
    tab.goto("/console/setup")
    expect(tab.locator("main")).to_contain_text("Школа № 900")
    checked(tab, "admin-setup")

    # 1. the school's settings: no quiet hours (the worker runs on the real clock), marks at once
    tab.goto("/console/setup/school")
    checked(tab, "admin-setup-school")
    tab.locator("#quiet_start").fill("00:00")
    tab.locator("#quiet_end").fill("00:00")
    tab.locator("#mode_marks").select_option("instant")
    _submit(tab, "/setup/school")
    expect(tab).to_have_url(re.compile(r"/console/setup/school\?done=saved$"))
    expect(tab.get_by_text("Настройки школы сохранены.")).to_be_visible()

    # 2. the bot: the school's own, answered by the local Bot API server
    tab.goto("/console/setup/bot")
    checked(tab, "admin-setup-bot")
    tab.locator("#token").fill(school_bot.token)
    _submit(tab, "/setup/bot")
    expect(tab.locator("main")).to_contain_text("@adm_school_bot")
    assert "getMe" in [c.method for c in school_bot.calls]
    checked(tab, "admin-setup-bot-done")

    # 3. a class, then the roster: a file with an error, checked; then the fixed one, imported
    tab.goto("/console/setup/roster")
    tab.locator("#class_id").fill("7a")
    tab.locator("#class_name").fill("7А")
    _submit(tab, "/setup/classes")
    expect(tab.locator("main")).to_contain_text("7А")
    checked(tab, "admin-setup-roster")
    tab.locator("#file").set_input_files(_csv(BAD_CSV))
    _submit(tab, "/setup/roster/check")
    expect(tab.locator("main")).to_contain_text("с ошибками: 1")
    error_row = tab.get_by_role("row").filter(has_text="9z")
    expect(error_row.locator("th")).to_have_text("3")
    checked(tab, "admin-setup-roster-errors")
    tab.goto("/console/setup/roster")
    tab.locator("#file").set_input_files(_csv(GOOD_CSV))
    _submit(tab, "/setup/roster/check")
    expect(tab.locator("main")).to_contain_text("с ошибками: 0")
    checked(tab, "admin-setup-roster-clean")
    _submit(tab, "/setup/roster/import")
    expect(tab.locator("main")).to_contain_text("Загружено строк: 2")
    checked(tab, "admin-setup-roster-imported")

    # 4. a teacher, leading 7А, invited by email
    tab.goto("/console/setup/staff")
    checked(tab, "admin-setup-staff")
    tab.locator("#staff_id").fill("adm-t1")
    tab.locator("#full_name").fill("Петрова Анна Сергеевна")
    tab.locator("#role").select_option("teacher")
    tab.locator("#email").fill(TEACHER_EMAIL)
    tab.get_by_label("7А").check()
    _submit(tab, "/setup/staff")
    expect(tab).to_have_url(re.compile(r"/console/staff\?done=saved$"))
    expect(tab.get_by_text("Сотрудник сохранён.")).to_be_visible()
    checked(tab, "admin-staff")
    tab.goto("/console/setup/staff?staff_id=adm-t1")
    _submit(tab, "/staff/adm-t1/invite")
    mail = stack.wait_for_mail(TEACHER_EMAIL)
    assert stack.link_in(mail, "/console/signin/link/")

    # 5. the journal's token, shown once
    tab.goto("/console/setup/journal")
    checked(tab, "admin-setup-journal")
    tab.locator("#label").fill("Электронный журнал")
    _submit(tab, "/setup/journal/tokens")
    token = tab.locator("#new-token").input_value()
    assert token.startswith("ntf_"), token
    checked(tab, "admin-setup-journal-token")
    tab.goto("/console/setup")
    checked(tab, "admin-setup-done")

    # The journal sends a mark with that token; the guardian's mail arrives.
    event = mark("adm-p1", value="5", subject="Алгебра")
    posted = httpx.post(
        f"{stack.base_url}/v1/events",
        content=json.dumps(event),
        headers={
            "Content-Type": "application/cloudevents+json",
            "Authorization": f"Bearer {token}",
        },
        timeout=15,
    )
    assert posted.status_code == 202, posted.text
    mailed = stack.wait_for_mail(PARENT_EMAIL, timeout=30)
    body = mailed.message.get_body(("plain",))
    assert body is not None and "Алгебра" in body.get_content()


# -- the operations pages, on a seeded school the bootstrap admin has chosen -------------------


@pytest.fixture(scope="module")
def school(stack: Stack) -> SeededSchool:
    return stack.seed_school()


@pytest.fixture
def admin(tab: Page, school: SeededSchool) -> Iterator[Page]:
    """`tab` signed in as the bootstrap admin, with `school` chosen on /console/schools."""
    admin_signs_in(tab)
    choose_school(tab, school.school_id)
    yield tab


def choose_school(page: Page, school_id: str) -> None:
    page.goto("/console/schools")
    chooser = page.locator("form", has=page.locator(f'input[name=school_id][value="{school_id}"]'))
    chooser.locator("button").click()
    page.wait_for_load_state()


def _post_event(stack: Stack, event: dict[str, object]) -> None:
    posted = stack.api.post(
        "/v1/events",
        content=json.dumps(event),
        headers={"Content-Type": "application/cloudevents+json"},
    )
    assert posted.status_code == 202, posted.text


def test_a_dead_letter_is_replayed_and_an_unreadable_one_discarded(
    stack: Stack, admin: Page, school: SeededSchool
) -> None:
    pupil = school.pupils[0]
    guardian = school.guardian_of(pupil.id)
    assert guardian.email is not None
    before = len(stack.mail_to(guardian.email))
    redis = SyncRedis.from_url(stack.redis_url)
    try:
        # An unreadable entry a school's token put on the stream: the worker parks it.
        redis.xadd(STREAM, {"event": '{"broken": ', "school": school.school_id})
        # One parked by an earlier failure to store it: its event is fine, so it replays.
        redis.xadd(
            DEAD_STREAM,
            {
                "entry_id": "1-0",
                "reason": "could not be stored",
                "payload": json.dumps(mark(pupil.id, subject="Физика")),
                "school": school.school_id,
            },
        )
    finally:
        redis.close()
    deadline = time.monotonic() + 20
    while True:
        admin.goto("/console/dead-letters")
        if admin.locator("main").get_by_text("body is not valid JSON").count():
            break
        assert time.monotonic() < deadline, "the worker did not park the unreadable entry"
        time.sleep(0.5)
    checked(admin, "admin-dead-letters")
    letters = admin.locator('main a[href^="/console/dead-letters/"]')
    expect(letters).to_have_count(2)
    hrefs = [letters.nth(i).get_attribute("href") or "" for i in range(2)]
    shown = {}
    for href in hrefs:  # which is which: the worker parked the unreadable one when it could
        admin.goto(href)
        shown[href] = admin.locator("main pre").inner_text()
    [fixable] = [h for h in hrefs if "journal.mark.created" in shown[h]]
    [garbage] = [h for h in hrefs if h != fixable]

    admin.goto(fixable)
    checked(admin, "admin-dead-letter")
    _submit(admin, "/replay")
    expect(admin).to_have_url(re.compile(r"/console/dead-letters\?done=replayed$"))
    mail = stack.wait_for_mail(guardian.email, before + 1)
    body = mail.message.get_body(("plain",))
    assert body is not None and "Физика" in body.get_content()

    admin.goto(garbage)
    expect(admin.locator("main pre")).to_contain_text('{"broken": ')
    _submit(admin, "/discard")
    expect(admin.get_by_text("Запись отброшена.")).to_be_visible()
    expect(admin.locator('main a[href^="/console/dead-letters/"]')).to_have_count(0)
    checked(admin, "admin-dead-letters-empty")


def test_a_guardians_messages_are_found_by_name(
    stack: Stack, admin: Page, school: SeededSchool
) -> None:
    pupil = school.pupils[0]
    guardian = school.guardian_of(pupil.id)
    assert guardian.email is not None
    before = len(stack.mail_to(guardian.email))
    _post_event(stack, mark(pupil.id, subject="История"))
    stack.wait_for_mail(guardian.email, before + 1)

    admin.goto("/console/deliveries")
    checked(admin, "admin-deliveries")
    admin.locator("#guardian").fill(guardian.full_name.split()[0])
    admin.locator("form[role=search] button[type=submit]").click()
    expect(admin).to_have_url(re.compile(r"/console/deliveries\?.*guardian="))
    main = admin.locator("main")
    expect(main).to_contain_text(guardian.full_name)
    expect(main).to_contain_text(pupil.full_name)
    expect(main).to_contain_text("Доставлено")
    expect(main).not_to_contain_text(school.guardians[1].full_name)
    checked(admin, "admin-deliveries-found")


def test_a_guardian_is_erased_after_typing_the_name(
    stack: Stack, admin: Page, school: SeededSchool
) -> None:
    guardian = school.guardians[1]  # Белов Олег Игоревич, reached by SMS
    admin.goto(f"/console/roster/guardians/{guardian.id}")
    checked(admin, "admin-guardian")
    admin.goto(f"/console/roster/guardians/{guardian.id}/erase")
    checked(admin, "admin-erase")
    admin.locator("#confirm_name").fill("Белов")  # not the whole name: refused
    _submit(admin, "/erase")
    expect(admin.locator("main")).to_contain_text("Введённое имя не совпадает с ФИО родителя.")
    assert stack.api.get(f"/v1/guardians/{guardian.id}").status_code == 200
    checked(admin, "admin-erase-refused")
    admin.goto(f"/console/roster/guardians/{guardian.id}/erase")
    admin.locator("#confirm_name").fill(guardian.full_name)
    _submit(admin, "/erase")
    admin.wait_for_load_state()
    assert "/erase" not in admin.url, admin.url
    expect(admin.locator("main")).to_contain_text("Данные родителя удалены.")
    expect(admin.locator("main table")).not_to_contain_text(guardian.full_name)
    checked(admin, "admin-erased")
    assert stack.api.get(f"/v1/guardians/{guardian.id}").status_code == 404


def test_the_connected_parents_report_downloads_as_csv(admin: Page, school: SeededSchool) -> None:
    admin.goto("/console/report")
    checked(admin, "admin-report")
    with admin.expect_download() as download:
        admin.locator('main a[href^="/console/report.csv"]').click()
    name = download.value.suggested_filename
    assert name.startswith(f"connected-parents-{school.school_id}-") and name.endswith(".csv")
    text = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:2] == ["Класс", "Семей"], rows[0]
    totals = [row for row in rows if row[0] == "Итого"]
    # A family is a pupil's: erasing a guardian (another test) leaves the count as it is.
    assert len(totals) == 1 and int(totals[0][1]) == len(school.pupils), rows


def test_a_school_admin_gets_403_for_another_school_and_an_ended_session_signs_out(
    stack: Stack, tab: Page, chromium: Browser, school: SeededSchool
) -> None:
    other = stack.seed_school()
    head = Teacher(
        id=f"{school.school_id}-head",
        full_name="Директорова Ирина",
        email=f"head-{school.school_id}@school.example.org",
        locale="ru",
    )
    answer = stack.api.put(
        f"/v1/staff/{head.id}",
        json={
            "school_id": school.school_id,
            "full_name": head.full_name,
            "role": "admin",
            "email": head.email,
            "locale": "ru",
        },
    )
    assert answer.status_code == 200, answer.text
    sign_in(tab, stack, head)
    own = tab.goto(f"/console/roster/guardians/{school.guardians[0].id}")
    assert own is not None and own.status == 200
    refused = tab.goto(f"/console/roster/guardians/{other.guardians[0].id}")
    assert refused is not None and refused.status == 403
    expect(tab.get_by_role("heading", name="Нет доступа")).to_be_visible()
    expect(tab.locator("main")).not_to_contain_text(other.guardians[0].full_name)
    checked(tab, "admin-403")

    # The bootstrap admin ends her sessions on /console/sessions, in a browser of their own.
    context = chromium.new_context(base_url=stack.base_url, locale="ru-RU")
    try:
        boss = context.new_page()
        admin_signs_in(boss)
        choose_school(boss, school.school_id)
        boss.goto("/console/sessions")
        checked(boss, "admin-sessions")
        _submit(boss, f"/sessions/staff/{head.id}/end")
        boss.wait_for_load_state()
    finally:
        context.close()
    tab.goto("/console/")  # her next request, with the cookie she still holds
    expect(tab).to_have_url(re.compile(r"/console/signin$"))


def test_every_admin_page_passes_axe_at_both_widths(
    admin: Page, school: SeededSchool, stack: Stack
) -> None:
    """The pages the walks above do not open, each checked and photographed."""
    pupil = school.pupils_in(school.class_id)[0]
    guardian = school.guardian_of(pupil.id)
    pages = {
        "admin-roster": "/console/roster",
        "admin-roster-pupils": "/console/roster?show=pupils",
        "admin-pupil": f"/console/roster/pupils/{pupil.id}",
        "admin-guardian-page": f"/console/roster/guardians/{guardian.id}",
        "admin-dashboard": "/console/dashboard",
        "admin-unmatched": "/console/unmatched",
        "admin-audit": "/console/audit",
        "admin-tokens": "/console/tokens",
        "admin-report-page": "/console/report",
        "admin-help": "/console/help",
        "admin-help-admins": "/console/help/admins",
        "admin-help-teachers": "/console/help/teachers",
        "admin-help-parents": "/console/help/parents",
        "admin-classes": "/console/",
        "admin-class": f"/console/classes/{school.class_id}",
        "admin-announcements": "/console/announcements",
        "admin-compose": "/console/announcements/new",
    }
    for name, path in pages.items():
        response = admin.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        checked(admin, name)
