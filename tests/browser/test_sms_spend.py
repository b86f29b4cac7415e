"""The month's SMS in Chromium (issue 18), against the real serve and worker: the bootstrap admin
sets a school's SMS budget on the setup page (a refused figure first), the journal's marks go
by SMS (the file provider: parts counted, no price), and "Running" shows the month against the
budget at 80% and at 100%, the region's table, and the delivery log with each SMS's parts.
Every page passes axe at a phone's and a desktop's width and is photographed (`checked`)."""

from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Page, expect

from tests.browser.seed import SeededSchool
from tests.browser.stack import Stack
from tests.browser.test_admin_console import admin_signs_in, choose_school
from tests.browser.test_console import checked
from tests.factories import REAL_CLOCK, mark

SENT_SECONDS = 30


def _submit(page: Page, action: str) -> None:
    page.locator(f'form[action$="{action}"] button[type=submit]').first.click()


def _sent(stack: Stack, guardian_id: str) -> int:
    items = stack.api.get(f"/v1/guardians/{guardian_id}/notifications").json()["items"]
    return len([i for i in items if i["channel"] == "sms" and i["status"] == "sent"])


def _sms_sent(stack: Stack, guardian_id: str, n: int) -> None:
    """Wait until the worker has sent `n` SMS to the guardian."""
    deadline = time.monotonic() + SENT_SECONDS
    while (sent := _sent(stack, guardian_id)) < n:
        if time.monotonic() > deadline:
            stack.assert_running()
            raise AssertionError(f"{sent} SMS sent to {guardian_id}, expected {n}")
        time.sleep(0.2)


def _marks(stack: Stack, pupil_id: str, guardian_id: str, n: int) -> None:
    """`n` marks, each sent before the next is posted: `n` SMS of one part each (marks due
    together would go as one SMS)."""
    before = _sent(stack, guardian_id)
    for i in range(n):
        event = mark(pupil_id, value=str(5 - i % 3), subject="Геометрия")
        posted = stack.api.post(
            "/v1/events",
            content=json.dumps(event),
            headers={"Content-Type": "application/cloudevents+json"},
        )
        assert posted.status_code == 202, posted.text
        _sms_sent(stack, guardian_id, before + i + 1)


def test_the_budget_is_set_and_the_month_shows_against_it(stack: Stack, tab: Page) -> None:
    # The month counts every SMS of the school, and the worker on the real clock would send a
    # weekly summary by SMS on a weekend evening besides the marks.
    school: SeededSchool = stack.seed_school(REAL_CLOCK)
    by_sms = school.guardians[1]  # Белов Олег Игоревич: a phone only
    assert by_sms.phone and not by_sms.email
    admin_signs_in(tab)
    choose_school(tab, school.school_id)

    # Setup: a budget the API refuses, said in words beside the field; then 5 parts a month.
    tab.goto("/console/setup/school")
    field = tab.get_by_label("SMS-частей в месяц (пусто — без ограничения)")
    expect(field).to_have_value("")
    expect(tab.locator("main")).to_contain_text("израсходовано частей: 0")
    checked(tab, "sms-setup-school")
    field.fill("20000000")
    _submit(tab, "/setup/school")
    expect(tab.get_by_role("alert")).to_have_text(
        "SMS-бюджет — не больше 10 000 000 частей в месяц. Чтобы снять ограничение, оставьте "
        "поле пустым."
    )
    expect(field).to_have_value("20000000")
    expect(field).to_have_attribute("aria-invalid", "true")
    checked(tab, "sms-setup-school-refused")
    field.fill("5")
    _submit(tab, "/setup/school")
    expect(tab).to_have_url(re.compile(r"/console/setup/school\?done=saved$"))
    expect(field).to_have_value("5")

    # Four one-part SMS: 80% of the budget.
    _marks(stack, by_sms.pupil_id, by_sms.id, 4)
    tab.goto("/console/dashboard")
    sms = tab.locator("section.sms-spend")
    expect(sms.locator('[data-sms="segments"]')).to_have_text("4")
    expect(sms.locator('[data-sms="share"]')).to_have_text("80%")
    expect(sms.locator('[data-sms="cost"]')).to_have_text("оператор не сообщает цену")
    expect(sms.locator('[data-level="alert"]')).to_contain_text("не меньше 80% бюджета")
    expect(sms.locator("svg.sms-bar.sms-alert")).to_be_visible()
    sms.scroll_into_view_if_needed()
    checked(tab, "sms-dashboard-80")

    # The fifth: the budget is spent.
    _marks(stack, by_sms.pupil_id, by_sms.id, 1)
    tab.goto("/console/dashboard")
    expect(sms.locator('[data-sms="share"]')).to_have_text("100%")
    expect(sms.get_by_role("status")).to_contain_text("Бюджет исчерпан")
    expect(sms.locator("svg.sms-bar.sms-spent")).to_be_visible()
    checked(tab, "sms-dashboard-100")

    # The delivery log: the month above, each SMS's parts.
    tab.goto("/console/deliveries?channel=sms")
    expect(tab.locator('[data-sms="month"]')).to_contain_text("SMS-частей — 5")
    expect(tab.locator("[data-billed]")).to_have_count(5)
    checked(tab, "sms-deliveries")

    # The region: a row per school with SMS or a budget, this one spent.
    tab.goto("/console/dashboard?region=true")
    row = tab.locator(f'tr[data-school="{school.school_id}"]')
    expect(row.locator('[data-sms="share"]')).to_have_text("100%")
    expect(row.locator(".badge")).to_have_text("исчерпан")
    checked(tab, "sms-dashboard-region")
