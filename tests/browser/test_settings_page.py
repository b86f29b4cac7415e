"""The settings page a parent without a bot opens from an email (issue 19), on an old phone:
at 320 px wide with scripts off it fits without sideways scrolling, in type large enough, and
choosing «Вечером» for marks and saving says «Сохранено» and is stored; axe finds nothing
serious. The page's screenshot at 320 px is kept with the others (checks.screenshot_dir) for
a person to look at."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Page, expect

from notifier.config import Settings
from notifier.db.engine import create_engine, session_factory
from notifier.unsubscribe import load_links
from tests.browser.checks import OLD_PHONE, check_axe, screenshot, screenshot_dir
from tests.browser.stack import Stack
from tests.conftest import ADMIN_TOKEN

SMALLEST_TEXT_PX = 16


def _settings_link(stack: Stack, guardian_id: str, data_dir: Path) -> str:
    """The guardian's settings link as an email carries it: signed with the installation's
    key (kept in its database), on its own loop and thread (Playwright holds this one's)."""
    settings = Settings(
        database_url=stack.database_url,
        redis_url=stack.redis_url,
        public_url=stack.base_url,
        admin_token=ADMIN_TOKEN,
        data_dir=data_dir,
    )

    async def run() -> str:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                links = await load_links(session, settings)
        finally:
            await engine.dispose()
        return links.settings_url(guardian_id)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _fits_an_old_phone(page: Page) -> None:
    """One column no wider than 320 px, no script, no text under 16 px."""
    assert page.viewport_size == OLD_PHONE
    assert page.evaluate("document.documentElement.scrollWidth") <= OLD_PHONE["width"]
    assert page.locator("script").count() == 0
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('p, h1, legend, label, button, input[type=time]'))"
        ".map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert sizes and min(sizes) >= SMALLEST_TEXT_PX, sizes


def _shot(page: Page) -> Path:
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "settings-page-320.png"
    page.screenshot(path=target, full_page=True, animations="disabled", caret="hide")
    return target


def test_the_settings_page_reads_well_on_an_old_phone_and_saves_a_choice(
    stack: Stack, phone: Page, tab: Page, tmp_path: Path
) -> None:
    school = stack.seed_school()
    guardian = school.guardian_of(school.pupils[0].id)  # email, consent
    link = _settings_link(stack, guardian.id, tmp_path / "var")
    answer = phone.goto(link)
    assert answer is not None and answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    expect(phone.get_by_role("heading", name="Настройки уведомлений", level=1)).to_be_visible()
    _fits_an_old_phone(phone)

    # The seeded school has no quiet hours (00:00–00:00), and the page says so in words.
    expect(phone.get_by_label("Как в школе (без тихих часов)")).to_be_checked()
    marks = phone.get_by_role("group", name="Оценки", exact=True)
    evening = marks.get_by_label("Вечером (19:00)")
    expect(evening).not_to_be_checked()
    # A tap target as large as a finger: the whole label, not only the round button.
    box = marks.locator("label", has_text="Вечером").bounding_box()
    assert box is not None and box["height"] >= 40 and box["width"] >= 250, box
    evening.check()
    phone.get_by_role("button", name="Сохранить").click()
    expect(phone.get_by_role("status")).to_have_text("Сохранено")
    expect(
        phone.get_by_role("group", name="Оценки", exact=True).get_by_label("Вечером (19:00)")
    ).to_be_checked()
    _fits_an_old_phone(phone)
    shot = _shot(phone)
    assert shot.stat().st_size > 0
    stored = stack.api.get(f"/v1/guardians/{guardian.id}/preferences")
    assert stored.status_code == 200 and stored.json()["categories"]["marks"] == "digest"

    # With scripts on, for axe: the form at 320 px, then the harness's phone and desktop.
    tab.set_viewport_size(OLD_PHONE)
    tab.goto(link)
    check_axe(tab)
    screenshot(tab, "settings-page")


def test_a_broken_settings_link_says_what_to_do_on_an_old_phone(
    stack: Stack, phone: Page, tab: Page, tmp_path: Path
) -> None:
    school = stack.seed_school()
    link = _settings_link(stack, school.guardians[0].id, tmp_path / "var")
    answer = phone.goto(link[:-2])
    assert answer is not None and answer.status == 404
    expect(phone.get_by_role("heading", name="Ссылка недействительна")).to_be_visible()
    expect(phone.locator("main")).to_contain_text("попросите новую ссылку")
    assert phone.locator("form").count() == 0
    _fits_an_old_phone(phone)
    tab.set_viewport_size(OLD_PHONE)
    tab.goto(link[:-2])
    check_axe(tab)
