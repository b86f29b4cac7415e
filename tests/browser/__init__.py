"""The web console in a real browser: Playwright drives Debian's chromium against a real
`notifier serve`, `notifier worker` and `notifier bot` (conftest.py); axe-core checks each page
and screenshots are kept for a person to look at (checks.py)."""
