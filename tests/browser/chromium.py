"""Which Chromium the browser tests launch, and how: Debian's package by path, because
Playwright's own browser download is not reachable from where the tests run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "NOTIFIER_TEST_CHROMIUM"
INSTALL_HINT = f"chromium not found: apt-get install chromium (or set {ENV})"

# The machine's closed network refuses the connections Chromium makes on its own (updates,
# sync, field trials, QUIC probes); without these flags it stalls or logs errors retrying them.
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=ru-RU",  # the browser's own words (date fields) as a Russian user sees them
)


def missing_reason() -> str:
    """The one line a skipped browser test shows."""
    chosen = os.environ.get(ENV)
    if chosen:
        return f"{ENV}={chosen} is not an executable file: point it at chromium"
    return INSTALL_HINT


def find_chromium() -> Path | None:
    """The executable: $NOTIFIER_TEST_CHROMIUM, else `chromium` on PATH, else Debian's path."""
    chosen = os.environ.get(ENV)
    if chosen:
        path = Path(chosen)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Path(found)
    debian = Path("/usr/bin/chromium")
    return debian if debian.is_file() else None
