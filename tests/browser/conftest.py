"""Fixtures of the browser tests: `stack` (the running installation, stack.py), `chromium`
(Debian's Chromium under Playwright) and `tab` (a fresh browser context's page).

Playwright's sync API, not its async one: its sync calls need no event loop of the test's, so
these tests are plain functions and pytest-asyncio (auto mode) leaves them alone, and the
servers are child processes, not tasks on a loop the test would have to share. One catch: while
Playwright runs it marks its own loop as the thread's running one, so `asyncio.run()` fails in
these tests and in fixtures set up after `chromium`. Hence tests here are sync, the helpers
are sync (Stack.wait_for_mail, not SmtpServer.wait_for), and `chromium` depends on `stack` so
that the stack starts first and stops last. pytest-playwright's own fixtures (`page`,
`browser`) are not used: they would launch a browser it downloads, and keep Playwright (and its
loop) alive for the whole session, under the async tests that follow.

The stack and the browser are started once for the package and stopped after its last test;
tests share them, and each makes its own school with `stack.seed_school()`.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.checks import DESKTOP, OLD_PHONE, PageProblems
from tests.browser.chromium import LAUNCH_ARGS, find_chromium, missing_reason
from tests.browser.stack import Stack, running_stack

HERE = Path(__file__).resolve().parent
TIMEOUT_MS = 10_000  # Playwright's default is 30 s: a wrong locator should fail sooner


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Skipped at collection, so that no server starts for tests that cannot run.
    skip = None if find_chromium() else pytest.mark.skip(reason=missing_reason())
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            if skip is not None:
                item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if inspect.iscoroutinefunction(getattr(item, "obj", None)):
        pytest.fail(
            "tests in tests/browser/ are plain functions, not async: Playwright's sync API "
            "holds the thread's event loop (see tests/browser/conftest.py)",
            pytrace=False,
        )


@pytest.fixture(scope="package")
def stack(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, redis_url: str
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("browser-stack")
    database = workdir / "notifier.db"
    shutil.copy(sqlite_template, database)
    with running_stack(
        workdir, database_url=f"sqlite+aiosqlite:///{database}", redis_url=redis_url
    ) as running:
        yield running


@pytest.fixture(scope="package")
def chromium(stack: Stack) -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        pytest.skip(missing_reason())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(LAUNCH_ARGS), headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(chromium: Browser, stack: Stack) -> Iterator[Page]:
    """A page in a context of its own (no cookies from other tests), Russian, Moscow time,
    desktop-sized, with relative URLs against the stack: `tab.goto("/console/signin")`.
    After the test it fails on script errors and files that did not load."""
    stack.assert_running()
    context = chromium.new_context(
        base_url=stack.base_url,
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        viewport=DESKTOP,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = PageProblems(page)
    try:
        yield page
    finally:
        context.close()
    problems.assert_none()
    stack.assert_running()


@pytest.fixture
def phone(chromium: Browser, stack: Stack) -> Iterator[Page]:
    """An old phone: 320 px wide, scripts off (a page must not need them)."""
    context = chromium.new_context(
        viewport=OLD_PHONE, locale="ru-RU", java_script_enabled=False, is_mobile=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = PageProblems(page)
    try:
        yield page
    finally:
        context.close()
    problems.assert_none()
    stack.assert_running()
