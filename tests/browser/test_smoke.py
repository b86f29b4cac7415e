"""The harness itself: the stack delivers, a link from a real email opens in Chromium and its
form posts to the real server, and the checks pass good pages and fail bad ones."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checks import check_axe, screenshot
from tests.browser.stack import Stack


def _announce(stack: Stack, class_id: str, text: str) -> str:
    response = stack.api.post(
        "/v1/announcements", json={"audience": {"class_ids": [class_id]}, "text": text}
    )
    assert response.status_code == 201, response.text
    ident: str = response.json()["id"]
    return ident


def test_an_announcement_page_passes_axe_and_fits_a_phone(stack: Stack, tab: Page) -> None:
    school = stack.seed_school()
    ident = _announce(
        stack,
        school.class_id,
        "Завтра, 24 ноября, уроки начинаются в 9:00.\nВозьмите сменную обувь.",
    )
    tab.goto(f"/a/{ident}")
    expect(tab.get_by_role("heading", name="Объявление")).to_be_visible()
    expect(tab.get_by_text("Возьмите сменную обувь.")).to_be_visible()
    check_axe(tab)
    phone, desktop = screenshot(tab, "smoke-announcement")
    assert phone.stat().st_size > 0 and desktop.stat().st_size > 0


def test_the_unsubscribe_link_in_an_email_works_in_the_browser(stack: Stack, tab: Page) -> None:
    school = stack.seed_school()
    first = school.pupils_in(school.class_id)[0]
    guardian = school.guardian_of(first.id)  # email only, with consent
    assert guardian.email is not None
    _announce(stack, school.class_id, "Родительское собрание в четверг в 18:00.")
    mail = stack.wait_for_mail(guardian.email)
    tab.goto(stack.link_in(mail, "/unsubscribe/"))
    expect(tab.get_by_role("heading", name="Отписаться от уведомлений?")).to_be_visible()
    check_axe(tab)
    screenshot(tab, "smoke-unsubscribe")
    tab.get_by_role("button", name="Отписаться").click()  # a plain form POST
    expect(tab.get_by_role("heading", name="Готово: вы отписались")).to_be_visible()
    check_axe(tab)
    preferences = stack.api.get(f"/v1/guardians/{guardian.id}/preferences")
    assert preferences.status_code == 200, preferences.text
    assert preferences.json()["categories"]["announcements"] == "off", preferences.text


def test_the_seed_reaches_guardians_every_way_and_teachers_by_email(stack: Stack) -> None:
    school = stack.seed_school()
    assert len(school.pupils_in(school.class_id)) == 5
    assert len(school.pupils_in(school.other_class_id)) == 1
    assert any(g.telegram_chat_id for g in school.guardians)
    assert any(g.phone and not g.email for g in school.guardians)
    assert any(not g.consent for g in school.guardians)
    # No API reads a staff member back; the console will, and its tests with it.
    database = stack.database_url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(database)) as db:
        row = db.execute(
            "SELECT email, locale FROM staff WHERE id = ?", (school.teacher.id,)
        ).fetchone()
    assert row == (school.teacher.email, "ru")


def test_check_axe_names_the_rule_and_the_element(tab: Page) -> None:
    tab.set_content('<!DOCTYPE html><html lang="ru"><title>т</title><main><input id="x"></main>')
    with pytest.raises(AssertionError) as failure:
        check_axe(tab)
    assert "label (critical)" in str(failure.value) and "#x" in str(failure.value)


def test_screenshot_fails_a_page_that_scrolls_sideways_on_a_phone(
    tab: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFIER_SCREENSHOTS", str(tmp_path))
    tab.set_content('<!DOCTYPE html><html lang="ru"><div style="width:600px">широко</div>')
    with pytest.raises(AssertionError, match="scrolls sideways"):
        screenshot(tab, "too-wide")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "too-wide-desktop.png",
        "too-wide-phone.png",
    ]
    assert tab.viewport_size == {"width": 1280, "height": 800}
