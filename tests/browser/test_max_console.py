"""MAX in the admin's console, in Chromium (issue 17), against a serve, worker and bot of their
own that have a MAX bot besides Telegram's (a local MAX Bot API server): a guardian's MAX link
issued on their page and read from its QR code, the parent pressing Start in MAX; a class
teacher's MAX link; "MAX" on the roster, staff, class and report pages; the invitation slips
with a MAX code beside Telegram's; a journal event delivered by MAX in the delivery log and on
the dashboard; MAX in the school's channel order and in the parents' guide. Every page passes
axe at a phone's and a desktop's width and is photographed (`checked`)."""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from tests.browser.checks import DESKTOP, PageProblems, screenshot_dir
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.seed import SeededSchool
from tests.browser.stack import Stack, running_stack
from tests.browser.test_admin_console import admin_signs_in, choose_school
from tests.browser.test_console import checked
from tests.factories import mark
from tests.pdf_reader import pdf_text
from tests.servers.max import MaxApiServer

# A Redis database of its own: the package's stack (stack.py's REDIS_DB) may be running too.
REDIS_DB = 10
LINK_SECONDS = 20
DELIVERY_SECONDS = 30


@pytest.fixture(scope="module")
def max_stack(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    redis_url: str,
    stack: Stack,  # the package's stack starts first: `chromium` needs it, and it needs no MAX
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("browser-max-stack")
    database = workdir / "notifier.db"
    shutil.copy(sqlite_template, database)
    with (
        MaxApiServer() as max_api,
        running_stack(
            workdir,
            database_url=f"sqlite+aiosqlite:///{database}",
            redis_url=redis_url,
            max_api=max_api,
            redis_db=REDIS_DB,
        ) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def school(max_stack: Stack) -> SeededSchool:
    return max_stack.seed_school()


@pytest.fixture
def admin(chromium: Browser, max_stack: Stack, school: SeededSchool) -> Iterator[Page]:
    """A fresh context on the MAX stack, signed in as the bootstrap admin with `school`
    chosen; after the test, fails on script errors and files that did not load."""
    max_stack.assert_running()
    context = chromium.new_context(
        base_url=max_stack.base_url,
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        viewport=DESKTOP,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = PageProblems(page)
    try:
        admin_signs_in(page)
        choose_school(page, school.school_id)
        yield page
    finally:
        context.close()
    problems.assert_none()
    max_stack.assert_running()


def _max(stack: Stack) -> MaxApiServer:
    assert stack.max_api is not None
    return stack.max_api


def _wait_linked(stack: Stack, guardian_id: str) -> None:
    deadline = time.monotonic() + LINK_SECONDS
    while not stack.api.get(f"/v1/guardians/{guardian_id}").json()["max_linked"]:
        if time.monotonic() > deadline:
            stack.assert_running()
            raise AssertionError(f"the MAX bot did not link {guardian_id}\n{stack.logs()}")
        time.sleep(0.1)


def _link_max(stack: Stack, guardian_id: str, user_id: int) -> None:
    """The parent's side of a MAX link: Start in MAX (bot_started with the code), read by
    `notifier bot`."""
    answer = stack.api.post(f"/v1/guardians/{guardian_id}/max-link")
    assert answer.status_code == 201, answer.text
    _max(stack).bot_started(user_id, payload=answer.json()["code"])
    _wait_linked(stack, guardian_id)


def _read_qr(page: Page, selector: str) -> str:
    """What a phone's camera reads from the QR code on the screen."""
    shot = page.locator(selector).screenshot()
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    return code.text


def _submit(page: Page, action: str) -> None:
    page.locator(f'form[action*="{action}"] button[type=submit]').first.click()
    page.wait_for_load_state()


def test_a_guardians_max_link_is_read_from_the_screen_and_started_in_max(
    max_stack: Stack, admin: Page, school: SeededSchool
) -> None:
    guardian = school.guardians[0]  # Антонова Мария Петровна, reached by email
    admin.goto(f"/console/roster/guardians/{guardian.id}")
    section = admin.locator("section", has=admin.locator("h2#g-max"))
    expect(section).to_contain_text("Чат не подключён.")
    expect(admin.locator("main")).to_contain_text("MAX не подключён")
    checked(admin, "max-guardian")

    section.get_by_role("button", name="Выдать новый код подключения MAX").click()
    admin.wait_for_load_state()
    code = admin.locator("#link-code").inner_text()
    url = f"https://max.ru/{_max(max_stack).username}?start={code}"
    expect(admin.locator("#link-url")).to_have_attribute("href", url)
    assert _read_qr(admin, "section:has(#g-max) .link-qr img") == url
    checked(admin, "max-guardian-code")

    # The parent points the phone at it and presses Start in MAX.
    _max(max_stack).bot_started(8_100_001, payload=code)
    _wait_linked(max_stack, guardian.id)
    welcome = max_stack.max_to(8_100_001)
    assert welcome and "Артём" in welcome[-1].plain, [m.plain for m in welcome]
    admin.goto(f"/console/roster/guardians/{guardian.id}")
    expect(section).to_contain_text("Чат подключён")
    expect(admin.locator(".badge.ok", has_text="MAX")).to_be_visible()
    checked(admin, "max-guardian-linked")
    admin.goto(f"/console/roster?q={guardian.full_name.split()[0]}")
    row = admin.get_by_role("row").filter(has_text=guardian.full_name)
    expect(row.locator(".badge.ok", has_text="MAX")).to_be_visible()
    checked(admin, "max-roster")
    admin.goto(f"/console/roster/pupils/{guardian.pupil_id}")
    expect(admin.locator(".chats .badge.ok", has_text="MAX")).to_be_visible()
    checked(admin, "max-pupil")


def test_a_class_teacher_gets_a_max_link_for_announce(
    max_stack: Stack, admin: Page, school: SeededSchool
) -> None:
    teacher = school.teacher
    admin.goto("/console/staff")
    expect(admin.get_by_role("columnheader", name="MAX")).to_be_visible()
    checked(admin, "max-staff")
    admin.get_by_role("button", name=f"Ссылка на бота в MAX: {teacher.full_name}").click()
    admin.wait_for_load_state()
    url = admin.locator("#link-url").input_value()
    assert url.startswith(f"https://max.ru/{_max(max_stack).username}?start=")
    assert _read_qr(admin, ".link-qr img") == url
    expect(admin.get_by_role("link", name="Открыть в MAX")).to_have_attribute("href", url)
    checked(admin, "max-staff-link")


def test_the_class_and_its_slips_carry_max_beside_telegram(
    max_stack: Stack, admin: Page, school: SeededSchool
) -> None:
    belov = school.guardians[1]  # Белов Олег Игоревич, reached by SMS until now
    _link_max(max_stack, belov.id, 8_100_002)
    admin.goto(f"/console/classes/{school.class_id}")
    row = admin.get_by_role("row").filter(has_text=belov.full_name)
    expect(row.locator(".badge.ok")).to_have_text("MAX")
    expect(admin.locator("#inv ~ p").first).to_contain_text("Telegram и MAX")
    checked(admin, "max-class")
    with admin.expect_download() as download:
        admin.get_by_role("button", name="Скачать приглашения (PDF)").click()
    pdf = download.value.path().read_bytes()
    screenshot_dir().mkdir(parents=True, exist_ok=True)
    (screenshot_dir() / "max-slips.pdf").write_bytes(pdf)  # for a person to look at
    text = " ".join(pdf_text(pdf).split())
    assert "Уведомления из школы в Telegram или MAX" in text, text
    links = [
        barcode.text
        for page in PdfReader(io.BytesIO(pdf)).pages
        for image in page.images
        for barcode in zxingcpp.read_barcodes(image.image)
    ]
    telegram = [u for u in links if u.startswith(f"https://t.me/{max_stack.bot_api.username}")]
    in_max = [u for u in links if u.startswith(f"https://max.ru/{_max(max_stack).username}")]
    assert telegram and in_max and len(telegram) + len(in_max) == len(links), links


def test_a_mark_goes_by_max_into_the_log_the_dashboard_and_the_report(
    max_stack: Stack, admin: Page, school: SeededSchool
) -> None:
    pupil = school.pupils[0]  # Антонов Артём: his mother is linked in MAX by the first test
    guardian = school.guardian_of(pupil.id)
    if not max_stack.api.get(f"/v1/guardians/{guardian.id}").json()["max_linked"]:
        _link_max(max_stack, guardian.id, 8_100_001)
    before = len(max_stack.max_to(8_100_001))
    posted = max_stack.api.post(
        "/v1/events",
        content=json.dumps(mark(pupil.id, value="5", subject="Геометрия")),
        headers={"Content-Type": "application/cloudevents+json"},
    )
    assert posted.status_code == 202, posted.text
    deadline = time.monotonic() + DELIVERY_SECONDS
    while len(max_stack.max_to(8_100_001)) == before:
        if time.monotonic() > deadline:
            max_stack.assert_running()
            raise AssertionError(f"no MAX message\n{max_stack.logs()}")
        time.sleep(0.1)
    assert "Геометрия" in max_stack.max_to(8_100_001)[-1].plain

    admin.goto("/console/deliveries?channel=max")
    expect(admin.locator("#channel")).to_have_value("max")
    expect(admin.locator("#channel option:checked")).to_have_text("MAX")
    row = admin.get_by_role("row").filter(has_text=guardian.full_name).first
    expect(row).to_contain_text("MAX")
    checked(admin, "max-deliveries")
    admin.goto("/console/dashboard")
    expect(admin.locator('td[data-channel="max"]')).not_to_have_text("0")
    expect(admin.locator("svg rect.ch-max").first).to_be_attached()
    checked(admin, "max-dashboard")
    admin.goto("/console/report")
    expect(admin.get_by_role("columnheader", name="MAX")).to_be_visible()
    checked(admin, "max-report")


def test_max_is_offered_by_name_in_the_channel_orders(
    max_stack: Stack, admin: Page, school: SeededSchool
) -> None:
    admin.goto("/console/setup/school")
    second = admin.locator("#channel_2")
    expect(second.locator("option:checked")).to_have_text("MAX")  # the default order
    second.select_option("email")
    admin.locator("#channel_3").select_option("max")
    _submit(admin, "/setup/school")
    expect(admin.locator("main")).to_contain_text("Настройки школы сохранены.")
    expect(admin.locator("#channel_3 option:checked")).to_have_text("MAX")
    subscriptions = max_stack.api.get(f"/v1/schools/{school.school_id}/subscriptions").json()
    assert subscriptions["channels"] == ["telegram", "email", "max", "sms"]
    checked(admin, "max-setup-school")
    guardian = school.guardians[2]
    admin.goto(f"/console/roster/guardians/{guardian.id}")
    expect(admin.locator("#channel_1 option", has_text="MAX")).to_have_count(1)
    expect(admin.locator("main")).to_contain_text("Сейчас: Telegram → Почта → MAX → SMS.")
    admin.goto("/console/help/parents")
    expect(admin.get_by_role("heading", name="Как подключить Telegram или MAX")).to_be_visible()
    checked(admin, "max-help-parents")
