"""What every console page is held to in a browser: axe-core finds no serious or critical
accessibility violation, the page fits a phone's width, and it loads without script errors or
missing files. Screenshots at a phone's and a desktop's width are kept for a person to look at
(tests/browser/screenshots/, or $NOTIFIER_SCREENSHOTS; not committed)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import ConsoleMessage, Error, Page, Request, Response, ViewportSize

SCREENSHOTS_ENV = "NOTIFIER_SCREENSHOTS"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
OLD_PHONE = ViewportSize(width=320, height=568)  # the narrowest phone a parent may still use
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
# A page's own files: one of these missing breaks the page (a document that answers 4xx is
# what a test asked for, and htmx's requests answer 4xx to bad input by design).
ASSET_TYPES = frozenset({"stylesheet", "script", "image", "font"})

_axe = Axe()


def check_axe(page: Page) -> dict[str, Any]:
    """Run axe-core on the page as it is now; fail, naming each rule and the elements it found,
    on any violation of impact serious or critical. Returns axe's whole answer."""
    response: dict[str, Any] = _axe.run(page).response
    blocking = [v for v in response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"axe-core: {len(blocking)} serious or critical violations on {page.url}"]
        for violation in blocking:
            lines.append(
                f"- {violation['id']} ({violation['impact']}): {violation['help']}"
                f" <{violation['helpUrl']}>"
            )
            for node in violation["nodes"]:
                summary = " ".join(node.get("failureSummary", "").split())
                lines.append(f"    {_target(node['target'])}: {summary}")
        raise AssertionError("\n".join(lines))
    return response


def _target(target: list[Any]) -> str:
    # A selector per frame or shadow root on the way to the element.
    return " >> ".join(t if isinstance(t, str) else " ".join(t) for t in target)


def screenshot_dir() -> Path:
    chosen = os.environ.get(SCREENSHOTS_ENV)
    return Path(chosen) if chosen else SCREENSHOTS


def screenshot(page: Page, name: str) -> list[Path]:
    """Save the whole page at a phone's width (390x844) and a desktop's (1280x800) as
    `<name>-phone.png` and `<name>-desktop.png`; then fail if the page scrolls sideways on
    the phone. The page's viewport is as before afterwards."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"screenshot name {name!r}: use letters, digits, '.', '-' and '_'")
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    paths: list[Path] = []
    sideways = 0
    try:
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            page.evaluate("document.fonts.ready.then(() => true)")
            if label == "phone":
                sideways = page.evaluate("document.documentElement.scrollWidth") - size["width"]
            path = folder / f"{name}-{label}.png"
            page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
            paths.append(path)
    finally:
        if before is not None:
            page.set_viewport_size(before)
    if sideways > 0:
        raise AssertionError(
            f"{page.url} is {sideways}px wider than a {PHONE['width']}px phone screen and "
            f"scrolls sideways; see {paths[0]}"
        )
    return paths


class PageProblems:
    """Collects what goes wrong while a page runs: uncaught script errors, errors the browser
    logs (a Content-Security-Policy refusal among them), and the page's own files (scripts,
    styles, images, fonts) that did not load."""

    def __init__(self, page: Page) -> None:
        self.found: list[str] = []
        page.on("pageerror", self._on_error)
        page.on("console", self._on_console)
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_failed)

    def _on_error(self, error: Error) -> None:
        self.found.append(f"script error: {error.message}")

    def _on_console(self, message: ConsoleMessage) -> None:
        # The browser logs every 4xx as "Failed to load resource"; _on_response judges those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.found.append(f"console error: {message.text} ({message.location.get('url')})")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type in ASSET_TYPES:
            self.found.append(f"{response.status} for {response.url}")

    def _on_failed(self, request: Request) -> None:
        if request.resource_type in ASSET_TYPES:
            self.found.append(f"{request.failure} for {request.url}")

    def assert_none(self) -> None:
        if self.found:
            raise AssertionError("the page had problems:\n" + "\n".join(self.found))
